import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDashboardSession } from '../../agent/src/cli/dashboard-session-client.ts';
import { DEMO_PASSWORD, DEMO_TOTP_SECRET_BASE32 } from '../../agent/src/cli/demo-logins.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { CLI, wardwatch } from '../helpers/cli.ts';


describe('wardwatch command line', () => {
  it('config check accepts the demo ward', async () => {
    const result = await wardwatch('config', 'check', 'config/demo.yaml');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/config\/demo\.yaml: OK — Demo General Hospital, ward 4W: 8 devices \(6 pumps\)/);
  });

  it('config check on a bad file lists every problem by path and exits 2 without a stack trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wardwatch-cli-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'site: { name: X }\nmqtt: { accounts: [] }\ndevices: [{ id: pump-1, profile: toaster }]\n');
    try {
      const result = await wardwatch('config', 'check', file);
      expect(result.code).toBe(2);
      for (const path of ['site.ward', 'mqtt.accounts', 'devices[0].profile', 'devices[0].ward', 'devices[0].account', 'drugLibrary', 'policy']) {
        expect(result.stderr).toContain(`error ${path}:`);
      }
      expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
      expect(result.stderr).toMatch(/\d+ problems; references between sections \(devices, accounts, policy, care areas\) are checked once these are fixed; nothing was started/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing config file is a clear error with exit 2', async () => {
    const result = await wardwatch('config', 'check', 'no/such/site.yaml');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no/such/site.yaml: error (file): file not found');
  });

  it.each([[[]], [['demo']], [['agent']], [['sim']], [['sim', 'fleet']], [['sim', 'command']], [['config']], [['config', 'check']]])('%j --help describes itself and exits 0', async (words) => {
    const result = await wardwatch(...words, '--help');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: wardwatch/);
  });

  it('a bad option value is a usage error (exit 2), not a crash', async () => {
    const result = await wardwatch('agent', '--config', 'config/demo.yaml', '--mqtt-port', 'seventy');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("option '--mqtt-port <port>' argument 'seventy' is invalid");
  });

  it('config hash-password makes a hash the agent accepts', async () => {
    const child = spawn(process.execPath, [CLI, 'config', 'hash-password']);
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stdin.end('s3cret-station\n');
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    const hash = stdout.trim();
    expect(hash).toMatch(/^scrypt\$131072\$8\$1\$/);
    const { MqttAccountVerifier } = await import('../../agent/src/ingest/mqtt-account-verifier.ts');
    const verifier = new MqttAccountVerifier([{ username: 'station-9', passwordHash: hash, role: 'station' }]);
    expect(await verifier.verify('station-9', Buffer.from('s3cret-station'))).toEqual({ ok: true, role: 'station' });
    expect(await verifier.verify('station-9', Buffer.from('s3cret-statioN'))).toEqual({ ok: false, reason: 'bad-password' });
  });

  it('demo starts the agent, the ward and the dashboard, prints how to attack it, and stops cleanly on SIGINT', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'wardwatch-demo-'));
    const child = spawn(process.execPath, [CLI, 'demo', '--mqtt-port', '0', '--http-port', '0', '--data-dir', dataDir, '--speed', '30']);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      const url = await waitFor(() => /Dashboard:\s+(http:\/\/localhost:\d+\/)/.exec(stdout)?.[1], 20_000, `dashboard URL (stderr: ${stderr})`);
      expect(stdout).toMatch(/station-4w\s+\/ demo/);
      expect(stdout).toMatch(/guest\s+\/ demo/);
      expect(stdout).toMatch(/mosquitto_pub -h localhost -p \d+ -u station-4w -P demo -t ward\/pump-01\/command -m '\{.*"rate_ml_h":320\}\}'/);
      const page = await fetch(url.replace('localhost', '127.0.0.1'));
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('/assets/app.js');
      // The demo logins are printed, marked demo-only, and work: password and the published secret's code.
      expect(stdout).toContain('Dashboard logins — DEMO ONLY');
      expect(stdout).toMatch(/demo-nurse\s+nurse/);
      expect(stdout).toContain(`password:  ${DEMO_PASSWORD}`);
      const session = await openDashboardSession(url.replace('localhost', '127.0.0.1'), { username: 'demo-nurse', password: DEMO_PASSWORD, totpSecretBase32: DEMO_TOTP_SECRET_BASE32 });
      const devices = await waitFor(async () => {
        const views = (await (await session.get('api/devices')).json()) as { online: boolean }[];
        return views.filter((view) => view.online).length === 8 ? views : null;
      }, 15_000, 'the simulated ward online');
      expect(devices).toHaveLength(8);
      await session.logout();
      expect((await session.get('api/devices')).status).toBe(401);
      // The wall-screen login sees the ward, as the display role, and nothing of the configuration.
      expect(stdout).toMatch(/demo-display\s+display\s/);
      const display = await openDashboardSession(url.replace('localhost', '127.0.0.1'), { username: 'demo-display', password: DEMO_PASSWORD, totpSecretBase32: DEMO_TOTP_SECRET_BASE32 });
      expect(await (await display.get('api/session')).json()).toMatchObject({ user: { name: 'demo-display', role: 'display' } });
      expect((await display.get('api/devices')).status).toBe(200);
      expect((await display.get('api/config')).status).toBe(403);
      await display.logout();
    } finally {
      child.kill('SIGINT');
    }
    const code = await new Promise((resolve) => child.on('close', resolve));
    rmSync(dataDir, { recursive: true, force: true });
    expect(code).toBe(0);
  });
});

