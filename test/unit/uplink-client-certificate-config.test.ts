/**
 * The client certificate (mutual TLS) of the connections to the hospital's central broker:
 * `uplink.cert`/`key` in a site config and `broker.cert`/`key` in the hub's (model/uplink-schema.ts,
 * tls/client-certificate-issues.ts). Every problem is listed by path when the config is
 * loaded, never found later as a handshake failure retried for ever.
 */
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSiteConfig, parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import { MqttUplink } from '../../agent/src/export/uplink.ts';
import { loadHubConfig, parseHubConfig } from '../../agent/src/hub/hub-config.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import { siteConfigView } from '../../agent/src/server/config-view.ts';
import { clientCertificateIssues } from '../../agent/src/tls/client-certificate-issues.ts';
import { clientCertificateText } from '../../dashboard/src/client-certificate-text.ts';
import { makeClientCertificate, type ClientCertificate } from '../helpers/client-certificate.ts';
import { configIssuesOf, demoConfigWith } from '../helpers/demo-config.ts';
import { makeHospitalPki, type HospitalPki } from '../helpers/tls.ts';

const run = promisify(execFile);

const UPLINK = { url: 'mqtts://central-mqtt.hospital.example:8883', username: 'ward-4w', password: 'secret' };

function hubText(brokerLines: readonly string[]): string {
  return ['site: { name: St Example Hospital }', 'broker:', '  url: mqtts://central-mqtt.hospital.example:8883', ...brokerLines.map((line) => `  ${line}`)].join('\n');
}

function hubIssuesOf(text: string): string[] {
  const result = parseHubConfig(text);
  if (result.ok) throw new Error('expected the hub config to be rejected');
  return result.issues.map((issue) => `${issue.path}: ${issue.message}`);
}

describe('broker client certificate: checks between fields', () => {
  it('cert and key come together: one without the other is listed by path, in the uplink and in the hub', () => {
    expect(configIssuesOf(demoConfigWith((doc) => (doc.uplink = { ...UPLINK, cert: 'ward-4w.pem' })))).toEqual(['uplink.key: give both cert and key for a client certificate, or neither']);
    expect(configIssuesOf(demoConfigWith((doc) => (doc.uplink = { ...UPLINK, key: 'ward-4w.key' })))).toEqual(['uplink.cert: give both cert and key for a client certificate, or neither']);
    expect(hubIssuesOf(hubText(['cert: hub.pem']))).toEqual(['broker.key: give both cert and key for a client certificate, or neither']);
    expect(hubIssuesOf(hubText(['key: hub.key']))).toEqual(['broker.cert: give both cert and key for a client certificate, or neither']);
  });

  it('a client certificate with plain mqtt:// is refused (there is no handshake to present it in), with the other problems of the section', () => {
    expect(configIssuesOf(demoConfigWith((doc) => (doc.uplink = { url: 'mqtt://127.0.0.1:1883', cert: 'ward-4w.pem', key: 'ward-4w.key' })))).toEqual([
      'uplink.cert: a client certificate is only used with mqtts:// (TLS); use mqtts:// or remove cert and key',
    ]);
    expect(configIssuesOf(demoConfigWith((doc) => (doc.uplink = { url: 'mqtt://127.0.0.1:1883', username: 'ward-4w', ca: 'ca.pem', key: 'ward-4w.key' })))).toEqual([
      'uplink.password: give both username and password, or neither',
      'uplink.ca: a CA file is only used with mqtts:// (TLS); use mqtts:// or remove ca',
      'uplink.cert: give both cert and key for a client certificate, or neither',
      'uplink.key: a client certificate is only used with mqtts:// (TLS); use mqtts:// or remove cert and key',
    ]);
    expect(hubIssuesOf(hubText(['cert: hub.pem', 'key: hub.key']).replace('mqtts://', 'mqtt://'))).toEqual([
      'broker.cert: a client certificate is only used with mqtts:// (TLS); use mqtts:// or remove cert and key',
    ]);
  });

  it('empty paths and unknown fields (no keyPassphrase: the key is given unencrypted) are refused by the schema', () => {
    expect(configIssuesOf(demoConfigWith((doc) => (doc.uplink = { ...UPLINK, cert: '', key: 'k.pem', keyPassphrase: 'x' })))).toEqual([
      'uplink.cert: give the path of a PEM file',
      'uplink: Unrecognized key: "keyPassphrase"',
    ]);
  });

  it('a certificate alone, without username and password, is credentials enough: no "no credentials" warning', () => {
    const site = parseSiteConfig(demoConfigWith((doc) => (doc.uplink = { url: UPLINK.url, cert: 'ward-4w.pem', key: 'ward-4w.key' })));
    if (!site.ok) throw new Error(JSON.stringify(site.issues));
    expect(site.warnings.filter((warning) => warning.path.startsWith('uplink'))).toEqual([]);
    const bare = parseSiteConfig(demoConfigWith((doc) => (doc.uplink = { url: UPLINK.url })));
    expect(bare.ok ? bare.warnings.map((warning) => warning.path) : []).toContain('uplink.username');
    const hub = parseHubConfig(hubText(['cert: hub.pem', 'key: hub.key']));
    expect(hub.ok ? hub.warnings : 'refused').toEqual([]);
  });
});

