import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSiteConfig, parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import { createSyslogSinks } from '../../agent/src/export/syslog-sink.ts';
import { temporaryDataDir } from '../helpers/agent-fixture.ts';
import { makeClientCertificate } from '../helpers/client-certificate.ts';
import { configIssuesOf, demoConfigWith } from '../helpers/demo-config.ts';
import { makeHospitalPki } from '../helpers/tls.ts';

const withSiem = (siem: unknown) => demoConfigWith((doc) => (doc.siem = siem));

describe('siem: in the site config', () => {
  it('is optional; a destination gets facility local4, format cef, a 1,000-message queue and the RFC 5424 BOM by default', () => {
    const none = parseSiteConfig(demoConfigWith(() => undefined));
    expect(none.ok && none.config.siem).toBeUndefined();
    const parsed = parseSiteConfig(withSiem({ syslog: [{ transport: 'udp', target: '127.0.0.1:514' }, { transport: 'tls', target: 'siem.hospital.example:6514', ca: '/etc/wardwatch/siem-ca.pem', facility: 'local6' }] }));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.config.siem?.syslog[0]).toEqual({ transport: 'udp', target: '127.0.0.1:514', facility: 'local4', format: 'cef', queueSize: 1_000, utf8Bom: true });
    expect(parsed.config.siem?.syslog[1]).toMatchObject({ transport: 'tls', facility: 'local6', ca: '/etc/wardwatch/siem-ca.pem' });
    const sinks = createSyslogSinks(parsed.config.siem, parsed.config.site.ward, pino({ level: 'silent' }));
    expect(sinks.map((sink) => sink.name)).toEqual(['syslog:udp:127.0.0.1:514', 'syslog:tls:siem.hospital.example:6514']);
    expect(sinks.map((sink) => sink.stats())).toMatchObject([{ connected: false, queued: 0, capacity: 1_000, sent: 0, dropped: 0, failures: 0, oldestQueuedAt: null, truncated: 0 }, { capacity: 1_000 }]);
  });

  it('lists every structural problem by path', () => {
    expect(configIssuesOf(withSiem({ syslog: [
      { transport: 'relp', target: 'x:1' },
      { transport: 'tcp', target: 'siem.hospital.example' },
      { transport: 'udp', target: 'h:0', facility: 'kern' },
      { transport: 'tcp', target: '[10.0.0.1]:514', format: 'leef' },
      { transport: 'udp', target: 'h:514', queueSize: 0, maxMessageBytes: 100, extra: 1 },
    ] }))).toEqual([
      'siem.syslog[0].transport: must be udp, tcp or tls',
      'siem.syslog[1].target: must be host:port, e.g. siem-collector.hospital.example:6514 or [fd00::5]:514',
      'siem.syslog[2].target: port 0 is not 1–65535',
      'siem.syslog[2].facility: must be one of user, daemon, auth, authpriv, local0, local1, local2, local3, local4, local5, local6, local7',
      'siem.syslog[3].target: 10.0.0.1 in brackets is not an IPv6 address',
      'siem.syslog[3].format: must be cef (the only format so far)',
      'siem.syslog[4].queueSize: Too small: expected number to be >=1',
      'siem.syslog[4].maxMessageBytes: Too small: expected number to be >=480',
      'siem.syslog[4]: Unrecognized key: "extra"',
    ]);
    expect(configIssuesOf(withSiem({ syslog: [] }))).toEqual(['siem.syslog: give at least one syslog destination']);
  });

  it('checks the fields against each other: TLS needs a CA, cert and key go together, TLS files only with TLS, no destination twice', () => {
    expect(configIssuesOf(withSiem({ syslog: [
      { transport: 'tls', target: 'siem.hospital.example:6514', cert: 'client.pem' },
      { transport: 'udp', target: '127.0.0.1:514', ca: 'ca.pem', key: 'k.pem' },
      { transport: 'udp', target: '127.0.0.1:514' },
    ] }))).toEqual([
      'siem.syslog[0].ca: required with transport tls: the PEM file of the CA that signed the collector\'s certificate',
      'siem.syslog[0].key: give both cert and key for a client certificate, or neither',
      'siem.syslog[1].ca: only used with transport tls, not udp',
      'siem.syslog[1].key: only used with transport tls, not udp',
      'siem.syslog[2].target: duplicate destination udp 127.0.0.1:514',
    ]);
  });

  it('warns about plain syslog to another machine, not to this one', () => {
    const parsed = parseSiteConfig(withSiem({ syslog: [{ transport: 'udp', target: '10.9.0.5:514' }, { transport: 'tcp', target: '127.0.0.1:514' }, { transport: 'tcp', target: 'siem.hospital.example:514' }] }));
    expect(parsed.ok && parsed.warnings.filter((warning) => warning.path.startsWith('siem')).map((warning) => `${warning.path}: ${warning.message}`)).toEqual([
      'siem.syslog[0].transport: udp to another machine: alerts (device, bed, accounts) cross the network unencrypted and a lost datagram is not noticed; use tls (RFC 5425)',
      'siem.syslog[2].transport: tcp to another machine: alerts (device, bed, accounts) cross the network unencrypted; use tls (RFC 5425)',
    ]);
  });
});

describe('siem files, checked when the config is loaded', () => {
  let data: ReturnType<typeof temporaryDataDir>;
  beforeEach(() => {
    data = temporaryDataDir();
  });
  afterEach(() => data.remove());

  it('relative paths are read from the config file\'s directory; a missing CA or a key that is not the certificate\'s is an error by path', async () => {
    const pki = await makeHospitalPki(data.dir);
    const client = await makeClientCertificate(data.dir, pki);
    const siteDir = join(data.dir, 'etc');
    mkdirSync(siteDir);
    const site = join(siteDir, 'site.yaml');
    writeFileSync(site, withSiem({ syslog: [{ transport: 'tls', target: '127.0.0.1:6514', ca: '../hospital-ca.pem', cert: client.certFile, key: client.keyFile }] }));
    const good = await loadSiteConfig(site);
    expect(good.ok).toBe(true);
    expect(good.ok && good.config.siem?.syslog[0]?.ca).toBe(pki.caFile);

    writeFileSync(site, withSiem({ syslog: [
      { transport: 'tcp', target: '127.0.0.1:514' },
      { transport: 'tls', target: '127.0.0.1:6514', ca: 'missing-ca.pem' },
      { transport: 'tls', target: '127.0.0.1:6515', ca: pki.keyFile, cert: client.certFile, key: pki.keyFile },
    ] }));
    const bad = await loadSiteConfig(site);
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.stage).toBe('files');
    expect(!bad.ok && bad.issues.map((issue) => `${issue.path}: ${issue.message}`)).toEqual([
      `siem.syslog[1].ca: ${join(siteDir, 'missing-ca.pem')}: file not found`,
      `siem.syslog[2].ca: ${pki.keyFile}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file`,
      `siem.syslog[2].key: ${pki.keyFile}: this key does not belong to the certificate in ${client.certFile}`,
    ]);
  });
});
