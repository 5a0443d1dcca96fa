import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALERT_CATALOGUE, type AlertType } from '../../agent/src/alert/catalogue.ts';
import { alertCefEvent, alertEventName, CEF_SEVERITY, SYSLOG_SEVERITY_OF_ACKNOWLEDGEMENT, SYSLOG_SEVERITY_OF_ALERT, type CefReporter } from '../../agent/src/export/alert-cef.ts';
import { escapeCefExtensionValue, escapeCefHeader, formatCef, type CefEvent } from '../../agent/src/export/cef.ts';
import type { AlertView, Severity } from '../../agent/src/server/dashboard-protocol.ts';
import { parseCef } from '../helpers/syslog.ts';

const REPORTER: CefReporter = { version: '0.1.0', deviceExternalId: 'wardwatch-4W', dvchost: 'wardwatch-4w.hospital.example' };

function alertOf(overrides: Partial<AlertView> = {}): AlertView {
  return {
    id: '3f6c2a4e-8a0b-4b7c-9d1e-2f3a4b5c6d7e',
    type: 'dose-above-hard-limit',
    severity: 'critical',
    ts: '2025-03-04T10:11:12.345Z',
    lastTs: '2025-03-04T10:15:00.000Z',
    count: 1,
    deviceId: 'pump-01',
    ward: '4W',
    bed: '1',
    location: null,
    title: 'Bed 1 · pump-01: heparin 4,000 units/h is above the hard limit 2,000 units/h (sent by station-4w)',
    evidence: { account: 'station-4w', role: 'station', clientId: 'station-4w-1', address: '10.4.2.7', transport: 'mqtt', command: { command: 'set_rate', params: { rate_ml_h: 320 } } },
    state: 'open',
    ack: null,
    ...overrides,
  };
}

/** Mostly the characters CEF treats specially (and key-like words around them), some of any kind. */
const CEF_CHARACTERS = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('\\', '=', '|', '\r', '\n', ' ', 'k', 'e', 'y', '1', '\t', '\x00', 'é') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);

const event = (name: string, extension: CefEvent['extension']): CefEvent => ({ vendor: 'Wardwatch', product: 'Wardwatch', version: '0.1.0', signatureId: 'x', name, severity: 5, extension });

