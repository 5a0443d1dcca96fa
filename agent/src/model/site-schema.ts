import { z } from 'zod';
import { DEVICE_PROFILES } from './profiles/index.ts';
import { AMOUNT_UNITS, BOLUS_DOSE_UNITS, RATE_DOSE_UNITS, isConvertible } from './dose.ts';
import type { DeviceKind } from './device-profile.ts';
import { isValidTimeZone } from './local-time.ts';
import { uplinkIssues, uplinkSchema } from './uplink-schema.ts';
import { influxdbIssues, influxdbSchema } from './influxdb-schema.ts';
import { siemIssues, siemSchema } from './siem-schema.ts';

/**
 * The site configuration: inventory, drug library, MQTT accounts and command policy.
 * Validated once at start-up with every problem reported by path, then frozen
 * (DESIGN.md, "The device model"). Structure is checked by the schemas; references
 * between sections by `crossReferenceIssues`.
 */

const identifier = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit');

export const ACCOUNT_ROLES = ['device', 'station', 'guest', 'admin', 'pharmacy', 'vendor'] as const;
export type AccountRole = (typeof ACCOUNT_ROLES)[number];

const accountSchema = z.strictObject({
  username: identifier,
  /** Plain text is accepted for demos and flagged by `config check`; real sites use passwordHash. */
  password: z.string().min(1).optional(),
  /** `scrypt$<N>$<r>$<p>$<salt base64>$<key base64>`, made by `wardwatch config hash-password`. */
  passwordHash: z.string().regex(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/, 'must be scrypt$N$r$p$salt$key as printed by `wardwatch config hash-password`').optional(),
  role: z.enum(ACCOUNT_ROLES),
  description: z.string().max(200).optional(),
});

const deviceSchema = z.strictObject({
  id: identifier,
  profile: z.enum(Object.keys(DEVICE_PROFILES) as [DeviceKind, ...DeviceKind[]]),
  ward: z.string().min(1).max(32),
  /** Bed label for devices at a bedside; mobile devices (programmers) have a location instead. */
  bed: z.string().min(1).max(16).optional(),
  location: z.string().min(1).max(64).optional(),
  /** Drug-library care area a pump is configured for. */
  careArea: z.string().min(1).max(32).optional(),
  /** MQTT username the device itself connects with. */
  account: identifier,
  /**
   * A spare kept in the equipment store (give a location, not a bed): the ward's station
   * brings it to a bed when a pump there is swapped out, and does not use it otherwise.
   */
  spare: z.boolean().optional(),
});

const limitSchema = z.strictObject({
  min: z.number().nonnegative().optional(),
  max: z.number().positive().optional(),
});

const drugSchema = z.strictObject({
  concentration: z.strictObject({
    amount: z.number().positive(),
    unit: z.enum(AMOUNT_UNITS.filter((unit) => unit !== 'mL') as ['units', 'mg', 'mcg']),
    volumeMl: z.number().positive(),
  }),
  doseUnit: z.enum(RATE_DOSE_UNITS),
  soft: limitSchema,
  hard: limitSchema,
  bolus: z.strictObject({
    unit: z.enum(BOLUS_DOSE_UNITS),
    soft: limitSchema,
    hard: limitSchema,
  }).optional(),
  /**
   * An ISMP high-alert medication (heparin, insulin, opioids, propofol, vasopressors…):
   * a learned deviation far outside this drug's usual doses is raised to high.
   */
  highAlert: z.boolean().default(false),
});

const careAreaSchema = z.strictObject({
  drugs: z.record(identifier, drugSchema),
});

const policyRuleSchema = z.strictObject({
  id: identifier,
  description: z.string().max(200).optional(),
  accounts: z.array(identifier).optional(),
  roles: z.array(z.enum(ACCOUNT_ROLES)).optional(),
  /** Source addresses (Modbus masters have no account: the gateway sees only where a request comes from). */
  addresses: z.array(z.union([z.ipv4(), z.ipv6()])).optional(),
  devices: z.strictObject({
    ids: z.array(identifier).optional(),
    profile: z.enum(Object.keys(DEVICE_PROFILES) as [DeviceKind, ...DeviceKind[]]).optional(),
    ward: z.string().min(1).optional(),
  }),
  /** Command names, or "*" for every command of the selected devices. */
  commands: z.array(z.string().min(1)).min(1),
});

