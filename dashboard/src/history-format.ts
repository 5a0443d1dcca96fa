/**
 * What the device page's charts and legends say, as pure functions (no DOM, no canvas):
 * which series share a chart, the rows uPlot draws (gaps kept as gaps), the value range
 * that keeps limits and the learned envelope in view, and every legend line in words, so
 * that colour is never the only signal.
 */
import type { CommandMarkerView, HistoryFamily, HistoryLimitsView, HistorySeriesView, LearnedEnvelopeView } from '../../agent/src/server/dashboard-protocol.ts';

export interface ChartGroup {
  /** The dose series key (one chart per drug), else the family. */
  readonly id: string;
  readonly family: HistoryFamily;
  readonly title: string;
  readonly unit: string;
  readonly series: readonly HistorySeriesView[];
}

const FAMILY_TITLE: Readonly<Record<HistoryFamily, string>> = {
  dose: 'Dose',
  rate: 'Programmed rate',
  volume: 'Volume infused',
  battery: 'Battery',
  'pacing-rate': 'Pacing rates (programmed)',
  'pacing-amplitude': 'Pulse amplitude (programmed)',
  'pacing-width': 'Pulse width (programmed)',
};

/** One chart per drug's dose, one per other family; in the agent's order (the running drug's dose first). */
export function chartGroups(series: readonly HistorySeriesView[]): ChartGroup[] {
  const groups: ChartGroup[] = [];
  const byFamily = new Map<HistoryFamily, HistorySeriesView[]>();
  for (const item of series) {
    if (item.family === 'dose') {
      groups.push({ id: item.key, family: 'dose', title: item.label.charAt(0).toUpperCase() + item.label.slice(1), unit: item.unit, series: [item] });
      continue;
    }
    let members = byFamily.get(item.family);
    if (members === undefined) {
      members = [];
      byFamily.set(item.family, members);
      groups.push({ id: item.family, family: item.family, title: FAMILY_TITLE[item.family] ?? item.label, unit: item.unit, series: members });
    }
    members.push(item);
  }
  return groups;
}

/** Three significant figures, no trailing zeros (as the agent's alerts write numbers). */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  const digits = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3;
  return String(Number(value.toFixed(digits)));
}

const pad2 = (value: number): string => String(value).padStart(2, '0');
const DAY_FORMAT = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });

/** 24-hour HH:MM in the station's local time. */
export function formatHourMinute(ms: number): string {
  const date = new Date(ms);
  return `${pad2(date.getHours())}:${pad2(date.getMinutes())}`;
}

/** A time-axis tick in local time: "14:00", and "2 Mar 00:00" on the first tick and where the day changes. */
export function timeTick(ms: number, previousMs: number | null): string {
  const date = new Date(ms);
  const previous = previousMs === null ? null : new Date(previousMs);
  const newDay = previous === null || previous.getDate() !== date.getDate() || previous.getMonth() !== date.getMonth();
  return newDay ? `${DAY_FORMAT.format(date)} ${formatHourMinute(ms)}` : formatHourMinute(ms);
}

