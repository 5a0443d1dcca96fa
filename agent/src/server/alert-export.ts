/**
 * GET /api/alerts/export?format=csv|json: the alerts the agent keeps, for an incident
 * report or a spreadsheet. JSON is the AlertView list as the API sends it (evidence
 * included); CSV is one row per alert with the columns below.
 *
 * CSV follows RFC 4180 (every field in double quotes, a quote doubled, CRLF line ends)
 * and defuses formula injection (OWASP "CSV Injection"): a field that starts with
 * = + - @ (or a tab or carriage return) gets a leading ' so a spreadsheet shows it as
 * text. Alert titles quote what a sender published, so they are attacker-controlled.
 */
import type { AlertView } from './dashboard-protocol.ts';

export type ExportFormat = 'csv' | 'json';

/** `origin`: at `wardwatch hub`, the ward whose agent raised the alert (its uplink topic); empty at an agent. */
export const EXPORT_COLUMNS = ['id', 'ts', 'lastTs', 'count', 'severity', 'type', 'deviceId', 'ward', 'bed', 'title', 'state', 'acknowledgedBy', 'acknowledgedAt', 'reason', 'origin'] as const;

const FORMULA_START = /^[=+\-@\t\r]/;

export function isExportFormat(value: string | null): value is ExportFormat {
  return value === 'csv' || value === 'json';
}

/** One CSV field: injection prefix, then quoted with inner quotes doubled. */
export function csvField(value: string | number | null): string {
  let text = value === null ? '' : String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return `"${text.replaceAll('"', '""')}"`;
}

function row(alert: AlertView): (string | number | null)[] {
  return [
    alert.id,
    alert.ts,
    alert.lastTs,
    alert.count,
    alert.severity,
    alert.type,
    alert.deviceId,
    alert.ward,
    alert.bed,
    alert.title,
    alert.state,
    alert.ack?.by ?? null,
    alert.ack?.at ?? null,
    alert.ack?.reason ?? null,
    alert.origin ?? null,
  ];
}

export function alertsCsv(alerts: readonly AlertView[]): string {
  const lines = [EXPORT_COLUMNS.map(csvField).join(','), ...alerts.map((alert) => row(alert).map(csvField).join(','))];
  return `${lines.join('\r\n')}\r\n`;
}

/** `wardwatch-alerts-20250101T120000Z.csv`: sortable, and safe in a header (no quotes or spaces). */
export function exportFileName(format: ExportFormat, now: Date): string {
  const stamp = now.toISOString().replace(/\.\d{3}Z$/, 'Z').replaceAll(/[-:]/g, '');
  return `wardwatch-alerts-${stamp}.${format}`;
}
