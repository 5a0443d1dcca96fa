import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connectAsync, type MqttClient } from 'mqtt';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertLog } from '../../agent/src/store/alert-log.ts';
import type { AlertView } from '../../agent/src/server/dashboard-protocol.ts';
import { CLI, wardwatch } from '../helpers/cli.ts';
import { MOSQUITTO, missingMosquitto } from '../helpers/mosquitto.ts';
import { missingPeer } from '../helpers/peers.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { freePort } from '../helpers/peer-process.ts';

/**
 * The deployment files against the real programs that read them (issue 8, item 4):
 * deploy/mosquitto/ in Debian's mosquitto (the same major version as eclipse-mosquitto:2),
 * the systemd unit in `systemd-analyze verify` and `security`, the logrotate snippet in
 * logrotate while the agent's own alert log keeps writing, and the container health check
 * against a running agent's /healthz. docker-compose.yml and the Dockerfile themselves are
 * in test/unit/deployment-files.test.ts.
 */

const run = promisify(execFile);

async function runQuietly(file: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(file, [...args], { env, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: typeof failure.code === 'number' ? failure.code : -1, stdout: failure.stdout ?? '', stderr: failure.stderr ?? String(error) };
  }
}

interface SiteAccount {
  readonly username: string;
  readonly password: string;
  readonly role: string;
}

/** The accounts `wardwatch sim fleet` logs in with on the site broker: every device's, and the stations'. */
function simulatorAccounts(): SiteAccount[] {
  const site = parse(readFileSync('config/compose/site.yaml', 'utf8')) as { mqtt: { accounts: SiteAccount[] }; devices: { account: string }[] };
  const deviceAccounts = new Set(site.devices.map((device) => device.account));
  return site.mqtt.accounts.filter((account) => deviceAccounts.has(account.username) || account.role === 'station');
}

function tapAccount(): { username: string; password: string } {
  const site = parse(readFileSync('config/compose/site.yaml', 'utf8')) as { tap: { username: string; password: string } };
  return site.tap;
}

const noMosquitto = missingMosquitto();

