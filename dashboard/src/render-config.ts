/**
 * The site configuration page (#config, biomed and admin): what the agent runs with, read
 * from GET /api/config, which carries no secret (agent/src/server/config-view.ts). Read
 * only: the agent has no live configuration editing, so the page says where changes are made.
 */
import type { ConfigLimitsView, SiteConfigView } from '../../agent/src/server/dashboard-protocol.ts';
import { adminTable } from './admin-table.ts';
import { clientCertificateText } from './client-certificate-text.ts';
import { el } from './dom.ts';

type Section = 'site' | 'devices' | 'drug-library' | 'policy' | 'accounts' | 'outputs';

function section(name: Section, heading: string, table: HTMLTableElement): Node[] {
  table.dataset['section'] = name;
  return [el('h3', 'config-heading', heading), table];
}

function value(number: number | null): string {
  return number === null ? '—' : String(number);
}

function listOr(values: readonly string[], none: string): string {
  return values.length === 0 ? none : values.join(', ');
}

function bolusText(bolus: (ConfigLimitsView & { readonly unit: string }) | null): string {
  if (bolus === null) return '—';
  const parts = [['soft min', bolus.softMin], ['soft max', bolus.softMax], ['hard min', bolus.hardMin], ['hard max', bolus.hardMax]] as const;
  return `${bolus.unit}: ${parts.filter(([, limit]) => limit !== null).map(([name, limit]) => `${name} ${limit}`).join(', ')}`;
}

export function siteConfigNodes(config: SiteConfigView): Node[] {
  const { site, devices, drugLibrary, policy, mqtt, outputs } = config;
  return [
    el('p', 'admin-summary config-notice', 'Read only. Changes are made in the site config file on the agent, checked with `wardwatch config check`, and take effect when the agent restarts; the dashboard cannot edit the configuration. Passwords, keys and other secrets are never shown.'),
    ...section('site', 'Site', adminTable(['Name', 'Ward', 'Time zone'], [[site.name, site.ward, site.timezone]])),
    ...section('devices', 'Device inventory', adminTable(
      ['Device', 'Kind', 'Bed or location', 'Care area', 'Network identity', 'Spare'],
      devices.map((device) => [
        device.id,
        device.profile,
        device.bed !== null ? `Bed ${device.bed}` : (device.location ?? '—'),
        device.careArea ?? '—',
        `MQTT account ${device.account}${device.modbusTarget === null ? '' : `; Modbus/TCP ${device.modbusTarget}`}`,
        device.spare ? 'spare' : 'no',
      ]),
    )),
    ...section('drug-library', `Drug library (version ${drugLibrary.version})`, adminTable(
      ['Care area', 'Drug', 'Concentration', 'Dose unit', 'Soft min', 'Soft max', 'Hard min', 'Hard max', 'Bolus', 'High alert'],
      drugLibrary.careAreas.flatMap((area) => area.drugs.map((drug) => [
        area.name,
        drug.drug,
        `${drug.concentration.amount} ${drug.concentration.unit} / ${drug.concentration.volumeMl} mL`,
        drug.doseUnit,
        value(drug.softMin),
        value(drug.softMax),
        value(drug.hardMin),
        value(drug.hardMax),
        bolusText(drug.bolus),
        drug.highAlert ? 'high-alert' : 'no',
      ])),
    )),
    ...section('policy', 'Command policy (anything not allowed here is an unauthorized command)', adminTable(
      ['Rule', 'Who', 'Devices', 'Commands', 'Description'],
      policy.map((rule) => [
        rule.id,
        [rule.accounts.length > 0 ? `accounts ${rule.accounts.join(', ')}` : '', rule.roles.length > 0 ? `roles ${rule.roles.join(', ')}` : '', rule.addresses.length > 0 ? `addresses ${rule.addresses.join(', ')}` : ''].filter((part) => part !== '').join('; '),
        [rule.devices.ids.length > 0 ? rule.devices.ids.join(', ') : '', rule.devices.profile ?? '', rule.devices.ward === null ? '' : `ward ${rule.devices.ward}`].filter((part) => part !== '').join('; ') || 'every device',
        rule.commands.includes('*') ? 'every command' : rule.commands.join(', '),
        rule.description ?? '—',
      ]),
    )),
    ...section('accounts', `MQTT accounts (anonymous clients ${mqtt.allowAnonymous ? 'ACCEPTED' : 'refused'})`, adminTable(
      ['Account', 'Role', 'Description'],
      mqtt.accounts.map((account) => [account.username, account.role, account.description ?? '—']),
    )),
    ...section('outputs', 'Outputs', adminTable(
      ['Output', 'State', 'Destination'],
      [
        ['InfluxDB', outputs.influxdb === null ? 'off' : 'on', outputs.influxdb === null ? '—' : `${outputs.influxdb.url}, database ${outputs.influxdb.database}`],
        ['Syslog to the SIEM', outputs.syslog.length === 0 ? 'off' : 'on', listOr(outputs.syslog.map((destination) => `${destination.transport} ${destination.target}`), '—')],
        ['Uplink to the hub', outputs.uplink === null ? 'off' : 'on', outputs.uplink === null ? '—' : `${outputs.uplink.url}, topics ${outputs.uplink.topicPrefix}/${site.ward}/…${clientCertificateText(outputs.uplink.clientCertificate)}`],
      ],
    )),
  ];
}
