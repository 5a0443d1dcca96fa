import { isIP } from 'node:net';
import type { AlertView, Severity } from '../server/dashboard-protocol.ts';
import type { CefEvent } from './cef.ts';
import { SYSLOG_SEVERITY, type SyslogSeverity } from './syslog-message.ts';

/**
 * An alert (or its acknowledgement) as a CEF event: the mapping a SOC writes its rules
 * against, documented in docs/protocol.md ("SIEM export"). Only identifiers leave the
 * agent: the nurse's sentence, ward, bed, device, account, address and client id; never
 * the evidence itself (commands, payloads, limits), never an acknowledgement's free-text
 * reason, never a secret.
 */

export const CEF_VENDOR = 'Wardwatch';
export const CEF_PRODUCT = 'Wardwatch';

/**
 * Our severities on CEF's 0–10 scale, one per agentSeverity band (0–3 Low, 4–6 Medium,
 * 7–8 High, 9–10 Very-High): a critical alert is a patient at risk now.
 */
export const CEF_SEVERITY: Readonly<Record<Severity, number>> = { critical: 10, high: 8, warning: 5, info: 3 };

/** Our severities as RFC 5424 §6.2.1 severities; emergency (the system is unusable) and alert are left to the host's own. */
export const SYSLOG_SEVERITY_OF_ALERT: Readonly<Record<Severity, SyslogSeverity>> = {
  critical: SYSLOG_SEVERITY.critical,
  high: SYSLOG_SEVERITY.error,
  warning: SYSLOG_SEVERITY.warning,
  info: SYSLOG_SEVERITY.informational,
};

/** An acknowledgement is "normal but significant": someone took the alert in hand. Its CEF severity stays the alert's, so rules can pair the two. */
export const SYSLOG_SEVERITY_OF_ACKNOWLEDGEMENT: SyslogSeverity = SYSLOG_SEVERITY.notice;

export type AlertChange = 'raised' | 'acknowledged';

/** Who is reporting: the agent, as CEF's "device" (not the medical device, which is cs3). */
export interface CefReporter {
  readonly version: string;
  /** Names this agent among all of the hospital's: `wardwatch-<site.ward>`. */
  readonly deviceExternalId: string;
  /** The agent's host name. */
  readonly dvchost: string;
}

/** "dose-above-hard-limit" → "Dose above hard limit": the kind of event, without the details the extension carries. */
export function alertEventName(type: string): string {
  const words = type.replace(/-/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Identifiers taken from wire-facing evidence are at most this long (detect/bounded-key.ts cuts keys at 256 too). */
const MAX_IDENTIFIER = 256;

/** A string that can be an identifier: non-empty, bounded, no control characters; anything else is left out. */
function identifierIn(evidence: Readonly<Record<string, unknown>>, key: string): string | null {
  const value = evidence[key];
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_IDENTIFIER) return null;
  return /[\x00-\x1f\x7f]/.test(value) ? null : value;
}

interface Party {
  /** Authenticated account, or the dashboard user who acknowledged. */
  readonly user: string | null;
  readonly address: string | null;
  readonly clientId: string | null;
  /** The account someone tried to log in as (auth-failure-burst): CEF's destination user. */
  readonly targetUser: string | null;
}

/** The sender behind a raised alert, as far as the evidence names one. */
function senderOf(evidence: Readonly<Record<string, unknown>>): Party {
  return {
    user: identifierIn(evidence, 'account'),
    address: identifierIn(evidence, 'address'),
    clientId: identifierIn(evidence, 'clientId') ?? identifierIn(evidence, 'master'),
    targetUser: identifierIn(evidence, 'attemptedUsername'),
  };
}

function epochMs(iso: string | undefined): number | null {
  const ms = iso === undefined ? Number.NaN : Date.parse(iso);
  return Number.isFinite(ms) ? ms : null;
}

/** A custom string and its label, both or neither (CEF: "All custom fields have a corresponding label field"). */
function custom(n: 1 | 2 | 3 | 4 | 5 | 6, label: string, value: string | null): [string, string | null][] {
  return value === null || value.length === 0 ? [] : [[`cs${n}Label`, label], [`cs${n}`, value]];
}

/**
 * The CEF event for a raised alert or an acknowledgement. For an acknowledgement the
 * source is whoever acknowledged (suser, src: the dashboard user and address); the
 * raised alert's message carried the sender, and cs4 (the alert id) pairs the two.
 */
export function alertCefEvent(alert: AlertView, change: AlertChange, reporter: CefReporter, title: string = alert.title): CefEvent {
  const ack = change === 'acknowledged' ? alert.ack : null;
  const party: Party = ack === null ? senderOf(alert.evidence) : { user: ack.by, address: ack.from, clientId: null, targetUser: null };
  const family = party.address === null ? 0 : isIP(party.address);
  return {
    vendor: CEF_VENDOR,
    product: CEF_PRODUCT,
    version: reporter.version,
    signatureId: alert.type,
    name: ack === null ? alertEventName(alert.type) : `${alertEventName(alert.type)} (acknowledged)`,
    severity: CEF_SEVERITY[alert.severity],
    extension: [
      // rt: when the event happened (CEF accepts milliseconds since the epoch): the alert's first occurrence, or the acknowledgement.
      ['rt', ack === null ? epochMs(alert.ts) : epochMs(ack.at)],
      ['start', ack === null ? null : epochMs(alert.ts)],
      ['end', ack === null ? null : epochMs(alert.lastTs)],
      // "Count can be omitted if it is 1."
      ['cnt', alert.count > 1 ? alert.count : null],
      ['act', change],
      ['externalId', alert.id],
      ['deviceExternalId', reporter.deviceExternalId],
      ['dvchost', reporter.dvchost],
      // src is an IPv4 address in the dictionary; an IPv6 sender goes to c6a2, by convention the source's.
      ['src', family === 4 ? party.address : null],
      ['c6a2', family === 6 ? party.address : null],
      ['c6a2Label', family === 6 ? 'Source IPv6 Address' : null],
      ['suser', party.user],
      ['duser', party.targetUser],
      ...custom(1, 'ward', alert.ward),
      ...custom(2, 'bed', alert.bed),
      ...custom(3, 'deviceId', alert.deviceId),
      ...custom(4, 'alertId', alert.id),
      ...custom(5, 'location', alert.location),
      ...custom(6, 'clientId', party.clientId),
      // Last: the nurse's sentence is the one value that is cut when a message is too long.
      ['msg', title],
    ],
  };
}
