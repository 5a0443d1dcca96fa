/**
 * ArcSight Common Event Format, as "Implementing ArcSight CEF" (rev 25, CEF 0) defines it:
 *
 *   CEF:Version|Device Vendor|Device Product|Device Version|Device Event Class ID|Name|Severity|[Extension]
 *
 * The extension is `key=value` pairs separated by spaces; a value may itself contain
 * spaces. Pure functions, no I/O: the syslog framing is agent/src/export/syslog-message.ts.
 */

export const CEF_VERSION = 0;

/** Header field sizes, in characters ("Header Field Definitions"). */
export const CEF_HEADER_LIMITS = { vendor: 63, product: 63, version: 31, signatureId: 1023, name: 512 } as const;

/**
 * Value sizes of the extension keys Wardwatch uses, in characters (the extension
 * dictionary). Keys not listed are numbers, addresses or timestamps.
 */
export const CEF_EXTENSION_LIMITS: Readonly<Record<string, number>> = {
  act: 63,
  app: 31,
  c6a2Label: 1023,
  cat: 1023,
  cs1: 4000,
  cs2: 4000,
  cs3: 4000,
  cs4: 4000,
  cs5: 4000,
  cs6: 4000,
  cs1Label: 1023,
  cs2Label: 1023,
  cs3Label: 1023,
  cs4Label: 1023,
  cs5Label: 1023,
  cs6Label: 1023,
  deviceExternalId: 255,
  duser: 1023,
  dvchost: 100,
  externalId: 40,
  msg: 1023,
  outcome: 63,
  reason: 1023,
  suser: 1023,
};

/** CEF extension keys are single words of letters and digits (the dictionary's form). */
const EXTENSION_KEY = /^[A-Za-z][A-Za-z0-9]*$/;

/**
 * Header: "If a pipe (|) is used in the header, it has to be escaped with a backslash
 * (\)" and "If a backslash (\) is used in the header or the extension, it has to be
 * escaped with another backslash". Equal signs need no escaping there. Newlines are
 * allowed "only in the value part of the extensions", so in the header CR, LF and the
 * other control characters (which CEF gives no escape for) become spaces.
 */
const HEADER_SPECIAL = /[\\|\x00-\x1f\x7f]/g;

export function escapeCefHeader(value: string): string {
  return value.replace(HEADER_SPECIAL, (char) => (char === '\\' || char === '|' ? `\\${char}` : ' '));
}

/**
 * Extension values: backslash → `\\`, equal sign → `\=` ("If an equal sign (=) is used in
 * the extensions, it has to be escaped with a backslash"), and "Multi-line fields can be
 * sent by CEF by encoding the newline character as \n or \r". Pipes are not escaped in
 * the extension. The other control characters, which CEF gives no escape for and syslog
 * receivers rewrite (rsyslog: `#011`), become spaces.
 */
const EXTENSION_SPECIAL = /[\\=\x00-\x1f\x7f]/g;
const EXTENSION_ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '=': '\\=', '\r': '\\r', '\n': '\\n' };

export function escapeCefExtensionValue(value: string): string {
  return value.replace(EXTENSION_SPECIAL, (char) => EXTENSION_ESCAPES[char] ?? ' ');
}

/** At most `max` UTF-16 code units, never splitting a surrogate pair. */
export function truncateChars(value: string, max: number): string {
  if (value.length <= max) return value;
  const code = value.charCodeAt(max - 1);
  return value.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}

export interface CefEvent {
  readonly vendor: string;
  readonly product: string;
  readonly version: string;
  /** Device Event Class ID: what kind of event, stable (the signature id SIEM rules key on). */
  readonly signatureId: string;
  /** A human-readable name of the kind of event; details belong in the extension. */
  readonly name: string;
  /** 0–10: 0–3 Low, 4–6 Medium, 7–8 High, 9–10 Very-High (agentSeverity). */
  readonly severity: number;
  /** In order; a null or empty value leaves its key out. */
  readonly extension: readonly (readonly [key: string, value: string | number | null])[];
}

/** One CEF record, without a syslog prefix. Values longer than the dictionary allows are cut. */
export function formatCef(event: CefEvent): string {
  if (!Number.isInteger(event.severity) || event.severity < 0 || event.severity > 10) throw new RangeError(`CEF severity must be an integer 0–10, got ${event.severity}`);
  const header = [
    `CEF:${CEF_VERSION}`,
    escapeCefHeader(truncateChars(event.vendor, CEF_HEADER_LIMITS.vendor)),
    escapeCefHeader(truncateChars(event.product, CEF_HEADER_LIMITS.product)),
    escapeCefHeader(truncateChars(event.version, CEF_HEADER_LIMITS.version)),
    escapeCefHeader(truncateChars(event.signatureId, CEF_HEADER_LIMITS.signatureId)),
    escapeCefHeader(truncateChars(event.name, CEF_HEADER_LIMITS.name)),
    String(event.severity),
  ].join('|');
  const pairs: string[] = [];
  for (const [key, value] of event.extension) {
    if (!EXTENSION_KEY.test(key)) throw new RangeError(`not a CEF extension key: ${JSON.stringify(key)}`);
    if (value === null) continue;
    const text = typeof value === 'number' ? String(value) : value;
    if (text.length === 0) continue;
    const limit = CEF_EXTENSION_LIMITS[key];
    pairs.push(`${key}=${escapeCefExtensionValue(limit === undefined ? text : truncateChars(text, limit))}`);
  }
  return `${header}|${pairs.join(' ')}`;
}