describe.skipIf(noMosquitto !== null)('deploy/mosquitto in Debian\'s mosquitto 2 (the tap profile\'s site broker)', () => {
  let dir = '';
  let child: ChildProcess | null = null;
  let port = 0;
  let healthPort = 0;
  let stderr = '';
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wardwatch-compose-mosquitto-'));
    mkdirSync(join(dir, 'data'));
    port = await freePort();
    healthPort = await freePort();
    // The compose file's paths and ports, moved to this test's directory and free ports on loopback.
    const config = readFileSync('deploy/mosquitto/mosquitto.conf', 'utf8')
      .replace(/^listener 1883$/m, `listener ${port} 127.0.0.1`)
      .replace(/^listener 1880 127\.0\.0\.1$/m, `listener ${healthPort} 127.0.0.1`)
      .replaceAll('/mosquitto/config/', `${dir}/`)
      .replaceAll('/mosquitto/data/', `${dir}/data/`);
    expect(config).toContain(`listener ${port} 127.0.0.1`);
    expect(config).toContain(`listener ${healthPort} 127.0.0.1`);
    writeFileSync(join(dir, 'mosquitto.conf'), config);
    copyFileSync('deploy/mosquitto/passwd', join(dir, 'passwd'));
    copyFileSync('deploy/mosquitto/acl', join(dir, 'acl'));
    if (process.getuid?.() === 0) {
      // Started as root, mosquitto drops to user mosquitto before it reads its files (as
      // the image's mosquitto, uid 1883, reads the read-only mounts).
      chmodSync(dir, 0o755);
      await run('chown', ['-R', 'mosquitto:mosquitto', dir]);
    }
    child = spawn(MOSQUITTO, ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    await waitFor(async () => {
      if (child?.exitCode !== null) throw new Error(`mosquitto exited: ${stderr}`);
      try {
        const probe = await connectAsync(`mqtt://127.0.0.1:${healthPort}`, { reconnectPeriod: 0, connectTimeout: 500 });
        await probe.endAsync();
        return true;
      } catch {
        return false;
      }
    }, 10_000, 'mosquitto listening');
  });

  afterAll(async () => {
    for (const client of clients) await client.endAsync(true).catch(() => undefined);
    if (child !== null && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  async function login(username: string | undefined, password: string | undefined, onPort = port): Promise<MqttClient> {
    const client = await connectAsync(`mqtt://127.0.0.1:${onPort}`, {
      ...(username === undefined ? {} : { username }),
      ...(password === undefined ? {} : { password }),
      clientId: `${username ?? 'anonymous'}-${process.pid}-${clients.length}`,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
    });
    clients.push(client);
    return client;
  }

  it('runs docker-compose.yml\'s health check command, which reads $SYS/broker/uptime without a password', async () => {
    const compose = parse(readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as { services: Record<string, { healthcheck: { test: string[] } }> };
    const test = compose.services.mosquitto?.healthcheck.test ?? [];
    expect(test[0]).toBe('CMD');
    // Compose turns $$ into $; the port moves to this test's health listener.
    const [program, ...args] = test.slice(1).map((word) => word.replaceAll('$$', '$')).map((word) => (word === '1880' ? String(healthPort) : word));
    const result = await runQuietly(program as string, args);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+ seconds$/);
  });

  it('refuses an anonymous client on the devices\' listener', async () => {
    await expect(login(undefined, undefined)).rejects.toThrow(/Not authorized|Bad username or password/i);
  });

  it('admits every account the simulated ward logs in with, with config/compose/site.yaml\'s passwords, and the tap', async () => {
    const accounts = simulatorAccounts();
    expect(accounts.length).toBeGreaterThanOrEqual(10);
    for (const account of [...accounts, { ...tapAccount(), role: 'tap' }]) {
      const client = await login(account.username, account.password);
      expect(client.connected, account.username).toBe(true);
    }
    await expect(login('pump-01', 'not-the-password')).rejects.toThrow(/Not authorized|Bad username or password/i);
  });

  it('the tap reads the ward\'s traffic; a device may not command another device', async () => {
    const tap = await login(tapAccount().username, tapAccount().password);
    const seen: string[] = [];
    tap.on('message', (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
    await tap.subscribeAsync('#', { qos: 1 });
    const pump = await login('pump-01', 'demo-pump-01');
    // In order from one client: the forbidden publish first, then an allowed one.
    await pump.publishAsync('ward/pump-02/command', '{"forbidden":true}', { qos: 1 });
    await pump.publishAsync('ward/pump-01/telemetry', '{"ts":"2026-11-28T08:00:00.000Z"}', { qos: 1 });
    await waitFor(() => seen.some((line) => line.startsWith('ward/pump-01/telemetry')), 5_000, 'telemetry at the tap');
    expect(seen.filter((line) => line.startsWith('ward/pump-02/command'))).toEqual([]);
  });

  it('the anonymous health listener reads nothing but the uptime', async () => {
    const anonymous = await login(undefined, undefined, healthPort);
    const leaked: string[] = [];
    anonymous.on('message', (topic) => leaked.push(topic));
    // Mosquitto 2.0 grants the subscription and applies the ACL to each delivery.
    await anonymous.subscribeAsync('ward/#', { qos: 1 });
    const tap = await login(tapAccount().username, tapAccount().password);
    const delivered: string[] = [];
    tap.on('message', (topic) => delivered.push(topic));
    await tap.subscribeAsync('ward/#', { qos: 1 });
    const pump = await login('pump-02', 'demo-pump-02');
    await pump.publishAsync('ward/pump-02/telemetry', '{"ts":"2026-11-28T08:00:00.000Z"}', { qos: 1 });
    await waitFor(() => delivered.includes('ward/pump-02/telemetry'), 5_000, 'telemetry at the tap');
    // The same publish, fanned out at once: the anonymous client would have it by now.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(leaked).toEqual([]);
  });
});

const noSystemdAnalyze = missingPeer('systemd-analyze', 'systemd');

describe.skipIf(noSystemdAnalyze !== null)('deploy/systemd/wardwatch.service in systemd-analyze', () => {
  const UNIT = 'deploy/systemd/wardwatch.service';
  // Its warnings on standard error, whatever journald there is.
  const VERIFY_ENV = { ...process.env, SYSTEMD_LOG_TARGET: 'console' };
  let dir = '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'wardwatch-systemd-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The unit in a directory of its own; verify wants ExecStart's program to exist, so /usr/bin/node becomes this Node where it is elsewhere. */
  function unitCopy(text = readFileSync(UNIT, 'utf8')): string {
    let unit = text;
    try {
      accessSync('/usr/bin/node', constants.X_OK);
    } catch {
      unit = unit.replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `);
    }
    const file = join(dir, 'wardwatch.service');
    writeFileSync(file, unit);
    return file;
  }

  function directives(): Map<string, string[]> {
    const found = new Map<string, string[]>();
    for (const line of readFileSync(UNIT, 'utf8').split('\n')) {
      const match = /^([A-Za-z]+)=(.*)$/.exec(line);
      if (match !== null) found.set(match[1] as string, [...(found.get(match[1] as string) ?? []), (match[2] as string).trim()]);
    }
    return found;
  }

  it('passes `systemd-analyze verify` without a warning', async () => {
    const result = await runQuietly('systemd-analyze', ['verify', unitCopy()], VERIFY_ENV);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('verify catches a misspelt directive (the check can fail)', async () => {
    const result = await runQuietly('systemd-analyze', ['verify', unitCopy(readFileSync(UNIT, 'utf8').replace(/^ProtectSystem=strict$/m, 'ProtectSytem=strict'))], VERIFY_ENV);
    expect(result.stderr).toMatch(/ProtectSytem/);
  });

  it('is hardened: own user, state directory, read-only system, no capability, syscall and address-family filters, memory cap', () => {
    const unit = directives();
    const one = (key: string): string | undefined => unit.get(key)?.at(-1);
    expect(one('DynamicUser') === 'yes' || (one('User') !== undefined && one('User') !== 'root')).toBe(true);
    expect(one('StateDirectory')).toBe('wardwatch');
    expect(one('ExecStart')).toContain('--data-dir /var/lib/wardwatch');
    for (const [key, value] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes'], ['CapabilityBoundingSet', ''], ['AmbientCapabilities', '']] as const) {
      expect(one(key), key).toBe(value);
    }
    expect(unit.get('SystemCallFilter')).toContain('@system-service');
    expect(one('RestrictAddressFamilies')?.split(/\s+/).sort()).toEqual(['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_UNIX']);
    const memoryMax = /^(\d+)M$/.exec(one('MemoryMax') ?? '');
    expect(Number(memoryMax?.[1])).toBeGreaterThan(0);
    expect(Number(memoryMax?.[1])).toBeLessThanOrEqual(1024);
  });

  it('starts the agent with flags `wardwatch agent` knows', async () => {
    const execStart = directives().get('ExecStart')?.at(-1) ?? '';
    const words = execStart.split(/\s+/);
    expect(words.slice(0, 3)).toEqual(['/usr/bin/node', '/opt/wardwatch/bin/wardwatch.js', 'agent']);
    const { stdout } = await wardwatch('agent', '--help');
    expect(words.filter((word) => word.startsWith('--')).filter((flag) => !stdout.includes(flag))).toEqual([]);
  });

  it('has a low exposure level in `systemd-analyze security --offline` (no systemd as PID 1 needed)', async (context) => {
    const result = await runQuietly('systemd-analyze', ['security', '--offline=true', '--no-pager', unitCopy()]);
    if (/unrecognized option|unknown option/i.test(result.stderr)) {
      context.skip(`this systemd-analyze has no --offline (systemd < 250): ${result.stderr.trim()}`);
      return;
    }
    const match = /Overall exposure level for wardwatch\.service: ([\d.]+)/.exec(result.stdout);
    expect(match, result.stdout + result.stderr).not.toBeNull();
    const exposure = Number(match?.[1]);
    console.info(`systemd-analyze security --offline: exposure ${exposure} (0 = most protected, 10 = least)`);
    // 0–2.0 is what systemd calls "OK"; the unit measured 1.2 when written.
    expect(exposure).toBeLessThanOrEqual(2.0);
  });
});

const noLogrotate = missingPeer('logrotate', 'logrotate');

describe.skipIf(noLogrotate !== null)('deploy/logrotate/wardwatch in logrotate', () => {
  function alert(id: string): AlertView {
    return { id, type: 'dose-above-hard-limit', severity: 'critical', ts: '2026-11-28T08:00:00.000Z', lastTs: '2026-11-28T08:00:00.000Z', count: 1, deviceId: 'pump-01', ward: '4W', bed: '1', location: null, title: `alert ${id}`, evidence: {}, state: 'open', ack: null };
  }

  it('rotates alerts.jsonl with copytruncate while the agent\'s alert log keeps writing: the next line starts the new file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wardwatch-logrotate-'));
    const file = join(dir, 'alerts.jsonl');
    const log = new AlertLog(file);
    try {
      log.alertRaised(alert('before-1'));
      log.alertRaised(alert('before-2'));
      // The stream opens the file on its first write.
      await waitFor(() => existsSync(file) && readFileSync(file, 'utf8').split('\n').length === 3, 5_000, 'two lines written');
      const { stdout: user } = await run('id', ['-un']);
      const { stdout: group } = await run('id', ['-gn']);
      const config = readFileSync('deploy/logrotate/wardwatch', 'utf8')
        .replace('/var/lib/wardwatch/alerts.jsonl', file)
        .replace(/^(\s*)su wardwatch wardwatch$/m, process.getuid?.() === 0 ? `$1su ${user.trim()} ${group.trim()}` : '');
      expect(config).toContain(file);
      const configFile = join(dir, 'logrotate.conf');
      writeFileSync(configFile, config);
      const result = await runQuietly('logrotate', ['--force', '--state', join(dir, 'state'), configFile]);
      expect(result.code, result.stderr).toBe(0);
      // delaycompress: the newest rotation stays plain text.
      expect(readFileSync(`${file}.1`, 'utf8').split('\n').filter((line) => line !== '').map((line) => (JSON.parse(line) as { id: string }).id)).toEqual(['before-1', 'before-2']);
      expect(readFileSync(file, 'utf8')).toBe('');
      log.alertRaised(alert('after'));
      const after = await waitFor(() => {
        const text = readFileSync(file, 'utf8');
        return text.length > 0 ? text : null;
      }, 5_000, 'the line after the rotation');
      // O_APPEND: the write lands at the new end of the truncated file, not at the old offset (no NUL hole).
      expect(after.includes('\0')).toBe(false);
      expect((JSON.parse(after.trim()) as { id: string }).id).toBe('after');
    } finally {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy/docker/healthcheck.mjs (the container HEALTHCHECK)', () => {
  const SCRIPT = 'deploy/docker/healthcheck.mjs';

  function check(url: string): Promise<{ code: number; stdout: string; stderr: string }> {
    return runQuietly(process.execPath, [SCRIPT], { ...process.env, WARDWATCH_HEALTH_URL: url });
  }

  it('is healthy while a running agent\'s /healthz answers, unhealthy once the agent is gone', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'wardwatch-healthcheck-'));
    const agent = spawn(process.execPath, [CLI, 'agent', '--config', 'config/demo.yaml', '--data-dir', dataDir, '--mqtt-port', '0', '--mqtts-port', 'off', '--http-port', '0', '--metrics-port', '0', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    agent.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    agent.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const url = await waitFor(() => {
        if (agent.exitCode !== null) throw new Error(`the agent exited: ${output}`);
        const match = /metrics and health on (http:\/\/[^ ]+:\d+)/.exec(output);
        return match === null ? null : `${match[1]}/healthz`;
      }, 30_000, 'the agent\'s metrics address');
      // `--mqtts-port off` reached the agent as off (commander turns a parser's null into '').
      expect(output).not.toContain('MQTT over TLS');
      const healthy = await check(url);
      expect(healthy.code, healthy.stdout).toBe(0);
      expect(healthy.stdout).toMatch(/^healthy: /);
      const exited = new Promise((resolve) => agent.once('exit', resolve));
      agent.kill('SIGTERM');
      await exited;
      const gone = await check(url);
      expect(gone.code).toBe(1);
      expect(gone.stdout).toMatch(/^unhealthy: .* did not answer/);
    } finally {
      if (agent.exitCode === null) agent.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('is unhealthy when /healthz answers 503', async () => {
    const server = createHttpServer((_request, response) => {
      response.writeHead(503, { 'content-type': 'text/plain' });
      response.end('unhealthy: ingest stalled');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const result = await check(`http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('answered 503: unhealthy: ingest stalled');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