const burstSchema = z.strictObject({
  count: z.number().int().min(1),
  windowSeconds: z.number().positive(),
});

const detectionSchema = z.strictObject({
  /** Failed MQTT logins from one address or for one username within the window. */
  authFailureBurst: burstSchema.default({ count: 5, windowSeconds: 60 }),
  /** Malformed payloads from one client within the window. */
  malformedBurst: burstSchema.default({ count: 5, windowSeconds: 60 }),
  /** Ratio between a new rate and the current one that counts as a tenfold step. */
  rateStepFactor: z.number().min(2).default(10),
  /** A repeat of the same alert (same dedup identifier) within this window updates it instead of raising a new one. */
  suppressionSeconds: z.number().nonnegative().default(300),
  /**
   * MQTT connection attempts (successful or refused) from one address, or for one account,
   * within the window. A ward reconnecting after a switch restart is one attempt per client.
   */
  connectFlood: burstSchema.default({ count: 20, windowSeconds: 10 }),
  /**
   * Publishes (commands, telemetry, status, acks, malformed) from one sender within the
   * window. A device sends about 2 per 5 s (telemetry and acks); a station at a shift
   * change about 30 commands in a few minutes: 200 in 10 s is far above either.
   */
  publishFlood: burstSchema.default({ count: 200, windowSeconds: 10 }),
  replay: z.strictObject({
    /** A command id seen again for the same device within this many hours is a replay. */
    windowHours: z.number().positive().default(24),
    /**
     * A command whose own `ts` is older than the event time by more than this was written
     * long before it was sent (a captured command re-sent later). Future stamps never count.
     */
    maxCommandAgeSeconds: z.number().positive().default(600),
  }).prefault({}),
  silence: z.strictObject({
    /**
     * A device seen at least once is silent after this many of its profile's telemetry
     * periods without telemetry (or this long after going offline). Below 2, ordinary
     * jitter would raise alerts.
     */
    intervals: z.number().min(2).default(3),
  }).prefault({}),
  /** Modbus/TCP behaviour, per master address, in event time. */
  modbus: z.strictObject({
    /** Illegal-function exceptions answered to one master: probing which function codes exist. */
    functionScan: burstSchema.default({ count: 5, windowSeconds: 60 }),
    /** Illegal-data-address exceptions answered to one master: probing the register map. */
    addressScan: burstSchema.default({ count: 10, windowSeconds: 60 }),
    /** Distinct unit ids one master addresses: sweeping for devices behind a gateway. */
    unitSweep: burstSchema.default({ count: 5, windowSeconds: 60 }),
    /** Register writes from one master (FrostyGoop wrote holding registers in a loop). */
    writeBurst: burstSchema.default({ count: 20, windowSeconds: 10 }),
  }).prefault({}),
}).prefault({});

/**
 * Learned baselines (issue 5). Every figure is in event time, so a replay learns what live
 * traffic would have taught. docs/architecture.md, "Learned baselines", explains each one.
 */
