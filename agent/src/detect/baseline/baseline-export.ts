import { stringify } from 'yaml';
import type { BaselineModel, DeviceBaseline, GroupBaseline, SightingTable, ValueTables } from './baseline-model.ts';
import type { LogHistogram } from './log-histogram.ts';

/**
 * The baseline as a biomedical engineer reviews it (issue 5, part 2): YAML, keys sorted,
 * one line per learned fact, so that `git diff` between two exports shows what the ward
 * learned. Counts and times are there to judge by; `baseline import` reads back only what
 * is editable (bounds, lists, `frozen`) and ignores the rest.
 */

export const EXPORT_FORMAT = 'wardwatch-baseline-export/1';

export interface ExportedEnvelope {
  low: number;
  high: number;
  unit: string;
  samples: number;
  stable: boolean;
}

export interface ExportedValues {
  envelopes: Record<string, ExportedEnvelope>;
  categories: Record<string, string[]>;
}

export interface ExportedDevice {
  profile: string;
  frozen: boolean;
  learnedSince: string;
  commands: number;
  commanders: string[];
  hours: number[];
  weekdays: number[];
  transitions: string[];
  versions: string[];
  values: ExportedValues;
  cadence: { telemetrySeconds: number | null; minutesBetweenCommands: number | null };
  /** Deviations alerted and waiting for review (not learned). */
  pending: string[];
}

export interface ExportedGroup {
  learnedSince: string;
  commands: number;
  commanders: string[];
  hours: number[];
  weekdays: number[];
  transitions: string[];
  pushers: string[];
  /** `account:station-4w@10.4.0.10` (addresses, judged) and `account:station-4w#client-id` (for review). */
  origins: string[];
  commanderHours: Record<string, number[]>;
  values: ExportedValues;
}

export interface BaselineExport {
  format: typeof EXPORT_FORMAT;
  site: string;
  mode: string;
  learnedUntil: string | null;
  events: number;
  devices: Record<string, ExportedDevice>;
  groups: Record<string, ExportedGroup>;
}

function iso(ts: number | null): string | null {
  return ts === null || !Number.isFinite(ts) ? null : new Date(ts).toISOString();
}

function sortedKeys(table: SightingTable): string[] {
  return [...table.entries.keys()].sort();
}

/** Rounded to 4 significant figures: enough to review, stable enough to diff. */
function round(value: number): number {
  return Number(value.toPrecision(4));
}

function median(histogram: LogHistogram): number | null {
  return histogram.count === 0 ? null : round(histogram.quantile(0.5));
}

function hoursOf(table: SightingTable, prefix: 'h' | 'd'): number[] {
  return [...table.entries.keys()].filter((key) => key.startsWith(prefix)).map((key) => Number(key.slice(1))).sort((a, b) => a - b);
}

function exportValues(values: ValueTables): ExportedValues {
  const envelopes: Record<string, ExportedEnvelope> = {};
  for (const key of [...values.envelopes.keys()].sort()) {
    const envelope = values.envelopes.get(key);
    const bounds = envelope?.bounds() ?? null;
    if (envelope === undefined || bounds === null) continue;
    envelopes[key] = { low: round(bounds.low), high: round(bounds.high), unit: envelope.unit, samples: envelope.samples, stable: envelope.stable };
  }
  const categories: Record<string, string[]> = {};
  for (const key of [...values.categories.keys()].sort()) categories[key] = sortedKeys(values.categories.get(key) as SightingTable);
  return { envelopes, categories };
}

function exportDevice(device: DeviceBaseline): ExportedDevice {
  return {
    profile: device.profile,
    frozen: device.frozen,
    learnedSince: iso(device.firstSeen) ?? '',
    commands: device.commands,
    commanders: sortedKeys(device.commanders),
    hours: hoursOf(device.hours, 'h'),
    weekdays: hoursOf(device.hours, 'd'),
    transitions: sortedKeys(device.transitions),
    versions: sortedKeys(device.versions),
    values: exportValues(device.values),
    cadence: { telemetrySeconds: median(device.telemetrySeconds), minutesBetweenCommands: median(device.interArrivalMinutes) },
    pending: [...device.pending.keys()].sort(),
  };
}

function exportGroup(group: GroupBaseline): ExportedGroup {
  const commanderHours: Record<string, number[]> = {};
  for (const key of sortedKeys(group.commanderHours)) {
    const at = key.lastIndexOf('@h');
    const commander = key.slice(0, at);
    (commanderHours[commander] ??= []).push(Number(key.slice(at + 2)));
  }
  for (const hours of Object.values(commanderHours)) hours.sort((a, b) => a - b);
  return {
    learnedSince: iso(group.firstSeen) ?? '',
    commands: group.commands,
    commanders: sortedKeys(group.commanders),
    hours: hoursOf(group.hours, 'h'),
    weekdays: hoursOf(group.hours, 'd'),
    transitions: sortedKeys(group.transitions),
    pushers: sortedKeys(group.pushers),
    origins: sortedKeys(group.origins),
    commanderHours,
    values: exportValues(group.values),
  };
}

export function exportBaseline(model: BaselineModel, site: string): BaselineExport {
  const devices: Record<string, ExportedDevice> = {};
  for (const id of [...model.devices.keys()].sort()) devices[id] = exportDevice(model.devices.get(id) as DeviceBaseline);
  const groups: Record<string, ExportedGroup> = {};
  for (const profile of [...model.groups.keys()].sort()) groups[profile] = exportGroup(model.groups.get(profile) as GroupBaseline);
  return { format: EXPORT_FORMAT, site, mode: model.mode, learnedUntil: iso(model.learnedUntil), events: model.events, devices, groups };
}

const HEADER = [
  '# Wardwatch baseline: what the agent learned is normal on this ward (issue 5).',
  '# Review it, edit it, and load it back with: wardwatch baseline import FILE',
  '# Editable: envelope low/high, the lists (commanders, hours, transitions, pushers, versions,',
  '# categories) and `frozen` (true: the device learns no more; its entries are policy).',
  '# Counts, dates, `stable`, cadence and pending are for review and are ignored on import.',
  '',
].join('\n');

export function exportBaselineYaml(model: BaselineModel, site: string): string {
  return HEADER + stringify(exportBaseline(model, site), { lineWidth: 0, flowCollectionPadding: false });
}