describe('CEF escaping (Implementing ArcSight CEF rev 25, "Character Encoding")', () => {
  it('header: a pipe and a backslash are escaped with a backslash, an equal sign is not, a line break becomes a space', () => {
    expect(escapeCefHeader('detected a | in message')).toBe('detected a \\| in message');
    expect(escapeCefHeader('detected a \\ in packet')).toBe('detected a \\\\ in packet');
    expect(escapeCefHeader('detected a = in message')).toBe('detected a = in message');
    expect(escapeCefHeader('line\rone\ntwo\r\nthree')).toBe('line one two  three');
    expect(escapeCefHeader('tab\there\x00nul\x7fdel')).toBe('tab here nul del');
    expect(escapeCefHeader('\\|')).toBe('\\\\\\|');
  });

  it('extension: backslash, equal sign, CR and LF are escaped; a pipe is not; other controls become spaces', () => {
    expect(escapeCefExtensionValue('blocked a \\')).toBe('blocked a \\\\');
    expect(escapeCefExtensionValue('blocked a =')).toBe('blocked a \\=');
    expect(escapeCefExtensionValue('Detected a threat.\nNo action needed.\r')).toBe('Detected a threat.\\nNo action needed.\\r');
    expect(escapeCefExtensionValue('blocked a |')).toBe('blocked a |');
    expect(escapeCefExtensionValue('a\tb\x01c')).toBe('a b c');
    expect(escapeCefExtensionValue('\\=')).toBe('\\\\\\=');
  });

  it('the examples of the specification format and parse back', () => {
    const text = formatCef({ vendor: 'security', product: 'threatmanager', version: '1.0', signatureId: '100', name: 'detected a | in message', severity: 10, extension: [['src', '10.0.0.1'], ['act', 'blocked a |'], ['dst', '1.1.1.1']] });
    expect(text).toBe('CEF:0|security|threatmanager|1.0|100|detected a \\| in message|10|src=10.0.0.1 act=blocked a | dst=1.1.1.1');
    const parsed = parseCef(text);
    expect(parsed.name).toBe('detected a | in message');
    expect([...parsed.extension]).toEqual([['src', '10.0.0.1'], ['act', 'blocked a |'], ['dst', '1.1.1.1']]);
    expect(formatCef({ ...event('detected a = in message', [['act', 'blocked a =']]) })).toContain('|detected a = in message|5|act=blocked a \\=');
  });

  it('every special character survives header and extension: what a strict parser reads back is what was sent', () => {
    const nasty = 'a|b\\c=d\re\nf g\\=h\\|i \\n=x';
    const parsed = parseCef(formatCef(event(nasty, [['msg', nasty], ['suser', nasty], ['cs1Label', 'ward'], ['cs1', nasty]])));
    expect(parsed.name).toBe('a|b\\c=d e f g\\=h\\|i \\n=x');
    expect(parsed.extension.get('msg')).toBe(nasty);
    expect(parsed.extension.get('suser')).toBe(nasty);
    expect(parsed.extension.get('cs1')).toBe(nasty);
  });

  it('any string round-trips (fast-check): header with line breaks as spaces, extension exactly, controls as spaces', () => {
    const spaced = (value: string, keep: RegExp) => value.replace(/[\x00-\x1f\x7f]/g, (char) => (keep.test(char) ? char : ' '));
    fc.assert(
      fc.property(fc.string({ unit: CEF_CHARACTERS, minLength: 1, maxLength: 120 }), fc.string({ unit: CEF_CHARACTERS, minLength: 1, maxLength: 200 }), (header, value) => {
        // A value that starts or ends with a space, or is only spaces, is ambiguous in CEF itself (trailing spaces of the last pair are not preserved).
        fc.pre(value.trim() === value && value.trim().length > 0 && !/[\ud800-\udfff]/.test(value));
        const parsed = parseCef(formatCef(event(header, [['suser', value], ['msg', value]])));
        expect(parsed.name).toBe(spaced(header, /$^/));
        expect(parsed.extension.get('suser')).toBe(spaced(value, /[\r\n]/));
        expect(parsed.extension.get('msg')).toBe(spaced(value, /[\r\n]/));
      }),
      { numRuns: 500 },
    );
  });

  it('values are cut to the dictionary sizes, and a bad key or severity is refused', () => {
    const parsed = parseCef(formatCef(event('n'.repeat(600), [['act', 'a'.repeat(100)], ['dvchost', 'h'.repeat(150)], ['externalId', 'e'.repeat(50)], ['msg', '😀'.repeat(600)]])));
    expect(parsed.name).toHaveLength(512);
    expect(parsed.extension.get('act')).toHaveLength(63);
    expect(parsed.extension.get('dvchost')).toHaveLength(100);
    expect(parsed.extension.get('externalId')).toHaveLength(40);
    // 1023 code units, never half a surrogate pair.
    expect(parsed.extension.get('msg')).toBe('😀'.repeat(511));
    expect(() => formatCef(event('x', [['bad key', 'v']]))).toThrow(/not a CEF extension key/);
    expect(() => formatCef({ ...event('x', []), severity: 11 })).toThrow(/0–10/);
  });
});

