import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSiteConfig, parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import { loadHubConfig, parseHubConfig } from '../../agent/src/hub/hub-config.ts';
import { configIssuesOf, demoConfigWith } from '../helpers/demo-config.ts';

const UPLINK = { url: 'mqtts://central-mqtt.hospital.example:8883', username: 'ward-4w', password: 'secret' };

function hubIssuesOf(text: string): string[] {
  const result = parseHubConfig(text);
  if (result.ok) throw new Error('expected the hub config to be rejected');
  return result.issues.map((issue) => `${issue.path}: ${issue.message}`);
}

describe('site config: the uplink section (many wards)', () => {
  it('is optional; given, it takes defaults for the prefix, queue, intervals and a client id from the ward', () => {
    const none = parseSiteConfig(demoConfigWith(() => undefined));
    expect(none.ok && none.config.uplink).toBe(undefined);
    const result = parseSiteConfig(demoConfigWith((doc) => (doc.uplink = UPLINK)));
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.config.uplink).toEqual({ ...UPLINK, topicPrefix: 'wardwatch', maxQueuedAlerts: 10_000, healthIntervalSeconds: 15, reconnectMaxSeconds: 30 });
    expect(result.warnings.filter((warning) => warning.path.startsWith('uplink'))).toEqual([]);
  });

  it('lists every problem by path: scheme, credentials in the URL, a wildcard prefix, a half login, a CA without TLS, a ward that cannot be a topic level', () => {
    expect(configIssuesOf(demoConfigWith((doc) => (doc.uplink = { ...UPLINK, url: 'http://central:8883', topicPrefix: 'ward/#', maxQueuedAlerts: 0 })))).toEqual([
      'uplink.url: must start with mqtts:// (or mqtt:// for a broker on this machine), not http://',
      'uplink.topicPrefix: must be topic levels of letters, digits, ".", "_" or "-" separated by "/", e.g. wardwatch or hospital/wardwatch (no wildcards, no leading "$" or "/")',
      'uplink.maxQueuedAlerts: Too small: expected number to be >=1',
    ]);
    expect(configIssuesOf(demoConfigWith((doc) => (doc.uplink = { ...UPLINK, url: 'mqtts://ward:secret@central:8883' })))).toEqual([
      'uplink.url: give username and password as their own fields, not in the URL (URLs end up in logs)',
    ]);
    expect(configIssuesOf(demoConfigWith((doc) => {
      doc.site.ward = '4 West';
      doc.uplink = { url: 'mqtt://127.0.0.1:1883', username: 'ward-4w', ca: 'ca.pem' };
    }))).toEqual([
      'uplink.password: give both username and password, or neither',
      'uplink.ca: a CA file is only used with mqtts:// (TLS); use mqtts:// or remove ca',
      'site.ward: with an uplink the ward name is an MQTT topic level and a word of the central broker\'s ACL: 1–32 letters, digits, ".", "_" or "-"',
    ]);
  });

  it('refuses a ward that would connect with the hub\'s client id (a broker keying sessions by client id would hand it the hub\'s queue)', () => {
    expect(configIssuesOf(demoConfigWith((doc) => {
      doc.site.ward = 'hub';
      doc.uplink = UPLINK;
    }))).toEqual(['site.ward: with an uplink, ward "hub" would connect as "wardwatch-hub", the hub\'s client id: name the ward otherwise or set uplink.clientId']);
    expect(configIssuesOf(demoConfigWith((doc) => (doc.uplink = { ...UPLINK, clientId: 'wardwatch-hub' })))).toEqual(['uplink.clientId: "wardwatch-hub" is the hub\'s client id: a ward must not use it']);
    const renamed = parseSiteConfig(demoConfigWith((doc) => {
      doc.site.ward = 'hub';
      doc.uplink = { ...UPLINK, clientId: 'wardwatch-ward-hub' };
    }));
    expect(renamed.ok).toBe(true);
  });

  it('warns about plain MQTT to another machine and about a broker without credentials', () => {
    const result = parseSiteConfig(demoConfigWith((doc) => (doc.uplink = { url: 'mqtt://central-mqtt:1883' })));
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.warnings.filter((warning) => warning.path.startsWith('uplink')).map((warning) => warning.path)).toEqual(['uplink.url', 'uplink.username']);
  });

  describe('the CA file, checked when the config is loaded', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wardwatch-uplink-config-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('a missing or empty CA file stops the load, with its path; a relative path is read from the config\'s directory', async () => {
      const file = join(dir, 'site.yaml');
      writeFileSync(file, demoConfigWith((doc) => (doc.uplink = { ...UPLINK, ca: 'hospital-ca.pem' })));
      const missing = await loadSiteConfig(file);
      expect(missing.ok ? [] : missing.issues).toEqual([{ path: 'uplink.ca', message: `${join(dir, 'hospital-ca.pem')}: file not found` }]);
      writeFileSync(join(dir, 'hospital-ca.pem'), 'not a certificate\n');
      const empty = await loadSiteConfig(file);
      expect(empty.ok ? [] : empty.issues.map((issue) => issue.message)).toEqual([`${join(dir, 'hospital-ca.pem')}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file`]);
    });
  });
});

