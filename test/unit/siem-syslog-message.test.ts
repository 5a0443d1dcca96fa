import { describe, expect, it } from 'vitest';
import { formatAlertSyslog, TRUNCATION_MARK, type AlertSyslogOptions } from '../../agent/src/export/alert-syslog.ts';
import { escapeSdParamValue, formatSyslogMessage, headerField, priority, SYSLOG_SEVERITY, syslogTimestamp, type SyslogMessage } from '../../agent/src/export/syslog-message.ts';
import { octetCountingFrame } from '../../agent/src/export/syslog-stream-sender.ts';
import { SYSLOG_FACILITY_CODES } from '../../agent/src/model/siem-schema.ts';
import type { AlertView } from '../../agent/src/server/dashboard-protocol.ts';
import { OctetCountingDecoder, parseCef, parseSyslogMessage, sdParam } from '../helpers/syslog.ts';

const BASE: SyslogMessage = {
  facility: SYSLOG_FACILITY_CODES.local4,
  severity: SYSLOG_SEVERITY.critical,
  timestamp: new Date('2025-03-04T10:11:12.345Z'),
  hostname: 'wardwatch-4w.hospital.example',
  appName: 'wardwatch',
  procId: '4242',
  msgId: 'alert',
  structuredData: [],
  msg: 'CEF:0|Wardwatch|Wardwatch|0.1.0|x|y|5|msg=ü',
  bom: true,
};

describe('RFC 5424 messages', () => {
  it('PRI is facility × 8 + severity (§6.2.1), VERSION 1, TIMESTAMP with milliseconds and Z, then the header fields', () => {
    const bytes = formatSyslogMessage(BASE);
    expect(bytes.toString('latin1').startsWith('<162>1 2025-03-04T10:11:12.345Z wardwatch-4w.hospital.example wardwatch 4242 alert - \xef\xbb\xbfCEF:0|Wardwatch|')).toBe(true);
    expect(priority(20, 2)).toBe(162);
    expect(priority(SYSLOG_FACILITY_CODES.local7, SYSLOG_SEVERITY.debug)).toBe(191);
    expect(priority(SYSLOG_FACILITY_CODES.user, SYSLOG_SEVERITY.emergency)).toBe(8);
    expect(() => priority(24, 0)).toThrow(/0–23/);
    const parsed = parseSyslogMessage(bytes);
    expect(parsed).toMatchObject({ pri: 162, facility: 20, severity: 2, timestamp: '2025-03-04T10:11:12.345Z', hostname: 'wardwatch-4w.hospital.example', appName: 'wardwatch', procId: '4242', msgId: 'alert', structuredData: [], bom: true, msg: BASE.msg });
  });

  it('MSG starts with the UTF-8 BOM (§6.4) unless turned off; no MSG, no trailing space', () => {
    expect(parseSyslogMessage(formatSyslogMessage({ ...BASE, bom: false }))).toMatchObject({ bom: false, msg: BASE.msg });
    const bare = formatSyslogMessage({ ...BASE, msg: null });
    expect(bare.toString('latin1').endsWith('alert -')).toBe(true);
    expect(parseSyslogMessage(bare).msg).toBeNull();
  });

  it('header fields are PRINTUSASCII of bounded length; an empty one is NILVALUE', () => {
    expect(headerField('', 48)).toBe('-');
    expect(headerField('ward 4W·x', 48)).toBe('ward_4W_x');
    expect(headerField('h'.repeat(300), 255)).toHaveLength(255);
    const parsed = parseSyslogMessage(formatSyslogMessage({ ...BASE, hostname: 'bad host\n', appName: '', procId: 'p'.repeat(200), msgId: 'm'.repeat(40) }));
    expect(parsed).toMatchObject({ hostname: 'bad_host_', appName: null, msgId: 'm'.repeat(32) });
    expect(parsed.procId).toHaveLength(128);
  });

  it('TIMESTAMP is NILVALUE when unknown or not representable', () => {
    expect(syslogTimestamp(null)).toBe('-');
    expect(syslogTimestamp(new Date(Number.NaN))).toBe('-');
    expect(syslogTimestamp(new Date('+012345-01-01T00:00:00Z'))).toBe('-');
    expect(parseSyslogMessage(formatSyslogMessage({ ...BASE, timestamp: null })).timestamp).toBeNull();
  });

  it('SD PARAM-VALUE escapes ", \\ and ] (§6.3.3) and nothing else; a strict parser reads every value back', () => {
    expect(escapeSdParamValue('a"b\\c]d=e[f')).toBe('a\\"b\\\\c\\]d=e[f');
    const values = ['"', '\\', ']', 'a"b\\c]d', 'ü [x] = "y"', '\\\\]]""'];
    const bytes = formatSyslogMessage({ ...BASE, structuredData: [{ id: 'meta', params: [['sequenceId', '7']] }, { id: 'test@32473', params: values.map((value, index) => [`p${index}`, value] as const) }] });
    const parsed = parseSyslogMessage(bytes);
    expect(sdParam(parsed, 'meta', 'sequenceId')).toBe('7');
    values.forEach((value, index) => expect(sdParam(parsed, 'test@32473', `p${index}`)).toBe(value));
    expect(() => formatSyslogMessage({ ...BASE, structuredData: [{ id: 'bad id', params: [] }] })).toThrow(/SD-NAME/);
    expect(() => formatSyslogMessage({ ...BASE, structuredData: [{ id: 'ok', params: [['a=b', 'v']] }] })).toThrow(/SD-NAME/);
  });

  it('RFC 6587 octet counting: the length in octets, a space, the message; a decoder splits a stream of them', () => {
    const message = formatSyslogMessage(BASE);
    const frame = octetCountingFrame(message);
    expect(frame.subarray(0, String(message.length).length + 1).toString('ascii')).toBe(`${message.length} `);
    const received: Buffer[] = [];
    const decoder = new OctetCountingDecoder((bytes) => received.push(bytes));
    const stream = Buffer.concat([frame, octetCountingFrame(Buffer.from('x')), frame]);
    for (let i = 0; i < stream.length; i += 7) decoder.push(stream.subarray(i, i + 7));
    expect(received.map((bytes) => bytes.length)).toEqual([message.length, 1, message.length]);
    expect(() => new OctetCountingDecoder(() => undefined).push(Buffer.from('012 x'))).toThrow(/MSG-LEN/);
  });
});

