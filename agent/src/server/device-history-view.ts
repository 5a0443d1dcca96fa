import type { BaselineModel, ValueTables } from '../detect/baseline/baseline-model.ts';
import { doseToRate, rateToDose } from '../model/dose.ts';
import { lookupDrug, type DrugLibrary } from '../model/drug-library.ts';
import type { DeviceProfile } from '../model/device-profile.ts';
import type { DoseLimit } from '../model/site-schema.ts';
import type { DeviceState, InfusionContext } from '../normalize/device-state.ts';
import { DEVICE_HISTORY_CAPS, doseSeriesKey, parseDoseSeriesKey, PROGRAM_COMMAND, SERIES_SPECS, type DeviceHistorySnapshot } from '../store/device-history.ts';
import type { BucketSeriesReadout } from '../store/history-buckets.ts';
import type { DeviceHistoryView, DeviceView, HistoryFamily, HistoryLimitsView, HistorySeriesView, InfusionView, LearnedEnvelopeView } from './dashboard-protocol.ts';

/**
 * GET /api/devices/<id>/history: the device's recorded history (store/device-history.ts)
 * with what to read it against: the drug library's soft and hard limits of each drug in
 * its dose unit (and, for the rate in mL/h, the same limits converted at the running
 * infusion's weight and concentration), a programmer's programmable range from its
 * profile, and the learned envelope the baseline judges each quantity by.
 */

export interface DeviceHistoryInput {
  readonly device: DeviceView;
  readonly state: DeviceState;
  readonly history: DeviceHistorySnapshot | null;
  readonly library: DrugLibrary;
  readonly baseline: BaselineModel;
}

const FAMILY_ORDER: readonly HistoryFamily[] = ['dose', 'rate', 'volume', 'pacing-rate', 'pacing-amplitude', 'pacing-width', 'battery'];

function limitsOf(kind: HistoryLimitsView['kind'], source: string, unit: string, soft: DoseLimit, hard: DoseLimit): HistoryLimitsView {
  return { kind, source, unit, hardMin: hard.min ?? null, hardMax: hard.max ?? null, softMin: soft.min ?? null, softMax: soft.max ?? null };
}

/** The library's dose limits as mL/h for this infusion's weight and concentration: where the rate chart's lines go. */
function rateLimits(library: DrugLibrary, infusion: InfusionContext): HistoryLimitsView | null {
  const entry = lookupDrug(library, infusion.careArea, infusion.drug);
  if (entry === undefined || infusion.weightKg <= 0) return null;
  const toRate = (dose: number | undefined): number | undefined => (dose === undefined ? undefined : doseToRate(dose, entry.concentration, entry.doseUnit, infusion.weightKg));
  return limitsOf(
    'drug-library',
    `${infusion.drug} (${infusion.careArea}) limits in mL/h at ${infusion.weightKg} kg`,
    'mL/h',
    { min: toRate(entry.soft.min), max: toRate(entry.soft.max) },
    { min: toRate(entry.hard.min), max: toRate(entry.hard.max) },
  );
}

/** A programmer's programmable range for one `program` parameter (DESIGN.md, reference facts). */
function deviceLimits(profile: DeviceProfile, param: string): HistoryLimitsView | null {
  const spec = profile.commands[PROGRAM_COMMAND]?.params[param];
  if (spec?.type !== 'number') return null;
  const off = spec.offValue === undefined ? '' : ` (${spec.offValue} ${spec.unit} = off)`;
  return limitsOf('device', `programmable range of the ${profile.title.toLowerCase()}${off}`, spec.unit, {}, { min: spec.min, max: spec.max });
}

/** The baseline table keys a series is judged by (baseline/command-quantities.ts names them). */
function envelopeKeys(key: string, profile: DeviceProfile, infusion: InfusionContext | null): { readonly device: string | null; readonly group: string } | null {
  const dose = parseDoseSeriesKey(key);
  if (dose !== null) return { device: `${dose.drug}/dose`, group: `${dose.careArea}/${dose.drug}/dose` };
  if (profile.id === 'infusion-pump') return key === 'rate_ml_h' && infusion !== null ? { device: null, group: `${infusion.careArea}/${infusion.drug}/rate` } : null;
  return SERIES_SPECS[profile.id][key]?.source === 'command' ? { device: `${PROGRAM_COMMAND}/${key}`, group: `${PROGRAM_COMMAND}/${key}` } : null;
}

/**
 * The envelope the value detector would judge by at `ts`: the device's own once the device
 * has been learned for the learning period and the entry has minSamples, else its kind's
 * across the ward with minSamples, else none (still learning).
 */
