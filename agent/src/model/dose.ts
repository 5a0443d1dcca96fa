/**
 * Dose units of a drug library, and the conversion from what a pump is programmed in
 * (mL/h, mL) to what the library limits are written in (units/kg/h, mcg/kg/min, mg/h …).
 * DERS limits are per drug in dose units, converted through concentration and patient
 * weight (DESIGN.md, reference facts).
 */

export const AMOUNT_UNITS = ['units', 'mg', 'mcg', 'mL'] as const;
export type AmountUnit = (typeof AMOUNT_UNITS)[number];

/** Continuous-infusion dose units the library accepts. */
export const RATE_DOSE_UNITS = [
  'mL/h', 'units/h', 'units/kg/h', 'mg/h', 'mg/kg/h', 'mcg/h', 'mcg/kg/h', 'mcg/min', 'mcg/kg/min', 'mg/min',
] as const;
export type RateDoseUnit = (typeof RATE_DOSE_UNITS)[number];

/** Bolus dose units: an amount, optionally per kg. */
export const BOLUS_DOSE_UNITS = ['mL', 'units', 'units/kg', 'mg', 'mg/kg', 'mcg', 'mcg/kg'] as const;
export type BolusDoseUnit = (typeof BOLUS_DOSE_UNITS)[number];

export interface Concentration {
  /** Amount of drug in the container, in `unit`. */
  readonly amount: number;
  readonly unit: Exclude<AmountUnit, 'mL'>;
  /** Container volume. */
  readonly volumeMl: number;
}

interface ParsedDoseUnit {
  readonly amount: AmountUnit;
  readonly perKg: boolean;
  /** Minutes per time unit of the dose (60 for /h, 1 for /min), or null for a bolus amount. */
  readonly minutesPerTimeUnit: number | null;
}

function parseDoseUnit(unit: RateDoseUnit | BolusDoseUnit): ParsedDoseUnit {
  const parts = unit.split('/');
  const amount = parts[0] as AmountUnit;
  const perKg = parts.includes('kg');
  const last = parts[parts.length - 1];
  const minutesPerTimeUnit = last === 'h' ? 60 : last === 'min' ? 1 : null;
  return { amount, perKg, minutesPerTimeUnit };
}

const MICROGRAMS: Readonly<Record<string, number>> = { mg: 1000, mcg: 1 };

/** Factor that turns one `from` into `to` (mg → mcg is 1000); amounts of different kinds do not convert. */
function amountFactor(from: AmountUnit, to: AmountUnit): number {
  if (from === to) return 1;
  const fromMcg = MICROGRAMS[from];
  const toMcg = MICROGRAMS[to];
  if (fromMcg === undefined || toMcg === undefined) {
    throw new Error(`cannot convert ${from} to ${to}`);
  }
  return fromMcg / toMcg;
}

/** Amount of drug per mL of solution, expressed in `target` units. */
function amountPerMl(concentration: Concentration, target: AmountUnit): number {
  if (target === 'mL') return 1;
  return (concentration.amount / concentration.volumeMl) * amountFactor(concentration.unit, target);
}

/** Whether a library entry's units can be converted at all (checked once at config load). */
export function isConvertible(concentration: Concentration, unit: RateDoseUnit | BolusDoseUnit): boolean {
  const { amount } = parseDoseUnit(unit);
  if (amount === 'mL') return true;
  try {
    amountFactor(concentration.unit, amount);
    return true;
  } catch {
    return false;
  }
}

/** mL/h → the library's dose unit (for example 18 mL/h of 100 units/mL for 80 kg = 22.5 units/kg/h). */
export function rateToDose(rateMlPerHour: number, concentration: Concentration, unit: RateDoseUnit, weightKg: number): number {
  const parsed = parseDoseUnit(unit);
  const perHour = rateMlPerHour * amountPerMl(concentration, parsed.amount);
  const perTimeUnit = perHour * ((parsed.minutesPerTimeUnit ?? 60) / 60);
  return parsed.perKg ? perTimeUnit / weightKg : perTimeUnit;
}

/** The inverse of rateToDose: what a station programs to deliver a dose. */
export function doseToRate(dose: number, concentration: Concentration, unit: RateDoseUnit, weightKg: number): number {
  return dose / rateToDose(1, concentration, unit, weightKg);
}

/** mL of bolus → the library's bolus unit. */
export function volumeToBolusDose(volumeMl: number, concentration: Concentration, unit: BolusDoseUnit, weightKg: number): number {
  const parsed = parseDoseUnit(unit);
  const amount = volumeMl * amountPerMl(concentration, parsed.amount);
  return parsed.perKg ? amount / weightKg : amount;
}

export function bolusDoseToVolume(dose: number, concentration: Concentration, unit: BolusDoseUnit, weightKg: number): number {
  return dose / volumeToBolusDose(1, concentration, unit, weightKg);
}
