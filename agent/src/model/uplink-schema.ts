import { z } from 'zod';
import type { ConfigIssue } from './site-schema.ts';

/**
 * The connection to the hospital's central MQTT broker (mosquitto, an EMQX cluster: an
 * existing engine, not ours), shared by an agent's `uplink:` section and the hub's config
 * (agent/src/hub/hub-config.ts). Credentials come only from the config file, never from
 * the URL, so that no password ends up in a log line that prints the URL.
 */

/** Loopback hosts: plain `mqtt://` to these never leaves the machine. */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

function brokerUrlProblem(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be a URL such as mqtts://mqtt.hospital.example:8883';
  }
  if (url.protocol !== 'mqtt:' && url.protocol !== 'mqtts:') return `must start with mqtts:// (or mqtt:// for a broker on this machine), not ${url.protocol}//`;
  if (url.username !== '' || url.password !== '') return 'give username and password as their own fields, not in the URL (URLs end up in logs)';
  if (url.hostname === '') return 'must name the broker host';
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') return 'must be only scheme, host and port (no path, query or fragment)';
  return null;
}

/** mqtts://host:port (TLS) or mqtt://host:port; the port defaults to 8883 / 1883. */
export const brokerUrl = z.string().max(2048).superRefine((value, context) => {
  const problem = brokerUrlProblem(value);
  if (problem !== null) context.addIssue({ code: 'custom', message: problem });
});

/** Whether a broker URL is plain MQTT to another machine: everything sent would cross the network unencrypted. */
export function isPlainRemote(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'mqtt:' && !LOOPBACK_HOSTS.has(parsed.hostname);
  } catch {
    return false;
  }
}

/**
 * One or more topic levels of letters, digits, ".", "_" and "-": no wildcard (`+`, `#`,
 * [MQTT-4.7.1-1]), no empty level, and no leading `$`, which brokers reserve for their
 * own topics [MQTT-4.7.2-1].
 */
const TOPIC_LEVELS = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9._-]+)*$/;
export const topicPrefix = z.string().min(1).max(64).regex(TOPIC_LEVELS, 'must be topic levels of letters, digits, ".", "_" or "-" separated by "/", e.g. wardwatch or hospital/wardwatch (no wildcards, no leading "$" or "/")');

/** A ward name that can be one MQTT topic level and one word of a mosquitto ACL line. */
export const TOPIC_LEVEL = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,31}$/;

/** MQTT client id: printable ASCII without spaces; brokers must accept 1–23 of [0-9a-zA-Z] [MQTT-3.1.3-5], mosquitto and EMQX accept longer. */
export const clientId = z.string().min(1).max(128).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

const pemFile = z.string().min(1, 'give the path of a PEM file').max(4096);

/** The broker connection fields both the agent's uplink and the hub have. */
export const brokerConnectionFields = {
  /** mqtts://central-mqtt.hospital.example:8883 */
  url: brokerUrl,
  username: z.string().min(1).max(128).optional(),
  password: z.string().min(1).max(1024).optional(),
  /** PEM file of the CA that signed the broker's certificate (relative: to the config file's directory); absent: the system's CAs. */
  ca: pemFile.optional(),
  /**
   * A client certificate (PEM, then any intermediates) and its unencrypted key, both or
   * neither, for a broker that requires one (mosquitto `require_certificate true`): a
   * stolen password alone then admits no one. mqtts:// only; read at start (a renewed
   * certificate needs a restart). No passphrase field: it would sit in this same file, next
   * to the key's path, and protect nothing the file's permissions do not.
   */
  cert: pemFile.optional(),
  key: pemFile.optional(),
  /** Topics are `<topicPrefix>/<ward>/alerts|health|devices|uplink` (docs/protocol.md, "Uplink"). */
  topicPrefix: topicPrefix.default('wardwatch'),
  /** Reconnect delays double from 0.5 s up to this, with jitter, so that many wards do not reconnect in step. */
  reconnectMaxSeconds: z.number().int().min(1).max(3600).default(30),
};

/**
 * `uplink:` in a site config (issue 8, many wards): the agent forwards its alerts, its
 * health and a summary of its devices to the central broker, where `wardwatch hub` reads
 * them. Absent: nothing leaves the agent this way.
 */