const baselineSchema = z.strictObject({
  /**
   * `learn`: learn, never alert on deviations. `monitor`: alert on deviations once the
   * learning period is over, and keep learning from what conforms. `off`: neither.
   */
  mode: z.enum(['learn', 'monitor', 'off']).default('monitor'),
  /** Hours of traffic (event time, from the first event seen) before deviations are judged. */
  learningHours: z.number().positive().default(24),
  /** A learned table entry (a value, a commander, a sequence) needs this many samples before it is judged. */
  minSamples: z.number().int().min(1).default(5),
  /** How far beyond the learned envelope a value may lie before it is unusual: 0.25 is 25 % past its edge. */
  valueTolerance: z.number().nonnegative().default(0.25),
  /** A value this many times beyond the envelope's edge is far outside (high for a high-alert drug). */
  farFactor: z.number().min(1).default(3),
  /** A deviation already alerted is not alerted again for this long, unless accepted or removed. */
  realertHours: z.number().positive().default(72),
  /** Entries not seen for this many days are forgotten. */
  expireDays: z.number().positive().default(30),
  /** Slow creep: this many rate changes in one direction within the window, together at least `factor`. */
  creep: z.strictObject({
    steps: z.number().int().min(2).default(4),
    windowMinutes: z.number().positive().default(60),
    factor: z.number().min(1).default(1.5),
  }).prefault({}),
  /** Commanded versus delivered: the volume a pump reports against its rate over at least `minMinutes`. */
  delivery: z.strictObject({
    minMinutes: z.number().positive().default(10),
    minVolumeMl: z.number().positive().default(1),
    tolerance: z.number().positive().default(0.2),
  }).prefault({}),
  /** How often the agent writes the baseline to its data directory (wall time). */
  saveIntervalSeconds: z.number().positive().default(300),
}).prefault({});

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port, e.g. 10.4.2.11:502');

const modbusGatewaySchema = z.strictObject({
  device: identifier,
  /** Port masters connect to on the agent; `--modbus-port` can move all of them. */
  listenPort: z.number().int().min(0).max(65535),
  /** The device's own Modbus/TCP server. */
  target: hostPort,
  unitId: z.number().int().min(0).max(255).default(1),
});

const modbusSchema = z.strictObject({
  /** Inspecting gateways: one listen port per device (DESIGN.md, way 3). */
  gateways: z.array(modbusGatewaySchema).default([]),
  /** Hosts allowed to use maintenance function codes (diagnostics, identification, restart). */
  maintenanceHosts: z.array(z.union([z.ipv4(), z.ipv6()])).default([]),
  /**
   * Enforce mode, opt-in per alert type: a request whose inspection raises one of these is
   * answered with a Modbus exception instead of being forwarded. Empty (the default) is
   * monitor mode: everything that frames as Modbus/TCP is forwarded.
   */
  enforce: z.array(z.string().min(1)).default([]),
}).prefault({});

/**
 * A name a self-signed certificate is made for: a DNS name or an IP address. Strict on
 * purpose: it is written into the openssl request, so no spaces, commas or newlines.
 */
const tlsName = z.union([
  z.ipv4(),
  z.ipv6(),
  z.string().regex(/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/),
], { error: 'must be a host name (wardwatch-4w.hospital.example) or an IP address' });

const tlsFile = z.string({ error: (issue) => (issue.input === undefined ? 'required: the path of a PEM file' : 'must be the path of a PEM file') }).min(1, 'give the path of a PEM file').max(4096);

const TLS_MODES = ['self-signed', 'files', 'off'] as const;

/**
 * TLS for the dashboard (HTTPS, WSS) and the embedded broker (mqtts). Absent, `wardwatch
 * agent` generates a self-signed pair in its data directory (`self-signed`), so a fresh
 * install is encrypted from its first start. `files`: the site's own certificate (and
 * chain) and key, PEM; relative paths are read from the config file's directory. `off`:
 * TLS is terminated elsewhere (a reverse proxy, stunnel), the agent serves plain HTTP and
 * MQTT only. Without `mode`, `cert` and `key` mean `files` and `names` means `self-signed`. The files are
 * checked (exist, parse, belong together) when the config is loaded: agent/src/tls/.
 */
const tlsSchema = z.preprocess(
  (value) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || 'mode' in value) return value;
    if ('cert' in value || 'key' in value) return { ...value, mode: 'files' };
    return 'names' in value ? { ...value, mode: 'self-signed' } : value;
  },
  z.discriminatedUnion('mode', [
    z.strictObject({
      mode: z.literal('self-signed'),
      /** Names besides the host name, localhost, 127.0.0.1 and ::1 that clients use to reach the agent. */
      names: z.array(tlsName).max(32).default([]),
    }),
    z.strictObject({
      mode: z.literal('files'),
      /** PEM: the server certificate first, then any intermediate certificates. */
      cert: tlsFile,
      /** PEM or DER private key, unencrypted (the agent starts unattended). */
      key: tlsFile,
    }),
    z.strictObject({ mode: z.literal('off') }),
  ], { error: `must be ${TLS_MODES.slice(0, -1).join(', ')} or ${TLS_MODES.at(-1)} (or give cert and key)` }),
);