describe('broker client certificate: the files, checked when the config is loaded', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wardwatch-uplink-client-cert-'));
  const otherDir = mkdtempSync(join(tmpdir(), 'wardwatch-uplink-client-cert-other-'));
  let pki: HospitalPki;
  let ward: ClientCertificate;
  let other: ClientCertificate;
  const siteFile = join(dir, 'site.yaml');
  const hubFile = join(dir, 'hub.yaml');

  beforeAll(async () => {
    pki = await makeHospitalPki(dir);
    ward = await makeClientCertificate(dir, pki, 'ward-4w');
    other = await makeClientCertificate(otherDir, await makeHospitalPki(otherDir), 'ward-4w');
    chmodSync(ward.keyFile, 0o600);
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(otherDir, { recursive: true, force: true });
  });

  function writeSite(cert: string, key: string): void {
    writeFileSync(siteFile, demoConfigWith((doc) => (doc.uplink = { ...UPLINK, ca: 'hospital-ca.pem', cert, key })));
  }

  async function siteIssues(): Promise<string[]> {
    const result = await loadSiteConfig(siteFile);
    if (result.ok) throw new Error('expected the config to be rejected');
    expect(result.stage).toBe('files');
    return result.issues.map((issue) => `${issue.path}: ${issue.message}`);
  }

  it('paths relative to the config file\'s directory are read from there, and a good pair loads without a warning', async () => {
    writeSite('ward-4w.pem', 'ward-4w.key');
    const result = await loadSiteConfig(siteFile);
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.config.uplink).toMatchObject({ ca: pki.caFile, cert: ward.certFile, key: ward.keyFile });
    expect(result.warnings.filter((warning) => warning.path.startsWith('uplink'))).toEqual([]);
  });

  it('a missing file is listed by path, with the CA\'s problem beside it', async () => {
    writeFileSync(siteFile, demoConfigWith((doc) => (doc.uplink = { ...UPLINK, ca: 'no-ca.pem', cert: 'no-such.pem', key: 'ward-4w.key' })));
    expect(await siteIssues()).toEqual([
      `uplink.ca: ${join(dir, 'no-ca.pem')}: file not found`,
      `uplink.cert: ${join(dir, 'no-such.pem')}: file not found`,
    ]);
    writeSite('ward-4w.pem', 'no-such.key');
    expect(await siteIssues()).toEqual([`uplink.key: ${join(dir, 'no-such.key')}: file not found`]);
  });

  it('a file that is not a PEM certificate, or not a key, is listed by path; swapped files are named as such', async () => {
    writeFileSync(join(dir, 'garbage.pem'), 'not a certificate\n');
    writeSite('garbage.pem', 'ward-4w.key');
    expect(await siteIssues()).toEqual([`uplink.cert: ${join(dir, 'garbage.pem')}: not an X.509 certificate (PEM or DER)`]);
    writeSite('ward-4w.pem', 'garbage.pem');
    expect(await siteIssues()).toEqual([`uplink.key: ${join(dir, 'garbage.pem')}: not a private key (PEM or DER)`]);
    writeSite('ward-4w.key', 'ward-4w.pem');
    expect(await siteIssues()).toEqual([`uplink.cert: ${join(dir, 'ward-4w.key')}: not an X.509 certificate (PEM or DER) (it holds a private key: are cert and key swapped?)`]);
  });

  it('a key of another certificate, and an encrypted key (the agent starts unattended: no passphrase), are refused by path', async () => {
    writeSite('ward-4w.pem', other.keyFile);
    expect(await siteIssues()).toEqual([`uplink.key: ${other.keyFile}: this key does not belong to the certificate in ${ward.certFile}`]);
    const encrypted = join(dir, 'encrypted.key');
    await run('openssl', ['pkey', '-in', ward.keyFile, '-out', encrypted, '-aes256', '-passout', 'pass:a passphrase']);
    writeSite('ward-4w.pem', 'encrypted.key');
    const [issue, ...more] = await siteIssues();
    expect(more).toEqual([]);
    expect(issue).toMatch(new RegExp(`^uplink\\.key: ${encrypted.replaceAll('/', '\\/')}: the private key is encrypted; the agent starts unattended, so give it unencrypted`));
  });

  it('the hub\'s broker.cert and broker.key are checked the same way', async () => {
    const hubLines = (cert: string, key: string): string => hubText(['username: wardwatch-hub', 'password: secret', 'ca: hospital-ca.pem', `cert: ${cert}`, `key: ${key}`]);
    writeFileSync(hubFile, hubLines('ward-4w.pem', 'ward-4w.key'));
    const good = await loadHubConfig(hubFile);
    if (!good.ok) throw new Error(JSON.stringify(good.issues));
    expect(good.config.broker).toMatchObject({ cert: ward.certFile, key: ward.keyFile });
    expect(good.warnings).toEqual([]);
    writeFileSync(hubFile, hubLines('garbage.pem', 'ward-4w.key'));
    const bad = await loadHubConfig(hubFile);
    expect(bad.ok ? [] : bad.issues).toEqual([{ path: 'broker.cert', message: `${join(dir, 'garbage.pem')}: not an X.509 certificate (PEM or DER)` }]);
    writeFileSync(hubFile, hubLines('ward-4w.pem', 'missing.key'));
    const missing = await loadHubConfig(hubFile);
    expect(missing.ok ? [] : missing.issues).toEqual([{ path: 'broker.key', message: `${join(dir, 'missing.key')}: file not found` }]);
  });

  it('warns, without stopping, about what only makes the broker refuse the certificate: expired, made for servers only, a key others can read', async () => {
    const later = Date.now() + 400 * 86_400_000;
    expect((await clientCertificateIssues('uplink', { cert: ward.certFile, key: ward.keyFile }, 'broker', later)).warnings.map((warning) => warning.path)).toEqual(['uplink.cert']);
    // makeHospitalPki's server certificate: extendedKeyUsage serverAuth only.
    const serverOnly = await clientCertificateIssues('uplink', { cert: pki.certFile, key: pki.keyFile }, 'broker');
    expect(serverOnly.issues).toEqual([]);
    expect(serverOnly.warnings.map((warning) => `${warning.path}: ${warning.message}`)).toContain('uplink.cert: the certificate is not made for client authentication (its extendedKeyUsage has no clientAuth); the broker will refuse it');
    const readable = join(dir, 'readable.key');
    copyFileSync(ward.keyFile, readable);
    chmodSync(readable, 0o644);
    expect((await clientCertificateIssues('broker', { cert: ward.certFile, key: readable }, 'broker')).warnings.map((warning) => warning.path)).toEqual(['broker.key']);
    writeSite('ward-4w.pem', 'readable.key');
    const loaded = await loadSiteConfig(siteFile);
    expect(loaded.ok ? loaded.warnings.filter((warning) => warning.path.startsWith('uplink')).map((warning) => warning.path) : 'refused').toEqual(['uplink.key']);
  });
});