function learnedEnvelope(model: BaselineModel, state: DeviceState, keys: { readonly device: string | null; readonly group: string }, ts: number | null): LearnedEnvelopeView | null {
  if (model.mode === 'off' || ts === null) return null;
  const id = state.device.config.id;
  const profile = state.device.profile.id;
  const minSamples = model.config.minSamples;
  const device = model.devices.get(id);
  const group = model.groups.get(profile);
  const pick = (level: 'device' | 'group', values: ValueTables | undefined, key: string | null): LearnedEnvelopeView | null => {
    const envelope = key === null ? undefined : values?.envelopes.get(key);
    const bounds = envelope === undefined || envelope.samples < minSamples ? null : envelope.bounds();
    if (key === null || envelope === undefined || bounds === null) return null;
    return { level, key, low: bounds.low, high: bounds.high, unit: envelope.unit, samples: envelope.samples, stable: envelope.stable, pinned: envelope.pinned !== null, judged: model.judging(profile, ts) };
  };
  return (model.deviceMature(device, ts) ? pick('device', device.values, keys.device) : null) ?? pick('group', group?.values, keys.group);
}

function infusionView(library: DrugLibrary, infusion: InfusionContext | null): InfusionView | null {
  if (infusion === null) return null;
  const entry = lookupDrug(library, infusion.careArea, infusion.drug);
  const dose = entry === undefined || infusion.weightKg <= 0 ? null : rateToDose(infusion.rateMlPerHour, entry.concentration, entry.doseUnit, infusion.weightKg);
  return { drug: infusion.drug, careArea: infusion.careArea, weightKg: infusion.weightKg, rateMlPerHour: infusion.rateMlPerHour, dose, doseUnit: entry?.doseUnit ?? null };
}

function seriesView(key: string, readout: BucketSeriesReadout, input: DeviceHistoryInput, ts: number | null): HistorySeriesView | null {
  const { state, library, baseline } = input;
  const profile = state.device.profile;
  const infusion = state.infusion;
  const keys = envelopeKeys(key, profile, infusion);
  const envelope = keys === null ? null : learnedEnvelope(baseline, state, keys, ts);
  const points = { t: readout.t, last: readout.last, min: readout.min, max: readout.max };
  const dose = parseDoseSeriesKey(key);
  if (dose !== null) {
    const entry = lookupDrug(library, dose.careArea, dose.drug);
    if (entry === undefined) return null;
    const limits = limitsOf('drug-library', `${dose.careArea} drug library: ${dose.drug}`, entry.doseUnit, entry.soft, entry.hard);
    return { key, family: 'dose', label: `${dose.drug} dose (${dose.careArea})`, unit: entry.doseUnit, source: 'telemetry', ...points, limits, envelope };
  }
  const spec = SERIES_SPECS[profile.id][key];
  if (spec === undefined) return null;
  const limits = key === 'rate_ml_h' && infusion !== null ? rateLimits(library, infusion) : spec.source === 'command' ? deviceLimits(profile, key) : null;
  return { key, family: spec.family, label: spec.label, unit: spec.unit, source: spec.source, ...points, limits, envelope };
}

/** Current drug's dose first, then by family, then by key: a stable order for the page. */
function seriesOrder(currentDoseKey: string | null): (a: HistorySeriesView, b: HistorySeriesView) => number {
  return (a, b) => {
    if ((a.key === currentDoseKey) !== (b.key === currentDoseKey)) return a.key === currentDoseKey ? -1 : 1;
    const byFamily = FAMILY_ORDER.indexOf(a.family) - FAMILY_ORDER.indexOf(b.family);
    return byFamily !== 0 ? byFamily : a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
  };
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function deviceHistoryView(input: DeviceHistoryInput): DeviceHistoryView {
  const { history, state, baseline } = input;
  const ts = history?.newest ?? baseline.learnedUntil;
  const series: HistorySeriesView[] = [];
  for (const [key, readout] of history?.series ?? []) {
    const view = seriesView(key, readout, input, ts);
    if (view !== null) series.push(view);
  }
  const infusion = state.infusion;
  series.sort(seriesOrder(infusion === null ? null : doseSeriesKey(infusion.careArea, infusion.drug)));
  const counters = history?.counters;
  return {
    device: input.device,
    infusion: infusionView(input.library, infusion),
    resolutionSeconds: DEVICE_HISTORY_CAPS.bucketMs / 1000,
    windowHours: (DEVICE_HISTORY_CAPS.bucketMs * DEVICE_HISTORY_CAPS.buckets) / 3_600_000,
    from: isoOrNull(history?.windowStart ?? null),
    until: isoOrNull(history?.newest ?? null),
    series,
    markers: history?.markers.map((marker) => ({ ...marker })) ?? [],
    dropped: { late: counters?.late ?? 0, seriesEvicted: counters?.seriesEvicted ?? 0, markersEvicted: counters?.markersEvicted ?? 0, unrepresentable: counters?.unrepresentable ?? 0 },
    baseline: { mode: baseline.mode, judging: ts !== null && baseline.judging(state.device.profile.id, ts) },
  };
}
