import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/src/app.ts';
import { base32Encode } from '../../agent/src/auth/totp.ts';
import { addTestUser, startTestAgent, temporaryDataDir } from '../helpers/agent-fixture.ts';

const run = promisify(execFile);

/** A fresh dashboard user for one scoring run: `--user` and its password and TOTP secret in the environment. */
async function scorer(dataDir: string): Promise<{ readonly args: string[]; readonly env: NodeJS.ProcessEnv }> {
  const user = await addTestUser(dataDir, 'nurse');
  return { args: ['--user', user.username], env: { ...process.env, WARDWATCH_PASSWORD: user.password, WARDWATCH_TOTP_SECRET: base32Encode(user.secret ?? Buffer.alloc(0)) } };
}

/**
 * Parity of the two ways a scenario runs: the same files the evaluation plays in virtual
 * time, played live by `wardwatch sim scenario run` over real MQTT against the real agent
 * (embedded aedes: real logins, refusals, subscriptions, sockets), scored from its API.
 */
describe('sim scenario run against a running agent', () => {
  const data = temporaryDataDir();
  let agent: RunningAgent;

  beforeAll(async () => {
    agent = await startTestAgent(data.dir);
  });

  afterAll(async () => {
    await agent.stop();
    data.remove();
  });

  it.each(['pacing-asynchronous-mode', 'wildcard-subscription', 'retained-command', 'connect-flood', 'credential-brute-force-rotating-ids'])('%s is detected live as in the evaluation', async (name) => {
    const login = await scorer(data.dir);
    const { stdout } = await run(process.execPath, [
      'bin/wardwatch.js', 'sim', 'scenario', 'run', name,
      '--broker', `mqtt://127.0.0.1:${agent.mqttPort}`,
      '--agent', `http://127.0.0.1:${agent.httpPort}/`,
      ...login.args,
    ], { env: login.env }).catch((error: { stdout: string; stderr: string }) => {
      throw new Error(`scenario run failed:\n${error.stdout}\n${error.stderr}`);
    });
    expect(stdout).toMatch(/^detected /m);
    expect(stdout).not.toMatch(/^MISSED/m);
    expect(stdout.trimEnd().split('\n').at(-1)).toBe('PASS');
  });

  it('a live run skips the ward events only an evaluation can stage, and says so', async () => {
    const { stdout } = await run(process.execPath, ['bin/wardwatch.js', 'sim', 'scenario', 'run', 'benign-occlusion-restart', '--broker', `mqtt://127.0.0.1:${agent.mqttPort}`]);
    expect(stdout).toContain('benign-occlusion-restart: SKIPPED on a live run: step 1 stages a ward event, which needs the evaluation\'s own simulated ward. Run it with `wardwatch eval benign-occlusion-restart`.');
  });

  it('--agent without a dashboard login is refused before anything is played, with what to give', async () => {
    const failure = await run(process.execPath, ['bin/wardwatch.js', 'sim', 'scenario', 'run', 'wildcard-subscription', '--broker', `mqtt://127.0.0.1:${agent.mqttPort}`, '--agent', `http://127.0.0.1:${agent.httpPort}/`], { env: { ...process.env, WARDWATCH_PASSWORD: '', WARDWATCH_TOTP_SECRET: '' } }).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toContain('needs a dashboard login: --user NAME with the password in WARDWATCH_PASSWORD');
    const wrong = await run(process.execPath, ['bin/wardwatch.js', 'sim', 'scenario', 'run', 'wildcard-subscription', '--broker', `mqtt://127.0.0.1:${agent.mqttPort}`, '--agent', `http://127.0.0.1:${agent.httpPort}/`, '--user', 'nobody', '--code', '123456'], { env: { ...process.env, WARDWATCH_PASSWORD: 'not the password' } }).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    expect(wrong?.code).toBe(1);
    expect(wrong?.stderr).toContain('login to http://127.0.0.1:');
    expect(wrong?.stderr).toContain('refused: Wrong username, password or code.');
  });
});

describe('a Modbus scenario run live through the agent\'s gateway', () => {
  it('modbus-force-listen-only: FC8/4 from this host reaches the gateway and is detected as in the evaluation', async () => {
    const { startModbusPump } = await import('../helpers/modbus-ward.ts');
    const { readFileSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { parse, stringify } = await import('yaml');
    const { parseSiteConfig } = await import('../../agent/src/config/load-site-config.ts');
    const pump = await startModbusPump();
    const data = temporaryDataDir();
    const doc = parse(readFileSync('config/demo.yaml', 'utf8')) as Record<string, any>;
    doc.modbus.gateways = [{ device: 'pump-03', listenPort: 0, target: `127.0.0.1:${pump.server.port}` }];
    const configFile = join(data.dir, 'site.yaml');
    writeFileSync(configFile, stringify(doc));
    const parsed = parseSiteConfig(stringify(doc));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    const agent = await startTestAgent(data.dir, parsed.config);
    try {
      const login = await scorer(data.dir);
      const { stdout } = await run(process.execPath, [
        'bin/wardwatch.js', 'sim', 'scenario', 'run', 'modbus-force-listen-only',
        '--config', configFile,
        '--broker', `mqtt://127.0.0.1:${agent.mqttPort}`,
        '--modbus-port', String(agent.modbusPorts.get('pump-03')),
        '--agent', `http://127.0.0.1:${agent.httpPort}/`,
        ...login.args,
      ], { env: login.env });
      expect(stdout).toMatch(/^detected modbus-diagnostic-command in \d+ ms: Bed 3 · pump-03: Modbus diagnostics force-listen-only-mode \(FC8\/4\) from 127\.0\.0\.1/m);
      expect(stdout.trimEnd().split('\n').at(-1)).toBe('PASS');
    } finally {
      await agent.stop();
      await pump.stop();
      data.remove();
    }
  });
});
