import { open, readFile, rename, unlink } from 'node:fs/promises';
import { z } from 'zod';
import type { BaselineJson } from '../detect/baseline/baseline-model.ts';
import { DEVICE_PROFILES } from '../model/profiles/index.ts';
import type { DeviceKind } from '../model/device-profile.ts';

/**
 * The learned baseline on disk: `baseline.json` in the data directory, written whole to a
 * temporary file and renamed over the old one, so a crash or a power cut mid-write leaves
 * the previous baseline, never half of one. Owner-only (0600): it shows who commands what
 * and when, which is for the engineers, not for everyone with a shell on the box.
 */

export const BASELINE_FILE = 'baseline.json';

const sighting = z.strictObject({ firstSeen: z.number(), lastSeen: z.number(), count: z.number().int().nonnegative() });
const sightings = z.record(z.string(), sighting);
const histogram = z.strictObject({
  n: z.number().int().nonnegative(),
  min: z.number().nullable().transform((value) => value ?? Infinity),
  max: z.number().nullable().transform((value) => value ?? -Infinity),
  buckets: z.record(z.string(), z.number().int().nonnegative()),
});
const bounds = z.strictObject({ low: z.number(), high: z.number() });
const envelope = z.strictObject({
  unit: z.string(),
  firstSeen: z.number(),
  lastSeen: z.number(),
  unchanged: z.number().int().nonnegative(),
  histogram,
  pinned: bounds.nullable(),
  sources: z.array(z.string()).max(64).optional(),
});
const profile = z.enum(Object.keys(DEVICE_PROFILES) as [DeviceKind, ...DeviceKind[]]);

const baselineJsonSchema = z.strictObject({
  format: z.literal('wardwatch-baseline/1'),
  learnedUntil: z.number().nullable(),
  events: z.number().int().nonnegative(),
  evictions: z.number().int().nonnegative(),
  devices: z.record(z.string(), z.strictObject({
    profile,
    firstSeen: z.number(),
    lastSeen: z.number(),
    commands: z.number().int().nonnegative(),
    frozen: z.boolean(),
    envelopes: z.record(z.string(), envelope),
    categories: z.record(z.string(), sightings),
    commanders: sightings,
    hours: sightings,
    transitions: sightings,
    versions: sightings,
    interArrivalMinutes: histogram,
    telemetrySeconds: histogram,
    pending: z.record(z.string(), z.number()),
  })),
  groups: z.record(z.string(), z.strictObject({
    firstSeen: z.number(),
    lastSeen: z.number(),
    commands: z.number().int().nonnegative(),
    envelopes: z.record(z.string(), envelope),
    categories: z.record(z.string(), sightings),
    commanders: sightings,
    commanderHours: sightings,
    hours: sightings,
    transitions: sightings,
    pushers: sightings,
    origins: sightings,
    pending: z.record(z.string(), z.number()),
  })),
});

export type BaselineFileResult =
  | { readonly ok: true; readonly baseline: BaselineJson }
  | { readonly ok: false; readonly missing: boolean; readonly problem: string };

/** Reads and checks a saved baseline. Never throws: a missing or damaged file is a result. */
export async function readBaselineFile(path: string): Promise<BaselineFileResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    return { ok: false, missing, problem: missing ? `${path} does not exist` : `${path}: ${(error as Error).message}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, missing: false, problem: `${path} is not JSON: ${(error as Error).message}` };
  }
  const parsed = baselineJsonSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, missing: false, problem: `${path}: ${issue === undefined ? 'invalid' : `${issue.path.join('.')}: ${issue.message}`}` };
  }
  // The schema's shape is BaselineJson's; zod's record keys are plain strings where the model has profile names.
  return { ok: true, baseline: parsed.data as unknown as BaselineJson };
}

/** JSON has no Infinity: an empty histogram's min and max are written as null. */
function replacer(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}

/** Writes the baseline atomically (temporary file, fsync, rename), owner-only. */
export async function writeBaselineFile(path: string, baseline: BaselineJson): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  const handle = await open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(baseline, replacer)}\n`, 'utf8');
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await handle.close();
  await rename(temporary, path);
}