/** Local date and time of an event time, for tables: "2 Mar 14:02:11". */
export function formatStamp(ms: number): string {
  const date = new Date(ms);
  return `${DAY_FORMAT.format(date)} ${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
}

/**
 * The rows uPlot draws: the union of the series' bucket times, each series' last, min and
 * max as three columns (in that order). `undefined` where a series has no point at a time
 * another has (uPlot joins across it); a `null` row after a pause longer than two buckets,
 * so a device that was silent shows a gap, not a line drawn through the silence.
 */
export interface AlignedHistory {
  readonly x: number[];
  /** Per series: last, min, max. */
  readonly columns: (number | null | undefined)[][];
}

export function alignHistory(series: readonly HistorySeriesView[], stepMs: number): AlignedHistory {
  const times = new Set<number>();
  for (const item of series) for (const t of item.t) times.add(t);
  const sorted = [...times].sort((a, b) => a - b);
  const x: number[] = [];
  const gapRows: boolean[] = [];
  for (const t of sorted) {
    const previous = x[x.length - 1];
    if (previous !== undefined && t - previous > 2 * stepMs) {
      x.push(previous + stepMs);
      gapRows.push(true);
    }
    x.push(t);
    gapRows.push(false);
  }
  const columns: (number | null | undefined)[][] = [];
  for (const item of series) {
    const index = new Map<number, number>();
    item.t.forEach((t, position) => index.set(t, position));
    for (const values of [item.last, item.min, item.max]) {
      columns.push(x.map((t, row) => {
        if (gapRows[row] === true) return null;
        const position = index.get(t);
        return position === undefined ? undefined : values[position];
      }));
    }
  }
  return { x, columns };
}

/**
 * The value axis: the data, the limits and the learned envelope all in view, 8 % headroom,
 * from zero when nothing is negative (a dose, a rate), 0–100 for a battery.
 */
export function valueRange(group: ChartGroup, markers: readonly CommandMarkerView[]): [number, number] {
  if (group.family === 'battery') return [0, 100];
  const values: number[] = [];
  for (const item of group.series) {
    values.push(...item.min, ...item.max);
    const limits = item.limits;
    if (limits !== null) for (const limit of [limits.hardMin, limits.hardMax, limits.softMin, limits.softMax]) if (limit !== null) values.push(limit);
    if (item.envelope !== null) values.push(item.envelope.low, item.envelope.high);
    for (const marker of markers) {
      const commanded = marker.values[item.key];
      if (commanded !== undefined) values.push(commanded);
    }
  }
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  let low = Math.min(...finite);
  let high = Math.max(...finite);
  if (low >= 0) low = 0;
  if (high === low) high = low + 1;
  const pad = (high - low) * 0.08;
  return [low < 0 ? low - pad : low, high + pad];
}

function range(low: number | null, high: number | null, unit: string): string {
  if (low !== null && high !== null) return `${formatNumber(low)}–${formatNumber(high)} ${unit}`;
  if (high !== null) return `max ${formatNumber(high)} ${unit}`;
  if (low !== null) return `min ${formatNumber(low)} ${unit}`;
  return '';
}

/** Legend lines for a series' limits, each naming how it is drawn. Empty when it has none. */
export function limitsLegend(limits: HistoryLimitsView | null, seriesLabel: string | null): string[] {
  if (limits === null) return [];
  const whose = seriesLabel === null ? '' : ` (${seriesLabel})`;
  const lines: string[] = [];
  const hard = range(limits.hardMin, limits.hardMax, limits.unit);
  const soft = range(limits.softMin, limits.softMax, limits.unit);
  if (limits.kind === 'device') {
    if (hard !== '') lines.push(`Programmable range${whose}: ${hard}, solid red lines — ${limits.source}`);
    return lines;
  }
  if (hard !== '') lines.push(`Hard limit${whose}: ${hard}, solid red line — ${limits.source}`);
  if (soft !== '') lines.push(`Soft limits${whose}: ${soft}, dashed amber lines`);
  return lines;
}

/** The learned envelope in words: its range, whose it is, how much it rests on, and whether it is judged yet. */
export function envelopeLegend(envelope: LearnedEnvelopeView | null, seriesLabel: string | null): string {
  const whose = seriesLabel === null ? '' : ` (${seriesLabel})`;
  if (envelope === null) return `Learned envelope${whose}: still learning, not drawn`;
  const level = envelope.level === 'device' ? 'this device' : 'the ward\'s devices of this kind';
  const how = envelope.pinned ? 'set by an engineer' : `${envelope.samples.toLocaleString()} samples${envelope.stable ? ', stable' : ''}`;
  const judged = envelope.judged ? 'values outside are alerted' : 'not judged yet';
  return `Learned envelope${whose}: ${formatNumber(envelope.low)}–${formatNumber(envelope.high)} ${envelope.unit}, shaded band — ${level}, ${how}; ${judged}`;
}

/** Parameter names on the wire, as the page shows them: [label, unit]. */
const PARAM_WORDS: Readonly<Record<string, readonly [string, string]>> = {
  drug: ['drug', ''],
  care_area: ['care area', ''],
  rate_ml_h: ['rate', 'mL/h'],
  vtbi_ml: ['VTBI', 'mL'],
  weight_kg: ['weight', 'kg'],
  volume_ml: ['bolus', 'mL'],
  version: ['version', ''],
  sha256: ['SHA-256', ''],
  implant_serial: ['implant', ''],
  mode: ['mode', ''],
  lower_rate_ppm: ['lower rate', 'ppm'],
  upper_rate_ppm: ['upper rate', 'ppm'],
  amplitude_v: ['amplitude', 'V'],
  pulse_width_ms: ['pulse width', 'ms'],
  tachy_therapy: ['tachy therapy', ''],
};

function paramText(name: string, value: number | string | boolean): string {
  const [label, unit] = PARAM_WORDS[name] ?? [name, ''];
  const shown = typeof value === 'boolean' ? (value ? 'on' : 'OFF') : typeof value === 'number' ? formatNumber(value) : value;
  return `${label} ${shown}${unit === '' ? '' : ` ${unit}`}`;
}

/** "rate 24 mL/h (= 30 units/kg/h), weight 80 kg": a command's parameters and the dose it means. */
export function markerDetails(marker: CommandMarkerView, unitOf: (seriesKey: string) => string | undefined): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(marker.params)) {
    let text = paramText(name, value);
    if (name === 'rate_ml_h') {
      for (const [key, dose] of Object.entries(marker.values)) {
        if (key.startsWith('dose:')) text += ` (= ${formatNumber(dose)} ${unitOf(key) ?? ''})`.replace(' )', ')');
      }
    }
    parts.push(text);
  }
  return parts.length === 0 ? '—' : parts.join(', ');
}