export const siteConfigSchema = z.strictObject({
  site: z.strictObject({
    name: z.string().min(1).max(100),
    ward: z.string().min(1).max(32),
    /** IANA time zone of the site (clinic hours, night shifts); default UTC. */
    timezone: z.string().min(1).max(64)
      .refine(isValidTimeZone, 'must be an IANA time zone name such as Europe/London or UTC')
      .default('UTC'),
  }),
  mqtt: z.strictObject({
    allowAnonymous: z.boolean().default(false),
    accounts: z.array(accountSchema).min(1),
  }),
  devices: z.array(deviceSchema).min(1),
  drugLibrary: z.strictObject({
    version: z.string().min(1).max(64),
    careAreas: z.record(z.string().min(1).max(32), careAreaSchema),
  }),
  policy: z.strictObject({
    rules: z.array(policyRuleSchema),
  }),
  modbus: modbusSchema,
  /** Passive capture (`replay`, `agent --capture`): ports decoded besides MQTT's 1883/8883 and Modbus's 502. */
  capture: z.strictObject({
    mqttPorts: z.array(z.number().int().min(1).max(65535)).default([]),
    modbusPorts: z.array(z.number().int().min(1).max(65535)).default([]),
  }).prefault({}),
  /** Credentials for `wardwatch agent --tap URL`: an account on the site's own broker that may read `#`. */
  tap: z.strictObject({
    username: z.string().min(1).max(128),
    password: z.string().min(1),
    /** Must be unique on the site broker: two clients with one id keep taking each other's session over. */
    clientId: z.string().min(1).max(128).optional(),
    protocolVersion: z.union([z.literal(4), z.literal(5)]).default(4),
  }).optional(),
  detection: detectionSchema,
  baseline: baselineSchema,
  /** Absent: `wardwatch agent` uses `{ mode: self-signed }` (agent/src/tls/server-tls.ts, DEFAULT_TLS). */
  tls: tlsSchema.optional(),
  /** Forward alerts, health and a device summary to the hospital's central broker for `wardwatch hub` (model/uplink-schema.ts); absent: off. */
  uplink: uplinkSchema.optional(),
  /** Telemetry, commands and alerts as time series in InfluxDB 1.x, for Grafana (model/influxdb-schema.ts); absent: off. */
  influxdb: influxdbSchema.optional(),
  /** Alerts as RFC 5424 syslog in CEF to the SOC's collectors (model/siem-schema.ts, export/syslog-sink.ts); absent: off. */
  siem: siemSchema.optional(),
  /** Dashboard logins (agent/src/server/sessions.ts): how long a session lasts; and the nurse screen's escalation. */
  dashboard: z.strictObject({
    /** A session not used for this long ends (OWASP: 15–30 min for most applications; shorter where the risk is higher). */
    sessionIdleMinutes: z.number().int().min(1).max(720).default(15),
    /** A session ends this long after its login, used or not: a long shift. */
    sessionHours: z.number().int().min(1).max(24).default(12),
    /** A wall display's session (role `display`, view only) has no idle timeout; it ends this long after its login: a week by default, 30 days at most. */
    displaySessionHours: z.number().int().min(1).max(720).default(168),
    /** A critical alert still unacknowledged this long after it was raised is shown escalated on the nurse screen, and chimes every minute. */
    escalateCriticalAfterSeconds: z.number().int().min(1).max(86_400).default(120),
  }).prefault({}),
});

