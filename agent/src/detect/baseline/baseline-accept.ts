import { z } from 'zod';
import { ALERT_CATALOGUE } from '../../alert/catalogue.ts';
import type { DeviceKind } from '../../model/device-profile.ts';
import { learnedCadenceSamples } from './baseline-cadence-detector.ts';
import type { BaselineAcceptance } from './baseline-finding.ts';
import type { BaselineModel, ValueTables } from './baseline-model.ts';
import { LogHistogram } from './log-histogram.ts';
import { ValueEnvelope } from './value-envelope.ts';

/** The shape reportDeviation (baseline-finding.ts) writes under `evidence.baseline.accept`. */
const acceptanceSchema = z.object({
  device: z.string().min(1),
  table: z.enum(['value', 'commander', 'origin', 'hour', 'transition', 'pusher', 'version', 'cadence']),
  key: z.string().min(1),
  value: z.union([z.number(), z.string()]).optional(),
  unit: z.string().optional(),
  level: z.enum(['device', 'group']),
});

/** Alert types the learned baseline raises (the catalogue's `baseline-*`): only these can be accepted into it. */
export function isLearnedAlertType(type: string): boolean {
  return type.startsWith('baseline-') && Object.hasOwn(ALERT_CATALOGUE, type);
}

/**
 * What accepting this alert would add to the baseline, from its evidence; null when it is
 * not a learned alert, or a learned one with nothing to accept (a rate creep, a version
 * change: `accept` is absent). The evidence is read back from the store and the wire, so
 * its shape is checked rather than trusted.
 */
export function acceptanceOf(alert: { readonly type: string; readonly evidence: Readonly<Record<string, unknown>> }): BaselineAcceptance | null {
  if (!isLearnedAlertType(alert.type)) return null;
  const baseline = alert.evidence['baseline'];
  if (typeof baseline !== 'object' || baseline === null) return null;
  const parsed = acceptanceSchema.safeParse((baseline as { readonly accept?: unknown }).accept);
  if (!parsed.success) return null;
  const { value, unit, ...rest } = parsed.data;
  return { ...rest, ...(value === undefined ? {} : { value }), ...(unit === undefined ? {} : { unit }) };
}

/** The pending-review key a detector recorded for this acceptance (baseline-*-detector.ts). */
function pendingKey(acceptance: BaselineAcceptance): string {
  if (acceptance.table === 'value') return `category|${acceptance.key}=${String(acceptance.value)}`;
  return `${acceptance.table}|${acceptance.key}`;
}

function acceptValue(values: ValueTables, acceptance: BaselineAcceptance, ts: number, samples: number): void {
  const value = acceptance.value;
  if (typeof value === 'string') {
    values.learn(acceptance.key, value, '', ts);
    return;
  }
  if (typeof value !== 'number') return;
  const envelope = values.envelopes.get(acceptance.key);
  if (envelope === undefined) {
    values.envelopes.set(acceptance.key, ValueEnvelope.pinnedAt(acceptance.unit ?? '', { low: value, high: value }, samples, ts));
    return;
  }
  // The envelope now reaches the accepted value; pinned, so that it is not trimmed away again.
  const bounds = envelope.bounds() ?? { low: value, high: value };
  envelope.pinned = { low: Math.min(bounds.low, value), high: Math.max(bounds.high, value) };
}

/**
 * `wardwatch baseline accept ALERT` (issue 5, part 4), and the dashboard's "Accept as normal
 * for this ward" on a running agent (alert/accept-into-baseline.ts): what an alert found
 * unusual becomes part of the baseline, at the level it was judged at, and its pending
 * review is closed.
 */
export function acceptDeviation(model: BaselineModel, acceptance: BaselineAcceptance, profile: DeviceKind, ts: number): void {
  const samples = model.config.minSamples;
  const device = model.device(acceptance.device, profile, ts);
  const group = model.group(profile, ts);
  switch (acceptance.table) {
    case 'value':
      acceptValue(acceptance.level === 'device' ? device.values : group.values, acceptance, ts, samples);
      break;
    case 'commander':
      (acceptance.level === 'device' ? device.commanders : group.commanders).see(acceptance.key, ts, samples);
      break;
    case 'hour':
      group.hours.see(acceptance.key, ts, samples);
      device.hours.see(acceptance.key, ts, samples);
      break;
    case 'transition':
      group.transitions.see(acceptance.key, ts, samples);
      device.transitions.see(acceptance.key, ts, samples);
      break;
    case 'pusher':
      group.pushers.see(acceptance.key, ts, samples);
      break;
    case 'origin':
      group.origins.see(acceptance.key, ts, samples);
      break;
    case 'version':
      device.versions.see(acceptance.key, ts, samples);
      break;
    case 'cadence':
      // The rate the alert saw becomes the device's learned cadence at once (a learning
      // period's worth of it), and its intervals are learned on from there.
      if (typeof acceptance.value === 'number' && acceptance.value > 0) {
        device.telemetrySeconds = new LogHistogram();
        device.telemetrySeconds.add(acceptance.value, learnedCadenceSamples(acceptance.value, model.config));
      }
      break;
  }
  device.pending.delete(pendingKey(acceptance));
  group.pending.delete(pendingKey(acceptance));
}