describe('hub config', () => {
  const minimal = ['site: { name: St Example Hospital }', 'broker:', '  url: mqtts://central-mqtt:8883', '  username: wardwatch-hub', '  password: secret'].join('\n');

  it('takes defaults: client id wardwatch-hub, prefix wardwatch, no expected wards, 10,000 alerts in memory, the agent\'s dashboard settings', () => {
    const result = parseHubConfig(minimal);
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.config.broker).toMatchObject({ clientId: 'wardwatch-hub', topicPrefix: 'wardwatch', reconnectMaxSeconds: 30 });
    expect(result.config.wards).toEqual([]);
    expect(result.config.maxAlerts).toBe(10_000);
    expect(result.config.dashboard.sessionIdleMinutes).toBe(15);
    expect(result.warnings).toEqual([]);
  });

  it('lists every problem by path', () => {
    expect(hubIssuesOf(['site: {}', 'broker:', '  url: mqtt://user:pw@central', '  topicPrefix: $SYS', 'wards: [4W, "5 East"]', 'maxAlerts: 5', 'tls: { mode: sometimes }', 'extra: 1'].join('\n'))).toEqual([
      'site.name: Invalid input: expected string, received undefined',
      'broker.url: give username and password as their own fields, not in the URL (URLs end up in logs)',
      'broker.topicPrefix: must be topic levels of letters, digits, ".", "_" or "-" separated by "/", e.g. wardwatch or hospital/wardwatch (no wildcards, no leading "$" or "/")',
      'wards[1]: must be a ward name as in its agent\'s site.ward: 1–32 letters, digits, ".", "_" or "-"',
      'maxAlerts: Too small: expected number to be >=100',
      'tls.mode: must be self-signed, files or off (or give cert and key)',
      '(root): Unrecognized key: "extra"',
    ]);
    expect(hubIssuesOf(`${minimal}\n  ca: ca.pem\nwards: [4W, 4W]`.replace('mqtts://', 'mqtt://'))).toEqual([
      'broker.ca: a CA file is only used with mqtts:// (TLS); use mqtts:// or remove ca',
      'wards[1]: duplicate ward "4W"',
    ]);
  });

  it('a missing file and a missing CA file are reported by path, not thrown', async () => {
    expect(await loadHubConfig('/nonexistent/hub.yaml')).toEqual({ ok: false, issues: [{ path: '(file)', message: 'file not found' }] });
    const dir = mkdtempSync(join(tmpdir(), 'wardwatch-hub-config-'));
    try {
      writeFileSync(join(dir, 'hub.yaml'), `${minimal}\n  ca: missing-ca.pem\n`);
      const result = await loadHubConfig(join(dir, 'hub.yaml'));
      expect(result.ok ? [] : result.issues).toEqual([{ path: 'broker.ca', message: `${join(dir, 'missing-ca.pem')}: file not found` }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