export type SiteConfig = z.infer<typeof siteConfigSchema>;
export type AccountConfig = SiteConfig['mqtt']['accounts'][number];
export type DeviceConfig = SiteConfig['devices'][number];
export type DrugEntry = SiteConfig['drugLibrary']['careAreas'][string]['drugs'][string];
export type DoseLimit = z.infer<typeof limitSchema>;
export type PolicyRule = SiteConfig['policy']['rules'][number];
export type BaselineConfig = SiteConfig['baseline'];
export type ModbusGatewayConfig = SiteConfig['modbus']['gateways'][number];
export type DetectionConfig = SiteConfig['detection'];
export type TlsConfig = NonNullable<SiteConfig['tls']>;
export type { UplinkConfig } from './uplink-schema.ts';
export type { InfluxdbConfig } from './influxdb-schema.ts';
export type { SiemConfig } from './siem-schema.ts';

export interface ConfigIssue {
  /** Dotted path into the file, e.g. `devices[2].careArea`. */
  readonly path: string;
  readonly message: string;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out.length === 0 ? String(key) : `.${String(key)}`;
  }
  return out.length === 0 ? '(root)' : out;
}

function limitIssues(path: string, soft: DoseLimit, hard: DoseLimit): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (hard.max === undefined) issues.push({ path: `${path}.hard.max`, message: 'a hard maximum is required' });
  if (soft.max !== undefined && hard.max !== undefined && soft.max > hard.max) {
    issues.push({ path: `${path}.soft.max`, message: `soft maximum ${soft.max} is above the hard maximum ${hard.max}` });
  }
  if (soft.min !== undefined && hard.min !== undefined && soft.min < hard.min) {
    issues.push({ path: `${path}.soft.min`, message: `soft minimum ${soft.min} is below the hard minimum ${hard.min}` });
  }
  for (const [name, limit] of [['soft', soft], ['hard', hard]] as const) {
    if (limit.min !== undefined && limit.max !== undefined && limit.min > limit.max) {
      issues.push({ path: `${path}.${name}.min`, message: `minimum ${limit.min} is above maximum ${limit.max}` });
    }
  }
  return issues;
}

function duplicateIssues(values: readonly string[], pathOf: (index: number) => string, what: string): ConfigIssue[] {
  const seen = new Set<string>();
  const issues: ConfigIssue[] = [];
  values.forEach((value, index) => {
    if (seen.has(value)) issues.push({ path: pathOf(index), message: `duplicate ${what} "${value}"` });
    seen.add(value);
  });
  return issues;
}

