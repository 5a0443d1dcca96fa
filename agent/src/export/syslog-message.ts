/**
 * RFC 5424 syslog messages (§6):
 *
 *   SYSLOG-MSG = HEADER SP STRUCTURED-DATA [SP MSG]
 *   HEADER     = PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID
 *
 * Pure functions, no I/O; the transports (RFC 5426 UDP, RFC 6587 TCP, RFC 5425 TLS) frame
 * the bytes this returns.
 */

/** RFC 5424 §6.2.1, Table 2. */
export const SYSLOG_SEVERITY = {
  emergency: 0,
  alert: 1,
  critical: 2,
  error: 3,
  warning: 4,
  notice: 5,
  informational: 6,
  debug: 7,
} as const;
export type SyslogSeverity = (typeof SYSLOG_SEVERITY)[keyof typeof SYSLOG_SEVERITY];

/** §6.2: the header fields' sizes (octets of PRINTUSASCII). */
export const SYSLOG_FIELD_LIMITS = { hostname: 255, appName: 48, procId: 128, msgId: 32, sdName: 32 } as const;

/** §6.4: "If a syslog application encodes MSG in UTF-8, the string MUST start with the Unicode byte order mask (BOM)". */
export const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

const NILVALUE = '-';

/** One SD-ELEMENT (§6.3.1): an SD-ID and its parameters, in order. */
export interface StructuredDataElement {
  readonly id: string;
  readonly params: readonly (readonly [name: string, value: string])[];
}

export interface SyslogMessage {
  /** Facility code 0–23 (§6.2.1, Table 1). */
  readonly facility: number;
  readonly severity: SyslogSeverity;
  /** Null: the originator does not know the time (NILVALUE). */
  readonly timestamp: Date | null;
  readonly hostname: string;
  readonly appName: string;
  readonly procId: string;
  readonly msgId: string;
  /** Empty: NILVALUE. */
  readonly structuredData: readonly StructuredDataElement[];
  /** Null: no MSG part. */
  readonly msg: string | null;
  /** Start MSG with the UTF-8 BOM (§6.4); off only for a receiver that cannot skip it. */
  readonly bom: boolean;
}

/**
 * A header field (§6.2.4–§6.2.7): 1 to `max` PRINTUSASCII (%d33-126) octets, or "-"
 * when empty. Anything else (a space, a control, a non-ASCII character) becomes "_", so
 * a field can never run into the next one.
 */
export function headerField(value: string, max: number): string {
  if (value.length === 0) return NILVALUE;
  return value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
}

/** SD-NAME (§6.3.2/§6.3.3): 1–32 PRINTUSASCII except '=', SP, ']' and '"'. */
const SD_NAME = /^[\x21-\x7e]{1,32}$/;
function checkSdName(name: string): string {
  if (!SD_NAME.test(name) || /[= \]"]/.test(name)) throw new RangeError(`not an SD-NAME: ${JSON.stringify(name)}`);
  return name;
}

/**
 * PARAM-VALUE (§6.3.3): UTF-8, in which '"', '\' and ']' MUST be escaped with a
 * backslash ("to avoid parsing errors"); nothing else is escaped.
 */
export function escapeSdParamValue(value: string): string {
  return value.replace(/["\\\]]/g, (char) => `\\${char}`);
}

export function formatStructuredData(elements: readonly StructuredDataElement[]): string {
  if (elements.length === 0) return NILVALUE;
  return elements.map((element) => `[${checkSdName(element.id)}${element.params.map(([name, value]) => ` ${checkSdName(name)}="${escapeSdParamValue(value)}"`).join('')}]`).join('');
}

/**
 * TIMESTAMP (§6.2.3): RFC 3339 with "T" and "Z" in upper case, TIME-SECFRAC to at most
 * six digits; ISO 8601 as Date prints it (milliseconds, UTC) is exactly that form.
 */
export function syslogTimestamp(timestamp: Date | null): string {
  if (timestamp === null || Number.isNaN(timestamp.getTime())) return NILVALUE;
  const year = timestamp.getUTCFullYear();
  return year < 0 || year > 9999 ? NILVALUE : timestamp.toISOString();
}

/** §6.2.1: PRI = facility × 8 + severity. */
export function priority(facility: number, severity: SyslogSeverity): number {
  if (!Number.isInteger(facility) || facility < 0 || facility > 23) throw new RangeError(`syslog facility must be 0–23, got ${facility}`);
  return facility * 8 + severity;
}

/** The message as the octets a transport sends: the header and structured data in ASCII, MSG in UTF-8. */
export function formatSyslogMessage(message: SyslogMessage): Buffer {
  const header = [
    `<${priority(message.facility, message.severity)}>1`,
    syslogTimestamp(message.timestamp),
    headerField(message.hostname, SYSLOG_FIELD_LIMITS.hostname),
    headerField(message.appName, SYSLOG_FIELD_LIMITS.appName),
    headerField(message.procId, SYSLOG_FIELD_LIMITS.procId),
    headerField(message.msgId, SYSLOG_FIELD_LIMITS.msgId),
    formatStructuredData(message.structuredData),
  ].join(' ');
  if (message.msg === null) return Buffer.from(header, 'utf8');
  return Buffer.concat([Buffer.from(`${header} `, 'utf8'), ...(message.bom ? [UTF8_BOM] : []), Buffer.from(message.msg, 'utf8')]);
}
