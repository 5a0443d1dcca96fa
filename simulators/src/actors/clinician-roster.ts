/**
 * Clinician ids for the `user` field of commands. A command carries the account of the
 * station (`issuer`) and the person at it (`user`); the agent learns who usually commands
 * which bed, so the simulated ward has a plausible roster: 12-hour nursing shifts
 * changing at 07:00 and 19:00 (sim time, UTC), one nurse for two beds.
 */

const MS_PER_HOUR = 3_600_000;
const SHIFT_HOURS = 12;
const SHIFT_CHANGE_HOUR_UTC = 7;
const NURSES_PER_SHIFT = 4;
const BEDS_PER_NURSE = 2;

/** A ward name as it can appear in an identifier: `4W` → `4w`, `Cardiac ICU` → `cardiac-icu`. */
export function wardTag(ward: string): string {
  const tag = ward.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return tag.length > 0 ? tag.slice(0, 16) : 'ward';
}

function twoDigits(n: number): string {
  return String(n).padStart(2, '0');
}

/** The nurse responsible for the bed at `nowMs`, like `rn-4w-07`. */
export function nurseFor(ward: string, bedIndex: number, nowMs: number): string {
  const shift = Math.floor((nowMs - SHIFT_CHANGE_HOUR_UTC * MS_PER_HOUR) / (SHIFT_HOURS * MS_PER_HOUR));
  // Day and night shifts alternate between the two halves of an eight-nurse roster.
  const half = ((shift % 2) + 2) % 2;
  const slot = Math.floor(bedIndex / BEDS_PER_NURSE) % NURSES_PER_SHIFT;
  return `rn-${wardTag(ward)}-${twoDigits(half * NURSES_PER_SHIFT + slot + 1)}`;
}

/** Electrophysiologists and cardiac physiologists who run device checks, like `ep-03`. */
export const EP_CLINICIANS: readonly string[] = ['ep-01', 'ep-02', 'ep-03', 'ep-04'];