/** Checks that the sections agree with one another; runs only on a structurally valid file. */
export function crossReferenceIssues(config: SiteConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const accounts = new Map(config.mqtt.accounts.map((account) => [account.username, account]));
  const careAreas = config.drugLibrary.careAreas;
  const deviceIds = new Set(config.devices.map((device) => device.id));

  issues.push(...duplicateIssues(config.mqtt.accounts.map((a) => a.username), (i) => `mqtt.accounts[${i}].username`, 'username'));
  issues.push(...duplicateIssues(config.devices.map((d) => d.id), (i) => `devices[${i}].id`, 'device id'));
  issues.push(...duplicateIssues(config.devices.map((d) => d.account), (i) => `devices[${i}].account`, 'device account (each device has its own identity)'));
  issues.push(...duplicateIssues(config.policy.rules.map((r) => r.id), (i) => `policy.rules[${i}].id`, 'rule id'));

  config.mqtt.accounts.forEach((account, index) => {
    const hasPlain = account.password !== undefined;
    const hasHash = account.passwordHash !== undefined;
    if (hasPlain === hasHash) {
      issues.push({ path: `mqtt.accounts[${index}]`, message: 'give exactly one of password or passwordHash' });
    }
  });

  config.devices.forEach((device, index) => {
    const account = accounts.get(device.account);
    if (account === undefined) {
      issues.push({ path: `devices[${index}].account`, message: `no MQTT account "${device.account}" in mqtt.accounts` });
    } else if (account.role !== 'device') {
      issues.push({ path: `devices[${index}].account`, message: `account "${device.account}" has role ${account.role}; a device account must have role device` });
    }
    if (device.profile === 'infusion-pump') {
      if (device.careArea === undefined) {
        issues.push({ path: `devices[${index}].careArea`, message: 'an infusion pump needs a drug-library care area' });
      } else if (!Object.hasOwn(careAreas, device.careArea)) {
        issues.push({ path: `devices[${index}].careArea`, message: `care area "${device.careArea}" is not in drugLibrary.careAreas (${Object.keys(careAreas).join(', ')})` });
      }
    }
    if (device.spare === true && device.bed !== undefined) {
      issues.push({ path: `devices[${index}].bed`, message: 'a spare is in the equipment store, not at a bed: give a location instead' });
    }
    if (device.bed === undefined && device.location === undefined) {
      issues.push({ path: `devices[${index}]`, message: 'give a bed or a location so that a nurse can find the device' });
    }
  });

  for (const [areaName, area] of Object.entries(careAreas)) {
    for (const [drugName, drug] of Object.entries(area.drugs)) {
      const path = `drugLibrary.careAreas.${areaName}.drugs.${drugName}`;
      if (!isConvertible(drug.concentration, drug.doseUnit)) {
        issues.push({ path: `${path}.doseUnit`, message: `${drug.doseUnit} cannot be computed from a concentration in ${drug.concentration.unit}` });
      }
      issues.push(...limitIssues(path, drug.soft, drug.hard));
      if (drug.bolus !== undefined) {
        if (!isConvertible(drug.concentration, drug.bolus.unit)) {
          issues.push({ path: `${path}.bolus.unit`, message: `${drug.bolus.unit} cannot be computed from a concentration in ${drug.concentration.unit}` });
        }
        issues.push(...limitIssues(`${path}.bolus`, drug.bolus.soft, drug.bolus.hard));
      }
    }
  }

  const listenPorts = new Set<number>();
  config.modbus.gateways.forEach((gateway, index) => {
    if (!deviceIds.has(gateway.device)) issues.push({ path: `modbus.gateways[${index}].device`, message: `no device "${gateway.device}" in devices` });
    // Port 0 (any free port) may repeat; a fixed port may not.
    if (gateway.listenPort !== 0 && listenPorts.has(gateway.listenPort)) issues.push({ path: `modbus.gateways[${index}].listenPort`, message: `duplicate listen port ${gateway.listenPort}` });
    listenPorts.add(gateway.listenPort);
  });

  config.policy.rules.forEach((rule, index) => {
    const path = `policy.rules[${index}]`;
    if ((rule.accounts?.length ?? 0) + (rule.roles?.length ?? 0) + (rule.addresses?.length ?? 0) === 0) {
      issues.push({ path, message: 'a rule needs accounts, roles or addresses' });
    }
    rule.accounts?.forEach((username, i) => {
      if (!accounts.has(username)) issues.push({ path: `${path}.accounts[${i}]`, message: `no MQTT account "${username}"` });
    });
    rule.devices.ids?.forEach((id, i) => {
      if (!deviceIds.has(id)) issues.push({ path: `${path}.devices.ids[${i}]`, message: `no device "${id}" in devices` });
    });
    const profiles = rule.devices.profile !== undefined
      ? [DEVICE_PROFILES[rule.devices.profile]]
      : [...new Set(config.devices.filter((d) => rule.devices.ids?.includes(d.id) ?? true).map((d) => DEVICE_PROFILES[d.profile]))];
    rule.commands.forEach((command, i) => {
      if (command === '*') return;
      if (!profiles.some((profile) => Object.hasOwn(profile.commands, command))) {
        issues.push({ path: `${path}.commands[${i}]`, message: `"${command}" is not a command of ${profiles.map((p) => p.id).join(' or ') || 'the selected devices'}` });
      }
    });
  });
  issues.push(...uplinkIssues(config.uplink, config.site.ward));
  issues.push(...influxdbIssues(config.influxdb));
  issues.push(...siemIssues(config.siem));
  return issues;
}