export const uplinkSchema = z.strictObject({
  ...brokerConnectionFields,
  /** Fixed per ward, so the broker keeps the session across reconnects; default `wardwatch-<site.ward>`. Must be unique on the central broker. */
  clientId: clientId.optional(),
  /** Alert changes held while the central broker is away (and across a restart, in `<data-dir>/uplink-outbox.db`); the oldest go first, counted. */
  // At most 100,000 (about 100 MB, all reloaded at start): within the 512 MB the systemd unit and compose file allow.
  maxQueuedAlerts: z.number().int().min(1).max(100_000).default(10_000),
  /** The health report and the device summary are sent this often, and the health report also as soon as its status or reasons change. */
  healthIntervalSeconds: z.number().int().min(1).max(3600).default(15),
});

export type UplinkConfig = z.infer<typeof uplinkSchema>;

/** The hub's client id when its config names none (hub/hub-config.ts). */
export const DEFAULT_HUB_CLIENT_ID = 'wardwatch-hub';

/** The client id a ward's uplink uses when the config names none. */
export function defaultUplinkClientId(ward: string): string {
  return `wardwatch-${ward}`;
}

/** Checks between the fields of a broker connection (the schema checked each alone). */
export function brokerConnectionIssues(
  section: string,
  connection: { readonly url: string; readonly username?: string | undefined; readonly password?: string | undefined; readonly ca?: string | undefined; readonly cert?: string | undefined; readonly key?: string | undefined },
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if ((connection.username === undefined) !== (connection.password === undefined)) {
    issues.push({ path: `${section}.${connection.username === undefined ? 'username' : 'password'}`, message: 'give both username and password, or neither' });
  }
  if (connection.ca !== undefined && connection.url.startsWith('mqtt://')) {
    issues.push({ path: `${section}.ca`, message: 'a CA file is only used with mqtts:// (TLS); use mqtts:// or remove ca' });
  }
  if ((connection.cert === undefined) !== (connection.key === undefined)) {
    issues.push({ path: `${section}.${connection.cert === undefined ? 'cert' : 'key'}`, message: 'give both cert and key for a client certificate, or neither' });
  }
  // A client certificate is presented in the TLS handshake (RFC 8446 §4.4.2); plain MQTT has none.
  if ((connection.cert !== undefined || connection.key !== undefined) && connection.url.startsWith('mqtt://')) {
    issues.push({ path: `${section}.${connection.cert === undefined ? 'key' : 'cert'}`, message: 'a client certificate is only used with mqtts:// (TLS); use mqtts:// or remove cert and key' });
  }
  return issues;
}

/** The uplink's checks against the rest of the site config: the ward becomes a topic level. */
export function uplinkIssues(uplink: UplinkConfig | undefined, ward: string): ConfigIssue[] {
  if (uplink === undefined) return [];
  const issues = brokerConnectionIssues('uplink', uplink);
  if (!TOPIC_LEVEL.test(ward)) {
    issues.push({ path: 'site.ward', message: 'with an uplink the ward name is an MQTT topic level and a word of the central broker\'s ACL: 1–32 letters, digits, ".", "_" or "-"' });
  }
  // A broker that ties a session to the client id, not the account (mosquitto without
  // use_username_as_clientid), would hand the hub's session, and its queued alerts, to this ward.
  if ((uplink.clientId ?? defaultUplinkClientId(ward)) === DEFAULT_HUB_CLIENT_ID) {
    issues.push(uplink.clientId === undefined
      ? { path: 'site.ward', message: `with an uplink, ward "${ward}" would connect as "${DEFAULT_HUB_CLIENT_ID}", the hub's client id: name the ward otherwise or set uplink.clientId` }
      : { path: 'uplink.clientId', message: `"${DEFAULT_HUB_CLIENT_ID}" is the hub's client id: a ward must not use it` });
  }
  return issues;
}

/** Advice that does not stop the agent. */
export function uplinkWarnings(uplink: UplinkConfig | undefined): ConfigIssue[] {
  if (uplink === undefined) return [];
  const warnings: ConfigIssue[] = [];
  if (isPlainRemote(uplink.url)) warnings.push({ path: 'uplink.url', message: 'plain mqtt:// to another machine: alerts and device names cross the network unencrypted; use mqtts://' });
  if (uplink.username === undefined && uplink.cert === undefined) warnings.push({ path: 'uplink.username', message: 'no credentials: the central broker cannot tell this ward from any other client, nor restrict it to its own topics' });
  return warnings;
}
