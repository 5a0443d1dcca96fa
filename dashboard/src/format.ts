/**
 * How values read on the wall display: times, severity labels, where an alert is,
 * what a device is doing. Pure functions, no DOM.
 */
import { HUB_ORIGIN, type AlertView, type DeviceView, type Severity } from '../../agent/src/server/dashboard-protocol.ts';

export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'warning', 'info'];

export const SEVERITY_LABEL: Readonly<Record<Severity, string>> = {
  critical: 'CRITICAL',
  high: 'HIGH',
  warning: 'WARNING',
  info: 'INFO',
};

/** Lower is more urgent; the order of the alert list and the "worst" on a tile. */
export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { critical: 0, high: 1, warning: 2, info: 3 };

export function isSeverity(value: unknown): value is Severity {
  return typeof value === 'string' && Object.hasOwn(SEVERITY_RANK, value);
}

/** Epoch milliseconds of an ISO-8601 time, or NaN when absent or unreadable. */
export function parseTime(iso: string | null | undefined): number {
  return typeof iso === 'string' ? Date.parse(iso) : Number.NaN;
}

const pad2 = (value: number): string => String(value).padStart(2, '0');

/** 24-hour HH:MM:SS in the station's local time: clinical notes are written in 24-hour time. */
export function formatClock(date: Date): string {
  return `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
}

const DAY_FORMAT = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });

/** HH:MM:SS for today, "28 Nov 14:02:11" for another day, an em dash when unknown. */
export function formatEventTime(iso: string | null | undefined, now: Date = new Date()): string {
  const ms = parseTime(iso);
  if (Number.isNaN(ms)) return '—';
  const date = new Date(ms);
  const sameDay = date.getFullYear() === now.getFullYear() && date.getMonth() === now.getMonth() && date.getDate() === now.getDate();
  return sameDay ? formatClock(date) : `${DAY_FORMAT.format(date)} ${formatClock(date)}`;
}

/** "Bed 3", else the location ("EP clinic room 1"), else null. */
export function placeLabel(bed: string | null, location: string | null): string | null {
  if (bed !== null && bed !== '') return `Bed ${bed}`;
  if (location !== null && location !== '') return location;
  return null;
}

/** An alert's origin badge at `wardwatch hub` (render-alerts.ts): "Ward 4W", or "Hub" for the hub's own alerts; empty at an agent. */
export function originLabel(origin: string | undefined): string {
  if (origin === undefined) return '';
  return origin === HUB_ORIGIN ? 'Hub' : `Ward ${origin}`;
}

/** Bed first, then the device: "Bed 3 · pump-03"; an alert with no device names its ward, or the hub's dashboard for the hub's own. */
export function alertPlace(alert: AlertView): string {
  const parts: string[] = [];
  const place = placeLabel(alert.bed, alert.location);
  if (place !== null) parts.push(place);
  if (alert.deviceId !== null && alert.deviceId !== '') parts.push(alert.deviceId);
  if (parts.length === 0 && alert.origin === HUB_ORIGIN) parts.push('Hub dashboard');
  if (parts.length === 0) parts.push(alert.ward !== null && alert.ward !== '' ? `Ward ${alert.ward}` : 'Device network');
  return parts.join(' · ');
}

/**
 * The alert's sentence without a leading copy of the place the row already shows in
 * bold ("Bed 1 · pump-01: heparin …" → "heparin …"); other titles are left as sent.
 */
export function alertHeadline(alert: AlertView): string {
  const prefix = `${alertPlace(alert)}: `;
  return alert.title.startsWith(prefix) && alert.title.length > prefix.length ? alert.title.slice(prefix.length) : alert.title;
}

export function profileLabel(profile: DeviceView['profile']): string {
  switch (profile) {
    case 'infusion-pump':
      return 'Infusion pump';
    case 'pacemaker-programmer':
      return 'Pacemaker programmer';
    default:
      return String(profile);
  }
}

/** A coarse status the stylesheet keys on (`data-status`); the text says the rest. */
export type DeviceStatusKind = 'offline' | 'alarm' | 'running' | 'paused' | 'complete' | 'idle' | 'session' | 'unknown';

export interface DeviceStatus {
  readonly kind: DeviceStatusKind;
  /** Plain words a nurse reads: "Running", "Alarm: occlusion", "Session open". */
  readonly text: string;
  /** A symbol shown beside the text (shape, not only colour). */
  readonly symbol: string;
}

function capitalise(text: string): string {
  return text.length === 0 ? text : text.charAt(0).toUpperCase() + text.slice(1);
}

export function deviceStatus(device: DeviceView): DeviceStatus {
  if (!device.online) return { kind: 'offline', text: 'Offline', symbol: '✖' };
  switch (device.state) {
    case 'running':
      return { kind: 'running', text: 'Running', symbol: '▶' };
    case 'paused':
      return { kind: 'paused', text: 'Paused', symbol: '❚❚' };
    case 'alarm':
      return { kind: 'alarm', text: device.alarm !== null && device.alarm !== '' ? `Alarm: ${device.alarm}` : 'Alarm', symbol: '▲' };
    case 'complete':
      return { kind: 'complete', text: 'Complete', symbol: '✔' };
    case 'open':
      return { kind: 'session', text: 'Session open', symbol: '◉' };
    case 'idle':
    case '':
      return { kind: 'idle', text: 'Idle', symbol: '○' };
    default:
      return { kind: 'unknown', text: capitalise(device.state), symbol: '?' };
  }
}

/** Evidence for the engineer: strings as they are, anything nested as indented JSON. */
export function evidenceText(value: unknown): { readonly text: string; readonly nested: boolean } {
  if (typeof value === 'string') return { text: value, nested: false };
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return { text: String(value), nested: false };
  if (value === undefined) return { text: '', nested: false };
  try {
    return { text: JSON.stringify(value, null, 2) ?? String(value), nested: true };
  } catch {
    return { text: String(value), nested: false };
  }
}

export function pluralise(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}
