import { z } from 'zod';
import type { DeviceKind } from '../../model/device-profile.ts';
import { parseYamlDocument } from '../../model/yaml-document.ts';
import type { ConfigIssue } from '../../model/site-schema.ts';
import { EXPORT_FORMAT } from './baseline-export.ts';
import type { BaselineModel, SightingTable, ValueTables } from './baseline-model.ts';
import { hourKey } from './hour-key.ts';
import { ValueEnvelope } from './value-envelope.ts';

/**
 * `wardwatch baseline import FILE` (issue 5, part 2): an exported baseline, reviewed and
 * edited by an engineer, becomes what the agent judges by. Each device and kind in the
 * file is replaced by what the file lists: envelope bounds are pinned (learning no longer
 * moves them), lists replace the learned ones, `frozen` is taken as written, and pending
 * deviations are cleared (they were reviewed). Devices and kinds not in the file are left
 * as they were. Every problem is reported by path and nothing is applied then.
 */

const envelopeSchema = z.object({
  low: z.number().nonnegative(),
  high: z.number().nonnegative(),
  unit: z.string().default(''),
  samples: z.number().int().nonnegative().optional(),
}).refine((envelope) => envelope.low <= envelope.high, { message: 'low must not be above high' });

const valuesSchema = z.object({
  envelopes: z.record(z.string().min(1), envelopeSchema).default({}),
  categories: z.record(z.string().min(1), z.array(z.string())).default({}),
}).prefault({});

const hour = z.number().int().min(0).max(23);
const keyList = z.array(z.string().min(1).max(300)).default([]);

const deviceSchema = z.object({
  frozen: z.boolean().default(false),
  commanders: keyList,
  hours: z.array(hour).default([]),
  weekdays: z.array(z.number().int().min(0).max(6)).default([]),
  transitions: keyList,
  versions: keyList,
  values: valuesSchema,
});

const groupSchema = z.object({
  commanders: keyList,
  hours: z.array(hour).default([]),
  weekdays: z.array(z.number().int().min(0).max(6)).default([]),
  transitions: keyList,
  pushers: keyList,
  origins: keyList,
  commanderHours: z.record(z.string(), z.array(hour)).default({}),
  values: valuesSchema,
});

const exportSchema = z.object({
  format: z.literal(EXPORT_FORMAT),
  devices: z.record(z.string(), deviceSchema).default({}),
  groups: z.record(z.string(), groupSchema).default({}),
});

export type BaselineImport = z.infer<typeof exportSchema>;

export type ImportParse = { readonly ok: true; readonly document: BaselineImport } | { readonly ok: false; readonly issues: readonly ConfigIssue[] };

/** Parses and checks an edited export against the site's inventory; every problem by path. */
export function parseBaselineImport(text: string, inventory: ReadonlyMap<string, DeviceKind>): ImportParse {
  const parsed = parseYamlDocument(text, exportSchema);
  if (!parsed.ok) return parsed;
  const issues: ConfigIssue[] = [];
  for (const id of Object.keys(parsed.value.devices)) {
    if (!inventory.has(id)) issues.push({ path: `devices.${id}`, message: 'is not a device of the site config' });
  }
  const kinds = new Set(inventory.values());
  for (const profile of Object.keys(parsed.value.groups)) {
    if (!kinds.has(profile as DeviceKind)) issues.push({ path: `groups.${profile}`, message: `is not a kind of device in the site config (${[...kinds].join(', ')})` });
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, document: parsed.value };
}

/** Makes a table hold exactly `keys`: entries kept keep their history, new ones count as learned. */
function replaceSightings(table: SightingTable, keys: readonly string[], ts: number, count: number): void {
  const wanted = new Set(keys);
  for (const key of [...table.entries.keys()]) if (!wanted.has(key)) table.entries.delete(key);
  for (const key of wanted) if (!table.has(key)) table.see(key, ts, count);
}

function replaceValues(values: ValueTables, imported: BaselineImport['devices'][string]['values'], ts: number, count: number, onEvict: () => void): void {
  for (const key of [...values.envelopes.keys()]) if (!Object.hasOwn(imported.envelopes, key)) values.envelopes.delete(key);
  for (const [key, envelope] of Object.entries(imported.envelopes)) {
    const bounds = { low: envelope.low, high: envelope.high };
    const existing = values.envelopes.get(key);
    if (existing === undefined) values.envelopes.set(key, ValueEnvelope.pinnedAt(envelope.unit, bounds, Math.max(count, envelope.samples ?? 0), ts));
    else existing.pinned = bounds;
  }
  for (const key of [...values.categories.keys()]) if (!Object.hasOwn(imported.categories, key)) values.categories.delete(key);
  for (const [key, list] of Object.entries(imported.categories)) {
    if (!values.categories.has(key)) values.learn(key, list[0] ?? '', '', ts);
    const table = values.categories.get(key);
    if (table === undefined) {
      onEvict();
      continue;
    }
    replaceSightings(table, list, ts, count);
  }
}

/** Applies a checked import to the model; `ts` (event time) dates entries the file adds. */
export function applyBaselineImport(model: BaselineModel, document: BaselineImport, inventory: ReadonlyMap<string, DeviceKind>, ts: number): void {
  const count = model.config.minSamples;
  for (const [id, imported] of Object.entries(document.devices)) {
    const profile = inventory.get(id);
    if (profile === undefined) continue;
    const device = model.device(id, profile, ts);
    device.frozen = imported.frozen;
    replaceSightings(device.commanders, imported.commanders, ts, count);
    replaceSightings(device.hours, [...imported.hours.map(hourKey), ...imported.weekdays.map((day) => `d${day}`)], ts, count);
    replaceSightings(device.transitions, imported.transitions, ts, count);
    replaceSightings(device.versions, imported.versions, ts, count);
    replaceValues(device.values, imported.values, ts, count, model.countEviction);
    device.commands = Math.max(device.commands, count);
    device.pending.clear();
  }
  for (const [profile, imported] of Object.entries(document.groups)) {
    const group = model.group(profile as DeviceKind, ts);
    replaceSightings(group.commanders, imported.commanders, ts, count);
    replaceSightings(group.hours, [...imported.hours.map(hourKey), ...imported.weekdays.map((day) => `d${day}`)], ts, count);
    replaceSightings(group.transitions, imported.transitions, ts, count);
    replaceSightings(group.pushers, imported.pushers, ts, count);
    replaceSightings(group.origins, imported.origins, ts, count);
    replaceSightings(group.commanderHours, Object.entries(imported.commanderHours).flatMap(([commander, hours]) => hours.map((at) => `${commander}@${hourKey(at)}`)), ts, count);
    replaceValues(group.values, imported.values, ts, count, model.countEviction);
    group.commands = Math.max(group.commands, count);
    group.pending.clear();
  }
}
