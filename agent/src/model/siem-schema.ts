import { z } from 'zod';
import type { ConfigIssue } from './site-schema.ts';

/**
 * `siem:` in a site config (issue 8, SIEM export): alerts and acknowledgements sent as
 * RFC 5424 syslog messages in ArcSight CEF to one or more collectors (agent/src/export/
 * syslog-sink.ts). Absent: off. The embedded store and alerts.jsonl are written either way.
 */

export const SYSLOG_TRANSPORTS = ['udp', 'tcp', 'tls'] as const;
export type SyslogTransport = (typeof SYSLOG_TRANSPORTS)[number];

/**
 * Facilities an application may use, with their RFC 5424 §6.2.1 (Table 1) codes. The
 * kernel's, mail's and the others' belong to those programs; local0–local7 are the
 * site's to assign, and SOCs usually route a product by one of them.
 */
export const SYSLOG_FACILITY_CODES = {
  user: 1,
  daemon: 3,
  auth: 4,
  authpriv: 10,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
} as const;
export type SyslogFacilityName = keyof typeof SYSLOG_FACILITY_CODES;
const FACILITY_NAMES = Object.keys(SYSLOG_FACILITY_CODES) as [SyslogFacilityName, ...SyslogFacilityName[]];

/** The collector's port when none is given is not guessed: 514 (UDP/TCP) and 6514 (TLS, RFC 5425 §4.1) are both common. */
const TARGET = /^(\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9][A-Za-z0-9.-]{0,252})):(\d{1,5})$/;

const IPV6 = z.ipv6();

const syslogTarget = z.string().max(300).superRefine((value, context) => {
  const match = TARGET.exec(value);
  const port = Number(match?.[4]);
  if (match === null) {
    context.addIssue({ code: 'custom', message: 'must be host:port, e.g. siem-collector.hospital.example:6514 or [fd00::5]:514' });
  } else if (match[2] !== undefined && !IPV6.safeParse(match[2]).success) {
    context.addIssue({ code: 'custom', message: `${match[2]} in brackets is not an IPv6 address` });
  } else if (port < 1 || port > 65_535) {
    context.addIssue({ code: 'custom', message: `port ${match[4]} is not 1–65535` });
  }
});

const pemFile = z.string().min(1, 'give the path of a PEM file').max(4096);

/**
 * Message size caps. RFC 5426 §3.2: every receiver takes 480 octets over IPv4 and SHOULD
 * take 2048; RFC 5425 §4.3.1: TLS receivers MUST take 2048 and SHOULD take 8192. A
 * datagram cannot exceed 65,507 octets of payload (IPv4).
 */
export const SYSLOG_MIN_MESSAGE_BYTES = 480;
export const SYSLOG_MAX_MESSAGE_BYTES = 65_507;
export const SYSLOG_DEFAULT_MESSAGE_BYTES: Readonly<Record<SyslogTransport, number>> = { udp: 2_048, tcp: 8_192, tls: 8_192 };

export const syslogDestinationSchema = z.strictObject({
  /** udp (RFC 5426), tcp (RFC 6587, octet counting) or tls (RFC 5425). */
  transport: z.enum(SYSLOG_TRANSPORTS, { error: 'must be udp, tcp or tls' }),
  /** host:port of the collector; with tls the host is also the name its certificate must carry. */
  target: syslogTarget,
  /** tls: PEM file of the CA that signed the collector's certificate (relative: to the config file's directory). Required: the agent trusts no other CA for this. */
  ca: pemFile.optional(),
  /** tls: a client certificate (PEM, then any intermediates) for collectors that require one, with its unencrypted key. */
  cert: pemFile.optional(),
  key: pemFile.optional(),
  facility: z.enum(FACILITY_NAMES, { error: `must be one of ${FACILITY_NAMES.join(', ')}` }).default('local4'),
  /** The message format; CEF (ArcSight Common Event Format) is the one SOCs ingest from monitors. */
  format: z.enum(['cef'], { error: 'must be cef (the only format so far)' }).default('cef'),
  /** Messages held while the collector is away; beyond it the oldest are dropped, counted. About 1.5 KB of memory each (measured: 10,000 ≈ 15 MB). */
  queueSize: z.number().int().min(1).max(10_000).default(1_000),
  /** A longer message is cut (its msg text first, marked "[truncated]") and counted. Default: 2048 for udp, 8192 for tcp and tls. */
  maxMessageBytes: z.number().int().min(SYSLOG_MIN_MESSAGE_BYTES).max(SYSLOG_MAX_MESSAGE_BYTES).optional(),
  /** RFC 5424 §6.4: a UTF-8 MSG starts with a byte order mark. Turn off only for a collector whose CEF parser will not skip it. */
  utf8Bom: z.boolean().default(true),
});

export const siemSchema = z.strictObject({
  /** At most 8 collectors, each with its own queue. */
  syslog: z.array(syslogDestinationSchema).min(1, 'give at least one syslog destination').max(8),
});

export type SiemConfig = z.infer<typeof siemSchema>;
export type SyslogDestinationConfig = SiemConfig['syslog'][number];

/** `host:port` → host (brackets removed) and port; the schema has checked the form. */
export function splitSyslogTarget(target: string): { readonly host: string; readonly port: number } {
  const colon = target.lastIndexOf(':');
  return { host: target.slice(0, colon).replace(/^\[|\]$/g, ''), port: Number(target.slice(colon + 1)) };
}

/** Checks between the fields of the section (the schema checked each alone). */
export function siemIssues(siem: SiemConfig | undefined): ConfigIssue[] {
  if (siem === undefined) return [];
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  siem.syslog.forEach((destination, index) => {
    const path = `siem.syslog[${index}]`;
    if (destination.transport === 'tls') {
      // RFC 5425 §5.2: the client authenticates the server by its certificate; a CA is required, not the system's store by default.
      if (destination.ca === undefined) issues.push({ path: `${path}.ca`, message: 'required with transport tls: the PEM file of the CA that signed the collector\'s certificate' });
      if ((destination.cert === undefined) !== (destination.key === undefined)) {
        issues.push({ path: `${path}.${destination.cert === undefined ? 'cert' : 'key'}`, message: 'give both cert and key for a client certificate, or neither' });
      }
    } else {
      for (const field of ['ca', 'cert', 'key'] as const) {
        if (destination[field] !== undefined) issues.push({ path: `${path}.${field}`, message: `only used with transport tls, not ${destination.transport}` });
      }
    }
    const key = `${destination.transport} ${destination.target.toLowerCase()}`;
    if (seen.has(key)) issues.push({ path: `${path}.target`, message: `duplicate destination ${destination.transport} ${destination.target}` });
    seen.add(key);
  });
  return issues;
}

/** Loopback hosts: plain syslog to these never leaves the machine. */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '::1']);

/** Advice that does not stop the agent. */
export function siemWarnings(siem: SiemConfig | undefined): ConfigIssue[] {
  if (siem === undefined) return [];
  const warnings: ConfigIssue[] = [];
  siem.syslog.forEach((destination, index) => {
    const { host } = splitSyslogTarget(destination.target);
    if (destination.transport !== 'tls' && !LOOPBACK_HOSTS.has(host.toLowerCase())) {
      const lossy = destination.transport === 'udp' ? ' and a lost datagram is not noticed' : '';
      warnings.push({ path: `siem.syslog[${index}].transport`, message: `${destination.transport} to another machine: alerts (device, bed, accounts) cross the network unencrypted${lossy}; use tls (RFC 5425)` });
    }
  });
  return warnings;
}
