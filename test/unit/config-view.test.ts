/**
 * The read-only site configuration page's data (GET /api/config, agent/src/server/config-view.ts):
 * what a biomed sees of the inventory, drug library, policy, accounts and outputs, and
 * that no secret of the config reaches it (DESIGN.md: the monitor must never become the leak).
 */
import { describe, expect, it } from 'vitest';
import { USER_ROLES } from '../../agent/src/auth/roles.ts';
import { parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import { accessFor, roleMay } from '../../agent/src/server/access.ts';
import { siteConfigView } from '../../agent/src/server/config-view.ts';
import type { SiteConfigView } from '../../agent/src/server/dashboard-protocol.ts';
import { clientCertificateText } from '../../dashboard/src/client-certificate-text.ts';
import { demoConfigWith, loadDemoConfig } from '../helpers/demo-config.ts';

/** Every secret a site config can hold, each a string found nowhere else in the config. */
const SECRETS = {
  accountPassword: 'acct-pw-7QxZr2',
  accountHash: 'scrypt$16384$8$1$U2FsdFNhbHRTYWx0$S2V5S2V5S2V5S2V5S2V5',
  tapPassword: 'tap-pw-9LmWq4',
  influxUser: 'influx-writer-k3',
  influxPassword: 'influx-pw-2HsPv8',
  uplinkUser: 'uplink-4w-u5',
  uplinkPassword: 'uplink-pw-6TnBc1',
  tlsKeyFile: '/etc/wardwatch/tls/agent-secret.key',
  syslogKeyFile: '/etc/wardwatch/siem/client-secret.key',
  uplinkKeyFile: '/etc/wardwatch/uplink/ward-4w-secret.key',
  uplinkCertFile: '/etc/wardwatch/uplink/ward-4w-where.pem',
} as const;

function configFullOfSecrets(): SiteConfig {
  const text = demoConfigWith((doc) => {
    const accounts = doc['mqtt']['accounts'] as Record<string, unknown>[];
    accounts.forEach((account, index) => {
      account['password'] = `${SECRETS.accountPassword}-${index}`;
    });
    delete accounts[0]?.['password'];
    if (accounts[0] !== undefined) accounts[0]['passwordHash'] = SECRETS.accountHash;
    doc['tap'] = { username: 'wardwatch-tap', password: SECRETS.tapPassword };
    doc['influxdb'] = { url: 'https://influxdb.hospital.example:8086', database: 'wardwatch_4w', username: SECRETS.influxUser, password: SECRETS.influxPassword };
    doc['uplink'] = { url: 'mqtts://central-mqtt.hospital.example:8883', username: SECRETS.uplinkUser, password: SECRETS.uplinkPassword, cert: SECRETS.uplinkCertFile, key: SECRETS.uplinkKeyFile };
    doc['tls'] = { cert: '/etc/wardwatch/tls/agent.pem', key: SECRETS.tlsKeyFile };
    doc['siem'] = {
      syslog: [
        { transport: 'tls', target: 'siem-collector.hospital.example:6514', ca: '/etc/wardwatch/siem/ca.pem', cert: '/etc/wardwatch/siem/client.pem', key: SECRETS.syslogKeyFile },
        { transport: 'udp', target: '127.0.0.1:514' },
      ],
    };
  });
  const result = parseSiteConfig(text);
  if (!result.ok) throw new Error(`test config refused: ${JSON.stringify(result.issues)}`);
  return result.config;
}

/** Every property name anywhere in a JSON value. */
function keysOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(keysOf);
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]) => [key, ...keysOf(inner)]);
}

