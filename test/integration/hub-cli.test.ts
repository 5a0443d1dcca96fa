import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, wardwatch, wardwatchWithInput } from '../helpers/cli.ts';
import { agentRequest, sessionCookieOf } from '../helpers/dashboard-client.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { base32Decode, totp } from '../../agent/src/auth/totp.ts';
import type { EnrolmentOffer, HealthView, WardSummaryView } from '../../agent/src/server/dashboard-protocol.ts';

/** A port nothing listens on: the hub starts anyway and keeps trying the broker (monitoring must not wait for it). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('wardwatch hub (command line)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wardwatch-hub-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a bad hub config lists every problem by path, starts nothing and exits 2', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'site: { name: "" }\nbroker: { url: "ftp://central", password: x }\nwards: [4W, 4W]\n');
    const result = await wardwatch('hub', '-c', file, '-d', join(dir, 'never'));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file}: error site.name:`);
    expect(result.stderr).toContain(`${file}: error broker.url: must start with mqtts://`);
    expect(result.stderr).toMatch(/2 problems; nothing was started/);
  });

  it('users are added to the hub\'s own data directory; it serves the dashboard while the broker is away, says so in its health, and stops on SIGTERM', async () => {
    const hubDir = join(dir, 'hub-data');
    const password = 'a long hub passphrase for the test';
    const added = await wardwatchWithInput(password, 'users', 'add', 'rn-central', '--role', 'nurse', '-d', hubDir);
    expect(added.code, added.stderr).toBe(0);
    const file = join(dir, 'hub.yaml');
    writeFileSync(file, `site: { name: St Example Hospital }\nbroker: { url: "mqtt://127.0.0.1:${await closedPort()}", username: hub, password: secret }\nwards: [4W]\ntls: { mode: off }\n`);
    const child = spawn(process.execPath, [CLI, 'hub', '-c', file, '-d', hubDir, '--http-port', '0', '--log-level', 'error']);
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    try {
      const url = await waitFor(() => /dashboard (http:\/\/localhost:(\d+)\/)/.exec(stdout), 20_000, 'the hub\'s start line');
      expect(stdout).toContain('wards from mqtt://127.0.0.1:');
      const host = { tls: null, httpPort: Number(url[2]) };
      // The hub's own users file: a wrong password is refused; the right one starts the enrolment, completed with a real TOTP code.
      expect((await agentRequest(host, 'POST', '/api/login', { body: { username: 'rn-central', password: 'wrong password here' } })).status).toBe(401);
      const offer = await agentRequest(host, 'POST', '/api/login', { body: { username: 'rn-central', password } });
      expect(offer.status).toBe(409);
      const preLogin = offer.setCookies.find((line) => line.startsWith('wardwatch_prelogin=')) ?? '';
      const enrolled = await agentRequest(host, 'POST', '/api/enrol', { cookie: preLogin, body: { code: totp(base32Decode(offer.json<EnrolmentOffer>().enrol.secretBase32), Date.now()) } });
      expect(enrolled.status).toBe(200);
      const cookie = sessionCookieOf(enrolled);
      const health = (await agentRequest(host, 'GET', '/api/health', { cookie })).json<HealthView>();
      expect(health.status).toBe('degraded');
      expect(health.reasons[0]).toMatch(/^the hub is not connected to the central broker/);
      const wards = (await agentRequest(host, 'GET', '/api/wards', { cookie })).json<WardSummaryView[]>();
      expect(wards.map((ward) => [ward.ward, ward.status, ward.uplink])).toEqual([['4W', 'offline', 'unknown']]);
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