describe('wardwatch eval', () => {
  it('scores named scenarios, prints the table and writes it as JSON and Markdown', async () => {
    const out = mkdtempSync(join(tmpdir(), 'wardwatch-eval-'));
    try {
      const result = await wardwatch('eval', 'heparin-dose-tamper', 'benign-large-bolus', '--out', out);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^heparin-dose-tamper\s+dose-above-hard-limit@pump-01 ≤1 s; rate-step-tenfold@pump-01 ≤1 s\s+[0-9a-f]{8}; [0-9a-f]{8}\s+0 ms; 0 ms\s+.+\s+pass$/m);
      expect(result.stdout).toContain('2 scenarios: 2 passed, 0 failed');
      const { readFileSync } = await import('node:fs');
      const json = JSON.parse(readFileSync(join(out, 'eval.json'), 'utf8')) as { scenarios: { scenario: string; result: string }[] };
      expect(json.scenarios.map((row) => [row.scenario, row.result])).toEqual([['heparin-dose-tamper', 'pass'], ['benign-large-bolus', 'pass']]);
      expect(readFileSync(join(out, 'eval.md'), 'utf8')).toMatch(/^\| heparin-dose-tamper \| CVE-2017-12725 \| T0836 \|/m);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('exits 1 when an expected alert is missed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wardwatch-eval-'));
    const file = join(dir, 'quiet-attack.yaml');
    writeFileSync(file, `name: quiet-attack
title: Expects an alert that a pause never causes
models: [{ kind: standard, id: test, reference: "https://example.org/", note: "test" }]
attack: { technique: T0836, name: Modify Parameter }
actors: { station: { kind: mqtt, username: station-4w, wardSession: true } }
steps: [{ at: 1m, actor: station, command: { device: pump-02, command: pause } }]
expect: { alerts: [{ type: dose-above-hard-limit, device: pump-02, within: 2s }] }
`);
    try {
      const result = await wardwatch('eval', file, '--out', dir);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('↳ missed dose-above-hard-limit on pump-02');
      expect(result.stdout).toContain('1 scenarios: 0 passed, 1 failed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a bad scenario file is a clear error with every problem by path, exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wardwatch-eval-'));
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'name: broken\ntitle: x\nsteps: [{ at: later }]\n');
    try {
      const result = await wardwatch('eval', file, '--out', dir);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`${file}: error models:`);
      expect(result.stderr).toContain(`${file}: error steps[0].at: must be a duration`);
      expect(result.stderr).toContain(`${file}: error expect:`);
      expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sim scenario list names every scenario with its source', async () => {
    const result = await wardwatch('sim', 'scenario', 'list');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^rogue-drug-library-push\s+T0843\s+.+\[CVE-2014-5406\]$/m);
    expect(result.stdout).toMatch(/^benign-shift-change\s+benign\s+/m);
    expect(result.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(24);
  });
});