function alertOf(title: string): AlertView {
  return {
    id: '3f6c2a4e-8a0b-4b7c-9d1e-2f3a4b5c6d7e', type: 'dose-above-hard-limit', severity: 'critical', ts: '2025-03-04T10:11:12.345Z', lastTs: '2025-03-04T10:11:12.345Z', count: 1,
    deviceId: 'pump-01', ward: '4W', bed: '1', location: null, title, evidence: { account: 'station-4w', address: '10.4.2.7' }, state: 'open', ack: null,
  };
}

const OPTIONS: AlertSyslogOptions = {
  facility: SYSLOG_FACILITY_CODES.local4, hostname: 'wardwatch-4w', procId: '4242', reporter: { version: '0.1.0', deviceExternalId: 'wardwatch-4W', dvchost: 'wardwatch-4w' },
  maxBytes: 2048, bom: true, sequenceId: 12, now: new Date('2025-03-04T10:11:13.000Z'),
};

describe('an alert as a syslog message', () => {
  it('PRI from the alert severity (critical → 2) or notice (5) for an acknowledgement; MSGID alert / alert-acknowledged; meta sequenceId', () => {
    const raised = parseSyslogMessage(formatAlertSyslog(alertOf('Bed 1 · pump-01: too much'), 'raised', OPTIONS).bytes);
    expect(raised).toMatchObject({ pri: 20 * 8 + 2, appName: 'wardwatch', msgId: 'alert', procId: '4242', timestamp: '2025-03-04T10:11:13.000Z', bom: true });
    expect(sdParam(raised, 'meta', 'sequenceId')).toBe('12');
    expect(parseCef(raised.msg ?? '').extension.get('msg')).toBe('Bed 1 · pump-01: too much');
    const acknowledged = { ...alertOf('x'), state: 'acknowledged' as const, ack: { by: 'nurse.jones', at: '2025-03-04T10:12:00.000Z', reason: 'checked', from: '10.4.9.20' } };
    expect(parseSyslogMessage(formatAlertSyslog(acknowledged, 'acknowledged', OPTIONS).bytes)).toMatchObject({ pri: 20 * 8 + 5, msgId: 'alert-acknowledged' });
    const warning = parseSyslogMessage(formatAlertSyslog({ ...alertOf('x'), severity: 'warning' }, 'raised', { ...OPTIONS, facility: SYSLOG_FACILITY_CODES.local0 }).bytes);
    expect(warning).toMatchObject({ facility: 16, severity: 4 });
  });

  it('a message over maxBytes loses the end of its sentence, marked, and stays parseable; identifiers stay whole', () => {
    const title = `Bed 1 · pump-01: ${'é€😀 '.repeat(300)}`;
    const formatted = formatAlertSyslog(alertOf(title), 'raised', { ...OPTIONS, maxBytes: 480 });
    expect(formatted.truncated).toBe(true);
    expect(formatted.bytes.length).toBeLessThanOrEqual(480);
    expect(formatted.bytes.length).toBeGreaterThan(400);
    const cef = parseCef(parseSyslogMessage(formatted.bytes).msg ?? '');
    const msg = cef.extension.get('msg') ?? '';
    expect(msg.endsWith(TRUNCATION_MARK)).toBe(true);
    expect(title.startsWith(msg.slice(0, -TRUNCATION_MARK.length))).toBe(true);
    expect(cef.extension.get('cs4')).toBe('3f6c2a4e-8a0b-4b7c-9d1e-2f3a4b5c6d7e');
    expect(cef.extension.get('suser')).toBe('station-4w');
  });

  it('a sentence longer than CEF allows for msg (1023) is cut and marked even when the message would fit', () => {
    const formatted = formatAlertSyslog(alertOf('x'.repeat(1500)), 'raised', OPTIONS);
    expect(formatted.truncated).toBe(true);
    const msg = parseCef(parseSyslogMessage(formatted.bytes).msg ?? '').extension.get('msg') ?? '';
    expect(msg).toHaveLength(1023);
    expect(msg.endsWith(TRUNCATION_MARK)).toBe(true);
    expect(formatAlertSyslog(alertOf('short'), 'raised', OPTIONS).truncated).toBe(false);
  });

  it('when even the identifiers do not fit, the message is cut at a UTF-8 character boundary', () => {
    const formatted = formatAlertSyslog({ ...alertOf('x'), ward: 'ü'.repeat(400) }, 'raised', { ...OPTIONS, maxBytes: 480 });
    expect(formatted.truncated).toBe(true);
    expect(formatted.bytes.length).toBeLessThanOrEqual(480);
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(formatted.bytes)).not.toThrow();
    expect(parseSyslogMessage(formatted.bytes).msgId).toBe('alert');
  });
});