describe('the uplink\'s client certificate on the configuration page: read once at the uplink\'s start, and said when it could not be', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wardwatch-uplink-client-cert-page-'));
  let ward: ClientCertificate;
  const running: MqttUplink[] = [];

  beforeAll(async () => {
    const pki = await makeHospitalPki(dir);
    ward = await makeClientCertificate(dir, pki, 'ward-4w');
    chmodSync(ward.keyFile, 0o600);
  });
  afterAll(async () => {
    for (const uplink of running) await uplink.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Loads a site config naming `cert` (checked as at the agent's start), then lets `change` alter the files before the uplink starts. */
  async function uplinkAfter(name: string, change: () => void): Promise<{ uplink: MqttUplink; config: SiteConfig; log: string[] }> {
    const cert = join(dir, `${name}.pem`);
    copyFileSync(ward.certFile, cert);
    const siteFile = join(dir, `${name}.yaml`);
    // Port 1 on loopback: nothing answers; the uplink only retries.
    writeFileSync(siteFile, demoConfigWith((doc) => (doc.uplink = { url: 'mqtts://127.0.0.1:1', ca: 'hospital-ca.pem', cert: `${name}.pem`, key: 'ward-4w.key', reconnectMaxSeconds: 1 })));
    const loaded = await loadSiteConfig(siteFile);
    if (!loaded.ok || loaded.config.uplink === undefined) throw new Error(`config refused: ${JSON.stringify(loaded)}`);
    const log: string[] = [];
    const uplink = new MqttUplink({
      config: loaded.config.uplink,
      site: { name: 'Demo General Hospital', ward: '4W' },
      dataDir: mkdtempSync(join(dir, `${name}-data-`)),
      health: () => ({ status: 'ok', reasons: [], startedAt: '', now: '', mqttClients: 0, publishes: 0, anomalies: {}, alerts: 0 }),
      devices: () => [],
      openAlerts: () => [],
      logger: pino({ level: 'debug' }, { write: (line: string) => void log.push(line) }),
    });
    running.push(uplink);
    change();
    return { uplink, config: loaded.config, log };
  }

  function pageOf(config: SiteConfig, uplink: MqttUplink): string {
    return JSON.stringify(siteConfigView(config, { uplinkClientCertificate: uplink.clientCertificate }));
  }

  it('read: "pending" until the start, then its subject and expiry', async () => {
    const { uplink, config } = await uplinkAfter('good', () => {});
    expect(siteConfigView(config, { uplinkClientCertificate: uplink.clientCertificate }).outputs.uplink?.clientCertificate).toEqual({ state: 'pending', subject: null, validTo: null });
    await uplink.start();
    expect(siteConfigView(config, { uplinkClientCertificate: uplink.clientCertificate }).outputs.uplink?.clientCertificate).toMatchObject({ state: 'read', subject: 'O=St Example Hospital, CN=ward-4w' });
  });

  it('changed since the config was checked (no longer a certificate): "unreadable" for as long as the agent runs, the reason in the log only', async () => {
    const { uplink, config, log } = await uplinkAfter('changed', () => writeFileSync(join(dir, 'changed.pem'), 'hello\n'));
    await uplink.start();
    const view = siteConfigView(config, { uplinkClientCertificate: uplink.clientCertificate }).outputs.uplink?.clientCertificate ?? null;
    expect(view).toEqual({ state: 'unreadable', subject: null, validTo: null });
    expect(clientCertificateText(view)).toContain('could not be read (see the agent\'s log)');
    const page = pageOf(config, uplink);
    expect(page).not.toContain(dir);
    expect(page).not.toContain('X.509');
    expect(page).not.toContain(readFileSync(ward.keyFile, 'utf8').split('\n')[1]);
    // The log has what the page leaves out: which file, and what is wrong with it.
    expect(log.join('')).toContain(`${join(dir, 'changed.pem')}: not an X.509 certificate`);
    expect(uplink.stats()).toMatchObject({ connected: false, failures: 1 });
  });

  it('the CA file gone before the start: the certificate was never reached, "not-attempted"', async () => {
    const { uplink, config } = await uplinkAfter('no-ca', () => copyFileSync(join(dir, 'hospital-ca.pem'), join(dir, 'hospital-ca.pem.kept')));
    rmSync(join(dir, 'hospital-ca.pem'));
    try {
      await uplink.start();
    } finally {
      copyFileSync(join(dir, 'hospital-ca.pem.kept'), join(dir, 'hospital-ca.pem'));
    }
    const view = siteConfigView(config, { uplinkClientCertificate: uplink.clientCertificate }).outputs.uplink?.clientCertificate ?? null;
    expect(view).toEqual({ state: 'not-attempted', subject: null, validTo: null });
    expect(clientCertificateText(view)).toContain('not read: the start stopped before it');
    expect(pageOf(config, uplink)).not.toContain(dir);
  });
});
