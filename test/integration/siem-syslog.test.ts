import { mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/src/app.ts';
import { parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import { TRUNCATION_MARK } from '../../agent/src/export/alert-syslog.ts';
import type { SyslogOutboundStats } from '../../agent/src/export/syslog-sink.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import type { AlertView } from '../../agent/src/server/dashboard-protocol.ts';
import { DashboardClient, startTestAgent, temporaryDataDir } from '../helpers/agent-fixture.ts';
import { makeClientCertificate } from '../helpers/client-certificate.ts';
import { demoConfigWith } from '../helpers/demo-config.ts';
import { missingPeer } from '../helpers/peers.ts';
import { Rsyslog } from '../helpers/rsyslog.ts';
import { parseCef, parseSyslogMessage, sdParam, SyslogCollector, type ParsedCef, type ParsedSyslog } from '../helpers/syslog.ts';
import { makeHospitalPki } from '../helpers/tls.ts';
import { waitFor } from '../helpers/wait-for.ts';

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const LOCAL4 = 20;
const LOCAL5 = 21;
const LOCAL6 = 22;
const noRsyslog = missingPeer('rsyslogd', 'rsyslog rsyslog-gnutls');

function configWithSiem(destinations: readonly Record<string, unknown>[]): SiteConfig {
  const result = parseSiteConfig(demoConfigWith((doc) => (doc.siem = { syslog: destinations })));
  if (!result.ok) throw new Error(`siem config refused: ${JSON.stringify(result.issues)}`);
  return result.config;
}

function command(name: string, params: Record<string, unknown>): string {
  return JSON.stringify({ id: `siem-${Math.random().toString(36).slice(2)}`, ts: new Date().toISOString(), issuer: 'station-4w', user: 'rn-it', command: name, params });
}

/** A real alert through the real path: the nurse station programs heparin, then sets ten times the hard limit over MQTT. */
async function raiseDoseAlert(agent: RunningAgent): Promise<AlertView> {
  const station = await connectAsync(`mqtt://127.0.0.1:${agent.mqttPort}`, { username: 'station-4w', password: 'demo', protocolVersion: 4, reconnectPeriod: 0 });
  try {
    await station.publishAsync('ward/pump-01/command', command('program_infusion', { drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' }), { qos: 1 });
    await station.publishAsync('ward/pump-01/command', command('set_rate', { rate_ml_h: 320 }), { qos: 1 });
  } finally {
    await station.endAsync(true);
  }
  return waitFor(() => agent.alerts.list().find((alert) => alert.type === 'dose-above-hard-limit'), 3_000, 'the dose alert');
}

function syslogStats(agent: RunningAgent, name: string): SyslogOutboundStats {
  const channel = agent.outbound.find((candidate) => candidate.name === name);
  if (channel === undefined) throw new Error(`no outbound channel ${name}: ${agent.outbound.map((candidate) => candidate.name).join(', ')}`);
  return channel.stats() as SyslogOutboundStats;
}

/** What every collector must see for the raised dose alert. */
function expectRaisedDoseAlert(message: ParsedSyslog, cef: ParsedCef, alert: AlertView, facility: number): void {
  expect(message).toMatchObject({ facility, severity: 2, hostname: hostname(), appName: 'wardwatch', procId: String(process.pid), msgId: 'alert', bom: true });
  const sentAt = Date.parse(message.timestamp ?? '');
  expect(sentAt).toBeGreaterThanOrEqual(Date.parse(alert.ts) - 1_000);
  expect(sentAt).toBeLessThanOrEqual(Date.now());
  expect(cef).toMatchObject({ version: 0, vendor: 'Wardwatch', product: 'Wardwatch', deviceVersion: PACKAGE_VERSION, signatureId: 'dose-above-hard-limit', name: 'Dose above hard limit', severity: 10 });
  expect(Object.fromEntries(cef.extension)).toMatchObject({
    rt: String(Date.parse(alert.ts)),
    act: 'raised',
    externalId: alert.id,
    deviceExternalId: 'wardwatch-4W',
    dvchost: hostname(),
    src: '127.0.0.1',
    suser: 'station-4w',
    cs1Label: 'ward',
    cs1: '4W',
    cs2Label: 'bed',
    cs2: '1',
    cs3Label: 'deviceId',
    cs3: 'pump-01',
    cs4Label: 'alertId',
    cs4: alert.id,
    msg: alert.title,
  });
  // The evidence stays home: no command, no parameter, no password.
  for (const secret of ['rate_ml_h', 'program_infusion', 'demo-pump', 'password']) expect(message.msg, secret).not.toContain(secret);
}

describe('SIEM export: alerts as RFC 5424 syslog in CEF, from a running agent', () => {
  let data: ReturnType<typeof temporaryDataDir>;
  let agent: RunningAgent | null = null;
  const collectors: SyslogCollector[] = [];

  beforeEach(() => {
    data = temporaryDataDir();
  });

  afterEach(async () => {
    await agent?.stop();
    agent = null;
    await Promise.all(collectors.splice(0).map((collector) => collector.close().catch(() => undefined)));
    data.remove();
  });

  async function collector(make: Promise<SyslogCollector>): Promise<SyslogCollector> {
    const made = await make;
    collectors.push(made);
    return made;
  }

  it('a dose above the hard limit sent over MQTT reaches UDP, TCP and TLS collectors, and so does its acknowledgement', async () => {
    const pki = await makeHospitalPki(data.dir);
    const udp = await collector(SyslogCollector.udp());
    const tcp = await collector(SyslogCollector.stream());
    const tls = await collector(SyslogCollector.stream({ tls: { cert: readFileSync(pki.certFile), key: readFileSync(pki.keyFile) } }));
    agent = await startTestAgent(join(data.dir, 'agent'), configWithSiem([
      { transport: 'udp', target: udp.target },
      { transport: 'tcp', target: tcp.target, facility: 'local5' },
      { transport: 'tls', target: tls.target, ca: pki.caFile, facility: 'local6' },
    ]));
    const running = agent;
    const alert = await raiseDoseAlert(running);

    const facilities = new Map([[udp, LOCAL4], [tcp, LOCAL5], [tls, LOCAL6]]);
    for (const [target, facility] of facilities) {
      const { message, cef } = await target.waitForMessage((_, cef) => cef.signatureId === 'dose-above-hard-limit', 5_000, 'the dose alert');
      expectRaisedDoseAlert(message, cef, alert, facility);
    }

    const nurse = await DashboardClient.logIn(running, join(data.dir, 'agent'), 'nurse');
    const reason = 'Pump checked at the bedside, Mrs Example';
    expect((await nurse.post(`/api/alerts/${alert.id}/ack`, { reason })).status).toBe(200);
    const acknowledged = running.alerts.list().find((candidate) => candidate.id === alert.id);
    for (const [target, facility] of facilities) {
      const { message, cef } = await target.waitForMessage((message) => message.msgId === 'alert-acknowledged', 5_000, 'the acknowledgement');
      // RFC 5424 notice: someone took the alert in hand; the CEF severity stays the alert's.
      expect(message).toMatchObject({ facility, severity: 5 });
      expect(cef).toMatchObject({ signatureId: 'dose-above-hard-limit', name: 'Dose above hard limit (acknowledged)', severity: 10 });
      expect(Object.fromEntries(cef.extension)).toMatchObject({ act: 'acknowledged', suser: nurse.user.username, src: '127.0.0.1', cs4: alert.id, rt: String(Date.parse(acknowledged?.ack?.at ?? '')), start: String(Date.parse(alert.ts)) });
      expect(message.msg).not.toContain('Mrs Example');
      // meta sequenceId counts every message handed to this collector's transport from 1, without a gap.
      expect(target.parsed().map((received) => sdParam(received, 'meta', 'sequenceId'))).toEqual(target.messages.map((_, index) => String(index + 1)));
    }
    for (const target of [tcp, tls]) expect(target.errors).toEqual([]);
    for (const name of [`syslog:udp:${udp.target}`, `syslog:tcp:${tcp.target}`, `syslog:tls:${tls.target}`]) {
      expect(syslogStats(running, name)).toMatchObject({ connected: true, queued: 0, dropped: 0, oldestQueuedAt: null, truncated: 0, formatFailures: 0 });
      expect(syslogStats(running, name).sent).toBeGreaterThanOrEqual(2);
    }
  });

  it('TCP: a collector that goes away and comes back gets what was queued meanwhile; beyond the queue the oldest are dropped, counted, and the sequence shows the gap', async () => {
    const first = await collector(SyslogCollector.stream());
    agent = await startTestAgent(join(data.dir, 'agent'), configWithSiem([{ transport: 'tcp', target: first.target, queueSize: 3 }]));
    const running = agent;
    const name = `syslog:tcp:${first.target}`;
    const raise = (title: string, ts = Date.now()) => running.alerts.raise({ type: 'unauthorized-command', ts, device: null, dedupKey: title, title, evidence: { account: 'guest', address: '127.0.0.1' } });

    raise('before the outage');
    await first.waitForMessage((_, cef) => cef.extension.get('msg') === 'before the outage');
    await first.close();
    await waitFor(() => !syslogStats(running, name).connected, 5_000, 'the agent to notice the collector is gone');

    const awayStart = Date.now();
    for (let i = 1; i <= 5; i += 1) raise(`while away ${i}`, awayStart + i);
    await waitFor(() => syslogStats(running, name).failures >= 1, 10_000, 'a failed reconnection');
    expect(syslogStats(running, name)).toMatchObject({ connected: false, queued: 3, capacity: 3, dropped: 2, oldestQueuedAt: awayStart + 3 });

    const back = await collector(SyslogCollector.stream({ port: first.port }));
    await waitFor(() => back.messages.length >= 3, 20_000, 'the queued messages after the collector came back');
    const received = back.parsed();
    expect(received.map((message) => parseCef(message.msg ?? '').extension.get('msg'))).toEqual(['while away 3', 'while away 4', 'while away 5']);
    expect(received.map((message) => sdParam(message, 'meta', 'sequenceId'))).toEqual(['4', '5', '6']);
    expect(syslogStats(running, name)).toMatchObject({ connected: true, queued: 0, dropped: 2, sent: 4 });
    expect(back.errors).toEqual([]);
  });

  it('UDP: a message over maxMessageBytes arrives cut, marked and parseable, counted; special characters arrive as they were; a port nobody listens on shows as failures', async () => {
    const udp = await collector(SyslogCollector.udp());
    const nobody = await SyslogCollector.udp();
    await nobody.close();
    agent = await startTestAgent(join(data.dir, 'agent'), configWithSiem([
      { transport: 'udp', target: udp.target, maxMessageBytes: 480, facility: 'authpriv' },
      { transport: 'udp', target: nobody.target },
    ]));
    const running = agent;
    const special = 'Bed 9 | "pump" \\ rate=5 [x]\nsecond line\r';
    running.alerts.raise({ type: 'issuer-mismatch', ts: Date.now(), device: null, dedupKey: 'special', title: special, evidence: { account: 'a=b|c\\d', address: '127.0.0.1' } });
    const long = `Bed 10 · ${'héparine ⚕ '.repeat(80)}`;
    running.alerts.raise({ type: 'issuer-mismatch', ts: Date.now(), device: null, dedupKey: 'long', title: long, evidence: {} });

    const exact = await udp.waitForMessage((_, cef) => cef.extension.get('suser') === 'a=b|c\\d', 5_000, 'the special-character alert');
    expect(exact.cef.extension.get('msg')).toBe(special);
    expect(exact.message).toMatchObject({ facility: 10, severity: 3 });
    const cut = await udp.waitForMessage((_, cef) => (cef.extension.get('msg') ?? '').startsWith('Bed 10'), 5_000, 'the long alert');
    expect(cut.bytes.length).toBeLessThanOrEqual(480);
    const msg = cut.cef.extension.get('msg') ?? '';
    expect(msg.endsWith(TRUNCATION_MARK)).toBe(true);
    expect(long.startsWith(msg.slice(0, -TRUNCATION_MARK.length))).toBe(true);
    expect(syslogStats(running, `syslog:udp:${udp.target}`)).toMatchObject({ truncated: 1, sent: 2, dropped: 0, connected: true });
    // RFC 5426 has no acknowledgement: the ICMP "port unreachable" an earlier datagram drew fails a later send, which is counted and retried.
    await waitFor(() => syslogStats(running, `syslog:udp:${nobody.target}`).failures >= 1, 5_000, 'a failed send to the port nobody listens on');
    expect(syslogStats(running, `syslog:udp:${nobody.target}`)).toMatchObject({ connected: false, dropped: 0 });
  });

  it('TLS: a collector whose certificate another CA signed, or that does not name the target, gets nothing; the agent keeps monitoring and counts the failures', async () => {
    const pki = await makeHospitalPki(data.dir);
    const otherDir = join(data.dir, 'other-ca');
    mkdirSync(otherDir);
    const otherPki = await makeHospitalPki(otherDir);
    const serverTls = { cert: readFileSync(pki.certFile), key: readFileSync(pki.keyFile) };
    const good = await collector(SyslogCollector.stream({ tls: serverTls }));
    const untrusted = await collector(SyslogCollector.stream({ tls: serverTls }));
    // The certificate names localhost and 127.0.0.1, not 127.0.0.2.
    const misnamed = await collector(SyslogCollector.stream({ host: '127.0.0.2', tls: serverTls }));
    agent = await startTestAgent(join(data.dir, 'agent'), configWithSiem([
      { transport: 'tls', target: good.target, ca: pki.caFile },
      { transport: 'tls', target: untrusted.target, ca: otherPki.caFile },
      { transport: 'tls', target: misnamed.target, ca: pki.caFile },
    ]));
    const running = agent;
    const alert = await raiseDoseAlert(running);
    const delivered = await good.waitForMessage((_, cef) => cef.signatureId === 'dose-above-hard-limit');
    expectRaisedDoseAlert(delivered.message, delivered.cef, alert, LOCAL4);
    // The set_rate also raised rate-step-tenfold: every alert the agent raised reached the good collector, and waits in the other two queues.
    const raised = running.alerts.list().length;
    await waitFor(() => good.messages.length === raised, 5_000, 'every alert at the good collector');
    for (const name of [`syslog:tls:${untrusted.target}`, `syslog:tls:${misnamed.target}`]) {
      await waitFor(() => syslogStats(running, name).failures >= 2, 10_000, `${name} to fail twice`);
      expect(syslogStats(running, name)).toMatchObject({ connected: false, sent: 0, queued: raised, dropped: 0 });
    }
    // They reached the port and were refused in the handshake, not by the network.
    for (const refused of [untrusted, misnamed]) {
      expect(refused.connectionsSeen).toBeGreaterThanOrEqual(2);
      expect(refused.messages).toEqual([]);
    }
    // Monitoring goes on: the same agent still judges and raises.
    running.alerts.raise({ type: 'retained-command', ts: Date.now(), device: null, dedupKey: 'after', title: 'still monitoring', evidence: {} });
    await good.waitForMessage((_, cef) => cef.signatureId === 'retained-command');
  });

  it.skipIf(noRsyslog !== null)('rsyslogd (gtls, client certificate required) receives the alert over TLS and parses the same RFC 5424 fields', async () => {
    const pki = await makeHospitalPki(data.dir);
    const client = await makeClientCertificate(data.dir, pki);
    const rsyslog = await Rsyslog.startTls(data.dir, pki, 'x509/certvalid');
    try {
      agent = await startTestAgent(join(data.dir, 'agent'), configWithSiem([{ transport: 'tls', target: `127.0.0.1:${rsyslog.port}`, ca: pki.caFile, cert: client.certFile, key: client.keyFile }]));
      const alert = await raiseDoseAlert(agent);
      const record = await waitFor(() => rsyslog.records().find((candidate) => candidate.msgid === 'alert' && candidate.msg.includes('|dose-above-hard-limit|')), 10_000, `rsyslogd to write the alert (its log: ${rsyslog.log})`);
      // Our strict parse of the raw message, and rsyslog's own parse, agree field by field.
      const message = parseSyslogMessage(Buffer.from(record.raw, 'utf8'));
      // The same set_rate also raised rate-step-tenfold: this is the first or second message.
      expect(['1', '2']).toContain(sdParam(message, 'meta', 'sequenceId'));
      expect(record).toMatchObject({ pri: String(message.pri), hostname: message.hostname, appname: 'wardwatch', procid: String(process.pid), msgid: 'alert', sd: `[meta sequenceId="${sdParam(message, 'meta', 'sequenceId') ?? ''}"]`, ts: message.timestamp });
      expect(record.msg).toBe(`\ufeff${message.msg ?? ''}`);
      expectRaisedDoseAlert(message, parseCef(message.msg ?? ''), alert, LOCAL4);
    } finally {
      await agent?.stop();
      agent = null;
      await rsyslog.stop();
    }
  });
});
