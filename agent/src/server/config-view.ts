import type { DoseLimit, SiteConfig } from '../model/site-schema.ts';
import type { ConfigClientCertificateView, ConfigDrugView, ConfigLimitsView, SiteConfigView } from './dashboard-protocol.ts';

/**
 * The site configuration as the dashboard's read-only page shows it (GET /api/config,
 * issue 6: a biomed can open the configuration, a nurse cannot).
 *
 * Built by naming every field it copies, never by spreading a section: the config holds
 * secrets (MQTT account passwords and hashes, the tap's, InfluxDB's and the uplink's
 * passwords, TLS and syslog key files), and a field added to the schema later must not
 * reach a browser by default (DESIGN.md: the monitor must never become the leak). Key and
 * certificate file paths are left out too: they say where a key lies on the agent's disk.
 */

function limits(soft: DoseLimit, hard: DoseLimit): ConfigLimitsView {
  return { softMin: soft.min ?? null, softMax: soft.max ?? null, hardMin: hard.min ?? null, hardMax: hard.max ?? null };
}

/** What the running outputs have read from the files the config names (the view itself reads no file). */
export interface ConfigViewFiles {
  /** The uplink's client certificate as the uplink holds it (export/uplink.ts `clientCertificate`); absent or null: not started. */
  readonly uplinkClientCertificate?: ConfigClientCertificateView | null;
}

const NOT_READ_YET: ConfigClientCertificateView = { state: 'pending', subject: null, validTo: null };

/** Copied field by field, subject and expiry only once read: nothing else an output holds reaches the page. */
function clientCertificateView(configured: boolean, held: ConfigViewFiles['uplinkClientCertificate']): ConfigClientCertificateView | null {
  if (!configured) return null;
  if (held === undefined || held === null) return NOT_READ_YET;
  if (held.state !== 'read') return { state: held.state, subject: null, validTo: null };
  return { state: 'read', subject: held.subject, validTo: held.validTo };
}

export function siteConfigView(config: SiteConfig, files: ConfigViewFiles = {}): SiteConfigView {
  const modbusTargets = new Map(config.modbus.gateways.map((gateway) => [gateway.device, gateway.target]));
  return {
    site: { name: config.site.name, ward: config.site.ward, timezone: config.site.timezone },
    devices: config.devices.map((device) => ({
      id: device.id,
      profile: device.profile,
      ward: device.ward,
      bed: device.bed ?? null,
      location: device.location ?? null,
      careArea: device.careArea ?? null,
      account: device.account,
      modbusTarget: modbusTargets.get(device.id) ?? null,
      spare: device.spare ?? false,
    })),
    drugLibrary: {
      version: config.drugLibrary.version,
      careAreas: Object.entries(config.drugLibrary.careAreas).map(([name, area]) => ({
        name,
        drugs: Object.entries(area.drugs).map(([drug, entry]): ConfigDrugView => ({
          drug,
          concentration: { amount: entry.concentration.amount, unit: entry.concentration.unit, volumeMl: entry.concentration.volumeMl },
          doseUnit: entry.doseUnit,
          ...limits(entry.soft, entry.hard),
          highAlert: entry.highAlert,
          bolus: entry.bolus === undefined ? null : { unit: entry.bolus.unit, ...limits(entry.bolus.soft, entry.bolus.hard) },
        })),
      })),
    },
    policy: config.policy.rules.map((rule) => ({
      id: rule.id,
      description: rule.description ?? null,
      accounts: [...(rule.accounts ?? [])],
      roles: [...(rule.roles ?? [])],
      addresses: [...(rule.addresses ?? [])],
      devices: { ids: [...(rule.devices.ids ?? [])], profile: rule.devices.profile ?? null, ward: rule.devices.ward ?? null },
      commands: [...rule.commands],
    })),
    mqtt: {
      allowAnonymous: config.mqtt.allowAnonymous,
      accounts: config.mqtt.accounts.map((account) => ({ username: account.username, role: account.role, description: account.description ?? null })),
    },
    outputs: {
      influxdb: config.influxdb === undefined ? null : { url: config.influxdb.url, database: config.influxdb.database },
      syslog: (config.siem?.syslog ?? []).map((destination) => ({ transport: destination.transport, target: destination.target })),
      uplink: config.uplink === undefined ? null : { url: config.uplink.url, topicPrefix: config.uplink.topicPrefix, clientCertificate: clientCertificateView(config.uplink.cert !== undefined, files.uplinkClientCertificate) },
    },
  };
}