describe('alert → CEF', () => {
  it('maps our four severities onto the four CEF bands and onto RFC 5424 severities, most urgent first', () => {
    const band = (value: number) => (value >= 9 ? 'Very-High' : value >= 7 ? 'High' : value >= 4 ? 'Medium' : 'Low');
    expect(Object.fromEntries(Object.entries(CEF_SEVERITY).map(([severity, value]) => [severity, band(value)]))).toEqual({ critical: 'Very-High', high: 'High', warning: 'Medium', info: 'Low' });
    expect(SYSLOG_SEVERITY_OF_ALERT).toEqual({ critical: 2, high: 3, warning: 4, info: 6 });
    const order: Severity[] = ['critical', 'high', 'warning', 'info'];
    for (let i = 1; i < order.length; i += 1) {
      expect(CEF_SEVERITY[order[i - 1] as Severity]).toBeGreaterThan(CEF_SEVERITY[order[i] as Severity]);
      expect(SYSLOG_SEVERITY_OF_ALERT[order[i - 1] as Severity]).toBeLessThan(SYSLOG_SEVERITY_OF_ALERT[order[i] as Severity]);
    }
  });

  it('docs/protocol.md states the mapping the code applies', () => {
    const text = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
    const rows = new Map([...text.matchAll(/^\| `(critical|high|warning|info)` \| (\d+) \([A-Za-z-]+\) \| (\d) [a-z]+ \|$/gm)].map((match) => [match[1], [Number(match[2]), Number(match[3])]]));
    expect(Object.fromEntries(rows)).toEqual(Object.fromEntries((Object.keys(CEF_SEVERITY) as Severity[]).map((severity) => [severity, [CEF_SEVERITY[severity], SYSLOG_SEVERITY_OF_ALERT[severity]]])));
    expect(text).toMatch(new RegExp(`^\\| any, acknowledged \\| the alert's \\| ${SYSLOG_SEVERITY_OF_ACKNOWLEDGEMENT} notice \\|$`, 'm'));
  });

  it('every catalogue type gives a CEF record a strict parser accepts, with the catalogue severity', () => {
    for (const [type, entry] of Object.entries(ALERT_CATALOGUE) as [AlertType, { severity: Severity }][]) {
      const parsed = parseCef(formatCef(alertCefEvent(alertOf({ type, severity: entry.severity }), 'raised', REPORTER)));
      expect(parsed.signatureId, type).toBe(type);
      expect(parsed.severity, type).toBe(CEF_SEVERITY[entry.severity]);
      expect(parsed.name, type).toBe(alertEventName(type));
      expect(parsed.name, type).not.toMatch(/-/);
    }
  });

  it('a raised alert: event time, identifiers of the sender, ward, bed, device, alert id; the evidence itself stays home', () => {
    const alert = alertOf({ evidence: { account: 'station-4w', clientId: 'station-4w-1', address: '10.4.2.7', password: 'hunter2', passwordHash: 'scrypt$x', command: { command: 'set_rate', params: { rate_ml_h: 320 } }, patient: 'MRN 12345' } });
    const text = formatCef(alertCefEvent(alert, 'raised', REPORTER));
    const cef = parseCef(text);
    expect(cef).toMatchObject({ version: 0, vendor: 'Wardwatch', product: 'Wardwatch', deviceVersion: '0.1.0', signatureId: 'dose-above-hard-limit', name: 'Dose above hard limit', severity: 10 });
    expect(Object.fromEntries(cef.extension)).toEqual({
      rt: String(Date.parse(alert.ts)),
      act: 'raised',
      externalId: alert.id,
      deviceExternalId: 'wardwatch-4W',
      dvchost: 'wardwatch-4w.hospital.example',
      src: '10.4.2.7',
      suser: 'station-4w',
      cs1Label: 'ward',
      cs1: '4W',
      cs2Label: 'bed',
      cs2: '1',
      cs3Label: 'deviceId',
      cs3: 'pump-01',
      cs4Label: 'alertId',
      cs4: alert.id,
      cs6Label: 'clientId',
      cs6: 'station-4w-1',
      msg: alert.title,
    });
    for (const secret of ['hunter2', 'scrypt', 'rate_ml_h', '320', 'MRN']) expect(text).not.toContain(secret);
  });

  it('an acknowledgement: who acknowledged and from where, when, the count so far; not the free-text reason', () => {
    const alert = alertOf({ count: 3, state: 'acknowledged', ack: { by: 'nurse.jones', at: '2025-03-04T10:20:00.000Z', reason: 'Patient Smith, bed 1, pump checked', from: '10.4.9.20' } });
    const text = formatCef(alertCefEvent(alert, 'acknowledged', REPORTER));
    const cef = parseCef(text);
    expect(cef.name).toBe('Dose above hard limit (acknowledged)');
    expect(cef.severity).toBe(10);
    expect(Object.fromEntries(cef.extension)).toMatchObject({ rt: String(Date.parse('2025-03-04T10:20:00.000Z')), start: String(Date.parse(alert.ts)), end: String(Date.parse(alert.lastTs)), cnt: '3', act: 'acknowledged', suser: 'nurse.jones', src: '10.4.9.20', cs4: alert.id });
    expect(cef.extension.has('cs6')).toBe(false);
    expect(text).not.toContain('Smith');
  });

  it('an IPv6 sender goes to c6a2 with its label; a missing ward, bed or device leaves its field and label out; odd evidence is ignored', () => {
    const cef = parseCef(formatCef(alertCefEvent(alertOf({ deviceId: null, ward: null, bed: null, location: 'Equipment store', evidence: { address: 'fd00::7', account: 'x\u0000y', master: 'a'.repeat(300), attemptedUsername: 'admin' } }), 'raised', REPORTER)));
    expect(cef.extension.get('c6a2')).toBe('fd00::7');
    expect(cef.extension.get('c6a2Label')).toBe('Source IPv6 Address');
    expect(cef.extension.has('src')).toBe(false);
    expect(cef.extension.has('suser')).toBe(false);
    expect(cef.extension.has('cs6')).toBe(false);
    expect(cef.extension.get('duser')).toBe('admin');
    expect(cef.extension.get('cs5')).toBe('Equipment store');
    for (const key of ['cs1', 'cs1Label', 'cs2', 'cs2Label', 'cs3', 'cs3Label']) expect(cef.extension.has(key), key).toBe(false);
  });
});
