import type { DrugEntry } from '../../../agent/src/model/site-schema.ts';
import { bolusDoseToVolume, doseToRate, rateToDose, volumeToBolusDose } from '../../../agent/src/model/dose.ts';
import { infusionPumpProfile } from '../../../agent/src/model/profiles/infusion-pump.ts';
import type { NumberParameter } from '../../../agent/src/model/device-profile.ts';
import type { Random } from '../random.ts';

/**
 * How the simulated nurses choose doses: always inside the drug library's soft limits,
 * which a real nurse meets without an override (DESIGN.md, reference facts: a soft limit
 * warns, a hard limit cannot be passed). Rates are programmed in mL/h rounded to 0.1, as
 * on a pump keypad, and the rounded rate is checked again, because rounding can carry a
 * dose right at the limit across it. Titrations move by 5–25 % and never tenfold, the
 * classic programming error that the agent must catch and the ward must not produce.
 */

export interface DoseRange {
  readonly min: number;
  readonly max: number;
}

export interface RateChoice {
  /** Dose in the drug's doseUnit that the rounded rate delivers. */
  readonly dose: number;
  readonly rateMlH: number;
}

export interface BolusChoice {
  /** Dose in the drug's bolus unit that the rounded volume delivers. */
  readonly dose: number;
  readonly volumeMl: number;
}

function numberParameter(command: string, param: string): NumberParameter {
  const spec = infusionPumpProfile.commands[command]?.params[param];
  if (spec?.type !== 'number') throw new Error(`infusion-pump profile lacks numeric ${command}.${param}`);
  return spec;
}

const RATE_LIMITS = numberParameter('set_rate', 'rate_ml_h');
const BOLUS_LIMITS = numberParameter('bolus', 'volume_ml');

/** Keypad resolution of rates and volumes. */
export function roundToTenth(value: number): number {
  return Math.round(value * 10) / 10;
}

/** The soft limits as a closed range; a missing soft maximum falls back to the hard one. */
export function softRateDoseRange(entry: DrugEntry): DoseRange | null {
  const max = entry.soft.max ?? entry.hard.max;
  if (max === undefined) return null;
  return { min: entry.soft.min ?? 0, max };
}

export function softBolusDoseRange(entry: DrugEntry): DoseRange | null {
  const bolus = entry.bolus;
  if (bolus === undefined) return null;
  const max = bolus.soft.max ?? bolus.hard.max;
  if (max === undefined) return null;
  return { min: bolus.soft.min ?? 0, max };
}

export function doseOfRate(entry: DrugEntry, weightKg: number, rateMlH: number): number {
  return rateToDose(rateMlH, entry.concentration, entry.doseUnit, weightKg);
}

function within(value: number, range: DoseRange): boolean {
  return value >= range.min && value <= range.max;
}

/**
 * The keypad rate (0.1 mL/h) closest to `targetDose` whose dose is still inside `range`
 * and whose rate the pump accepts; null when no such rate exists (a dose range narrower
 * than one keypad step for this patient).
 */
export function rateForDose(entry: DrugEntry, weightKg: number, targetDose: number, range: DoseRange): RateChoice | null {
  const rounded = roundToTenth(doseToRate(targetDose, entry.concentration, entry.doseUnit, weightKg));
  for (const rateMlH of [rounded, roundToTenth(rounded - 0.1), roundToTenth(rounded + 0.1)]) {
    if (rateMlH < RATE_LIMITS.min || rateMlH > RATE_LIMITS.max) continue;
    const dose = doseOfRate(entry, weightKg, rateMlH);
    if (within(dose, range)) return { dose, rateMlH };
  }
  return null;
}

const MAX_ATTEMPTS = 8;

/**
 * A starting dose between the soft minimum (or 30 % of the soft maximum when the library
 * gives no minimum) and 75 % of the soft maximum: room to titrate both ways.
 */
export function chooseStartingRate(entry: DrugEntry, weightKg: number, random: Random): RateChoice | null {
  const soft = softRateDoseRange(entry);
  if (soft === null) return null;
  const low = entry.soft.min ?? 0.3 * soft.max;
  const high = Math.max(low, 0.75 * soft.max);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const choice = rateForDose(entry, weightKg, random.uniform(low, high), soft);
    if (choice !== null) return choice;
  }
  return null;
}

/** A titration never steps by this factor or more (DESIGN.md: the tenfold slip). */
export const TENFOLD = 10;

/** Ratio between two rates, ≥ 1 whichever is larger. */
export function stepFactor(fromRateMlH: number, toRateMlH: number): number {
  return fromRateMlH > toRateMlH ? fromRateMlH / toRateMlH : toRateMlH / fromRateMlH;
}

/**
 * A titration of the running rate by ±5–25 % of the dose, kept inside the soft limits
 * (and, when the library has no soft minimum, above 20 % of the soft maximum: nurses stop
 * rather than dribble). Null when no keypad rate is both different and within limits.
 */
export function chooseTitration(entry: DrugEntry, weightKg: number, currentRateMlH: number, random: Random): RateChoice | null {
  const soft = softRateDoseRange(entry);
  if (soft === null) return null;
  const floor = entry.soft.min ?? 0.2 * soft.max;
  const currentDose = doseOfRate(entry, weightKg, currentRateMlH);
  const change = random.uniform(0.05, 0.25);
  const firstDirection = random.chance(0.5) ? 1 : -1;
  for (const direction of [firstDirection, -firstDirection]) {
    const target = Math.min(soft.max, Math.max(floor, currentDose * (1 + direction * change)));
    const choice = rateForDose(entry, weightKg, target, soft);
    if (choice !== null && choice.rateMlH !== currentRateMlH && stepFactor(currentRateMlH, choice.rateMlH) < TENFOLD) return choice;
  }
  return null;
}

/**
 * A bolus between the soft bolus minimum (or 25 % of the soft maximum) and 75 % of the
 * soft maximum, rounded to 0.1 mL, no larger than `maxVolumeMl` (what is left in the bag).
 * Null for drugs without bolus limits: the library does not allow a bolus of those.
 */
export function chooseBolus(entry: DrugEntry, weightKg: number, maxVolumeMl: number, random: Random): BolusChoice | null {
  const bolus = entry.bolus;
  const soft = softBolusDoseRange(entry);
  if (bolus === undefined || soft === null) return null;
  const low = bolus.soft.min ?? 0.25 * soft.max;
  const high = Math.max(low, 0.75 * soft.max);
  const ceiling = Math.min(BOLUS_LIMITS.max, maxVolumeMl);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const rounded = roundToTenth(bolusDoseToVolume(random.uniform(low, high), entry.concentration, bolus.unit, weightKg));
    for (const volumeMl of [rounded, roundToTenth(rounded - 0.1)]) {
      if (volumeMl < BOLUS_LIMITS.min || volumeMl > ceiling) continue;
      const dose = volumeToBolusDose(volumeMl, entry.concentration, bolus.unit, weightKg);
      if (within(dose, soft)) return { dose, volumeMl };
    }
  }
  return null;
}