describe('site configuration view', () => {
  it('never carries a secret: no password, hash, key, key file or credential user', () => {
    const config = configFullOfSecrets();
    // The config does hold them (or this test would prove nothing).
    const whole = JSON.stringify(config);
    for (const secret of Object.values(SECRETS)) expect(whole).toContain(secret);

    const served = JSON.stringify(siteConfigView(config, { uplinkClientCertificate: { state: 'read', subject: 'O=St Example Hospital, CN=ward-4w', validTo: '2027-01-31T12:00:00.000Z' } }));
    for (const secret of Object.values(SECRETS)) expect(served).not.toContain(secret);
    for (const account of config.mqtt.accounts) if (account.password !== undefined) expect(served).not.toContain(account.password);
    // The one name allowed: the uplink's client certificate, shown by its subject and expiry only (checked below).
    expect(keysOf(JSON.parse(served)).filter((key) => key !== 'clientCertificate' && /pass|hash|secret|key|token|cert|\bca\b/i.test(key))).toEqual([]);
    expect((JSON.parse(served) as SiteConfigView).outputs.uplink?.clientCertificate).toEqual({ state: 'read', subject: 'O=St Example Hospital, CN=ward-4w', validTo: '2027-01-31T12:00:00.000Z' });
  });

  it('shows the outputs that are on, without their credentials', () => {
    const view = siteConfigView(configFullOfSecrets());
    expect(view.outputs).toEqual({
      influxdb: { url: 'https://influxdb.hospital.example:8086', database: 'wardwatch_4w' },
      syslog: [{ transport: 'tls', target: 'siem-collector.hospital.example:6514' }, { transport: 'udp', target: '127.0.0.1:514' }],
      // Configured, not read yet (the uplink reads it at its start): said, with no subject.
      uplink: { url: 'mqtts://central-mqtt.hospital.example:8883', topicPrefix: 'wardwatch', clientCertificate: { state: 'pending', subject: null, validTo: null } },
    });
    const withoutCertificate = parseSiteConfig(demoConfigWith((doc) => (doc['uplink'] = { url: 'mqtts://central-mqtt.hospital.example:8883' })));
    if (!withoutCertificate.ok) throw new Error(JSON.stringify(withoutCertificate.issues));
    expect(siteConfigView(withoutCertificate.config).outputs.uplink?.clientCertificate).toBeNull();
    expect(view.mqtt.accounts[0]).toEqual({ username: 'station-4w', role: 'station', description: 'Nurse station, ward 4W (demo)' });
  });

  it('a client certificate the uplink could not read is said as such, not "not read yet" for ever, and carries nothing of why', () => {
    const config = configFullOfSecrets();
    const pending = siteConfigView(config).outputs.uplink?.clientCertificate ?? null;
    // Whatever the output holds beside the state, only the state reaches the page until the certificate is read.
    const unreadable = siteConfigView(config, { uplinkClientCertificate: { state: 'unreadable', subject: SECRETS.uplinkCertFile, validTo: 'ENOENT' } }).outputs.uplink?.clientCertificate ?? null;
    const notAttempted = siteConfigView(config, { uplinkClientCertificate: { state: 'not-attempted', subject: null, validTo: null } }).outputs.uplink?.clientCertificate ?? null;
    expect([pending, unreadable, notAttempted]).toEqual([
      { state: 'pending', subject: null, validTo: null },
      { state: 'unreadable', subject: null, validTo: null },
      { state: 'not-attempted', subject: null, validTo: null },
    ]);
    expect(clientCertificateText(pending)).toBe(', client certificate (not read yet)');
    expect(clientCertificateText(unreadable)).toBe(', client certificate could not be read (see the agent\'s log); not connecting');
    expect(clientCertificateText(notAttempted)).toBe(', client certificate not read: the start stopped before it (see the agent\'s log); not connecting');
    expect(clientCertificateText({ state: 'read', subject: 'O=St Example Hospital, CN=ward-4w', validTo: '2027-01-31T12:00:00.000Z' })).toBe(', client certificate O=St Example Hospital, CN=ward-4w, valid until 2027-01-31');
    expect(clientCertificateText(null)).toBe('');
  });

  it('shows the demo ward: site, inventory, drug limits and policy as config/demo.yaml has them', () => {
    const view = siteConfigView(loadDemoConfig());
    expect(view.site).toEqual({ name: 'Demo General Hospital', ward: '4W', timezone: 'UTC' });
    expect(view.devices).toHaveLength(8);
    expect(view.devices[0]).toEqual({ id: 'pump-01', profile: 'infusion-pump', ward: '4W', bed: '1', location: null, careArea: 'ICU', account: 'pump-01', modbusTarget: null, spare: false });
    expect(view.devices[6]).toMatchObject({ id: 'prog-01', bed: null, location: 'EP clinic room 1', careArea: null });
    expect(view.drugLibrary.version).toBe('4W-2026.11-demo');
    expect(view.drugLibrary.careAreas.map((area) => area.name)).toEqual(['ICU', 'Med-Surg']);
    const heparinIcu = view.drugLibrary.careAreas[0]?.drugs.find((drug) => drug.drug === 'heparin');
    expect(heparinIcu).toEqual({
      drug: 'heparin',
      concentration: { amount: 25000, unit: 'units', volumeMl: 250 },
      doseUnit: 'units/kg/h',
      softMin: 5,
      softMax: 25,
      hardMin: null,
      hardMax: 40,
      highAlert: true,
      bolus: { unit: 'units/kg', softMin: null, softMax: 80, hardMin: null, hardMax: 100 },
    });
    expect(view.drugLibrary.careAreas[1]?.drugs.find((drug) => drug.drug === 'heparin')?.hardMax).toBe(35);
    expect(view.policy.map((rule) => rule.id)).toEqual(['4w-station-programs-pumps', 'ep-clinic-programs-implants', 'modbus-station-programs-pumps', 'pharmacy-pushes-drug-libraries', 'vendor-pushes-programmer-software']);
    expect(view.policy[2]).toMatchObject({ accounts: [], roles: [], addresses: ['10.4.0.10'], devices: { ids: [], profile: 'infusion-pump', ward: '4W' } });
    expect(view.outputs).toEqual({ influxdb: null, syslog: [], uplink: null });
  });

  it('names the Modbus/TCP target of a device behind a gateway', () => {
    const result = parseSiteConfig(demoConfigWith((doc) => {
      doc['modbus']['gateways'] = [{ device: 'pump-04', listenPort: 0, target: '10.4.2.14:502' }];
    }));
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(siteConfigView(result.config).devices.find((device) => device.id === 'pump-04')?.modbusTarget).toBe('10.4.2.14:502');
  });

  it('GET /api/config is for the roles that may configure devices: biomed and admin', () => {
    const access = accessFor('GET', '/api/config');
    if (access.kind !== 'protected') throw new Error('expected a protected route');
    expect(access.route.permission).toBe('devices.configure');
    expect(USER_ROLES.filter((role) => roleMay(role, access.route))).toEqual(['biomed', 'admin']);
  });
});
