import type { AlertView } from '../server/dashboard-protocol.ts';
import { alertCefEvent, SYSLOG_SEVERITY_OF_ACKNOWLEDGEMENT, SYSLOG_SEVERITY_OF_ALERT, type AlertChange, type CefReporter } from './alert-cef.ts';
import { CEF_EXTENSION_LIMITS, formatCef, truncateChars } from './cef.ts';
import { formatSyslogMessage } from './syslog-message.ts';

/** RFC 5424 §6.2.5 APP-NAME. */
export const SYSLOG_APP_NAME = 'wardwatch';

/** RFC 5424 §6.2.7 MSGID: the same words as the `event` field of alerts.jsonl. */
export const SYSLOG_MSGID: Readonly<Record<AlertChange, string>> = { raised: 'alert', acknowledged: 'alert-acknowledged' };

/** Appended to a nurse's sentence that had to be cut, so the SOC sees it was. */
export const TRUNCATION_MARK = '… [truncated]';

/** RFC 5424 §7.3.1: sequenceId runs 1 … 2147483647, then starts again at 1. */
export const MAX_SEQUENCE_ID = 2_147_483_647;

export interface AlertSyslogOptions {
  /** Facility code (RFC 5424 §6.2.1). */
  readonly facility: number;
  readonly hostname: string;
  readonly procId: string;
  readonly reporter: CefReporter;
  readonly maxBytes: number;
  readonly bom: boolean;
  /** `meta sequenceId` (RFC 5424 §7.3.1): a gap at the collector is a message lost on the way or dropped from a full queue. */
  readonly sequenceId: number;
  readonly now: Date;
}

export interface FormattedAlert {
  readonly bytes: Buffer;
  /** The message did not fit in maxBytes and was cut. */
  readonly truncated: boolean;
}

/** Cuts at most `max` octets without splitting a UTF-8 sequence. */
function cutUtf8(bytes: Buffer, max: number): Buffer {
  let end = Math.min(max, bytes.length);
  // 10xxxxxx is a continuation byte: back up to the start of its character.
  while (end > 0 && end < bytes.length && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end);
}

/**
 * One alert change as the octets of an RFC 5424 message whose MSG is CEF, at most
 * `maxBytes` long. A message that does not fit loses the end of its msg (the nurse's
 * sentence, marked "[truncated]") first, so the identifiers stay whole; only if the rest
 * alone is too long is the message cut at a character boundary.
 */
export function formatAlertSyslog(alert: AlertView, change: AlertChange, options: AlertSyslogOptions): FormattedAlert {
  const build = (title: string): Buffer => formatSyslogMessage({
    facility: options.facility,
    severity: change === 'raised' ? SYSLOG_SEVERITY_OF_ALERT[alert.severity] : SYSLOG_SEVERITY_OF_ACKNOWLEDGEMENT,
    timestamp: options.now,
    hostname: options.hostname,
    appName: SYSLOG_APP_NAME,
    procId: options.procId,
    msgId: SYSLOG_MSGID[change],
    structuredData: [{ id: 'meta', params: [['sequenceId', String(options.sequenceId)]] }],
    msg: formatCef(alertCefEvent(alert, change, options.reporter, title)),
    bom: options.bom,
  });
  const msgLimit = CEF_EXTENSION_LIMITS.msg ?? 1023;
  const overLong = alert.title.length > msgLimit;
  const title = overLong ? truncateChars(alert.title, msgLimit - TRUNCATION_MARK.length) + TRUNCATION_MARK : alert.title;
  const whole = build(title);
  if (whole.length <= options.maxBytes) return { bytes: whole, truncated: overLong };
  // The longest prefix of the sentence that fits with the mark (binary search: only oversized messages pay for it).
  let low = 0;
  let high = Math.min(alert.title.length, msgLimit - TRUNCATION_MARK.length);
  let best: Buffer | null = null;
  while (low <= high) {
    const middle = Math.floor((low + high) / 2);
    const candidate = build(truncateChars(alert.title, middle) + TRUNCATION_MARK);
    if (candidate.length <= options.maxBytes) {
      best = candidate;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return { bytes: best ?? cutUtf8(build(TRUNCATION_MARK), options.maxBytes), truncated: true };
}
