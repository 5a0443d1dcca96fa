import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import { volumeToBolusDose } from '../../agent/src/model/dose.ts';
import type { DrugEntry, SiteConfig } from '../../agent/src/model/site-schema.ts';
import {
  chooseBolus, chooseStartingRate, chooseTitration, doseOfRate, rateForDose, softBolusDoseRange, softRateDoseRange, stepFactor,
} from '../../simulators/src/actors/dose-plan.ts';
import { Random } from '../../simulators/src/random.ts';

function loadDemoConfig(): SiteConfig {
  const result = parseSiteConfig(readFileSync(new URL('../../config/demo.yaml', import.meta.url), 'utf8'));
  if (!result.ok) throw new Error(`config/demo.yaml is invalid: ${JSON.stringify(result.issues)}`);
  return result.config;
}

const config = loadDemoConfig();
const drugs: Array<[string, DrugEntry]> = Object.entries(config.drugLibrary.careAreas)
  .flatMap(([area, careArea]) => Object.entries(careArea.drugs).map(([name, entry]): [string, DrugEntry] => [`${area}/${name}`, entry]));

const drugArbitrary = fc.constantFrom(...drugs);
const weightArbitrary = fc.integer({ min: 500, max: 1100 }).map((tenths) => tenths / 10);
const seedArbitrary = fc.integer({ min: 0, max: 0xffff_ffff });

function isKeypadRate(rate: number): boolean {
  return Math.abs(rate * 10 - Math.round(rate * 10)) < 1e-9;
}

describe('starting doses', () => {
  it('are inside the soft limits after rounding to a 0.1 mL/h keypad rate, for every drug and patient of 50–110 kg', () => {
    fc.assert(fc.property(drugArbitrary, weightArbitrary, seedArbitrary, ([, entry], weightKg, seed) => {
      const choice = chooseStartingRate(entry, weightKg, new Random(seed));
      const soft = softRateDoseRange(entry);
      expect(choice).not.toBeNull();
      expect(soft).not.toBeNull();
      if (choice === null || soft === null) return;
      expect(isKeypadRate(choice.rateMlH)).toBe(true);
      const dose = doseOfRate(entry, weightKg, choice.rateMlH);
      expect(dose).toBe(choice.dose);
      expect(dose).toBeGreaterThanOrEqual(soft.min);
      expect(dose).toBeLessThanOrEqual(soft.max);
    }), { numRuns: 500 });
  });

  it('aim between the soft minimum (or 30 % of the soft maximum) and 75 % of it, give or take one keypad step', () => {
    const [, insulin] = drugs.find(([name]) => name === 'ICU/insulin') ?? [];
    if (insulin === undefined) throw new Error('demo config lacks ICU insulin');
    const random = new Random(8);
    for (let i = 0; i < 200; i++) {
      const choice = chooseStartingRate(insulin, 80, random);
      // ICU insulin: soft max 0.2 units/kg/h, no minimum; 100 units/100 mL, so 0.1 mL/h is 0.00125 units/kg/h.
      expect(choice?.dose).toBeGreaterThanOrEqual(0.06 - 0.00125);
      expect(choice?.dose).toBeLessThanOrEqual(0.15 + 0.00125);
    }
  });

  it('give the demo pump its heparin at 14.4 mL/h: 18 units/kg/h for 80 kg of 25 000 units in 250 mL', () => {
    const [, heparin] = drugs.find(([name]) => name === 'ICU/heparin') ?? [];
    if (heparin === undefined) throw new Error('demo config lacks ICU heparin');
    const range = softRateDoseRange(heparin) ?? { min: 0, max: 0 };
    expect(rateForDose(heparin, 80, 18, range)).toEqual({ dose: 18, rateMlH: 14.4 });
  });

  it('are refused when no keypad rate falls inside the range', () => {
    const [, heparin] = drugs.find(([name]) => name === 'ICU/heparin') ?? [];
    if (heparin === undefined) throw new Error('demo config lacks ICU heparin');
    // 0.1 mL/h is 0.125 units/kg/h and 0.2 mL/h is 0.25 for 80 kg: nothing lands in [0.13, 0.14].
    expect(rateForDose(heparin, 80, 0.135, { min: 0.13, max: 0.14 })).toBeNull();
  });
});

describe('titrations', () => {
  it('stay inside the soft limits, change the rate, and step by far less than tenfold, over a day of titrations', () => {
    fc.assert(fc.property(drugArbitrary, weightArbitrary, seedArbitrary, ([, entry], weightKg, seed) => {
      const random = new Random(seed);
      const soft = softRateDoseRange(entry);
      let rate = chooseStartingRate(entry, weightKg, random)?.rateMlH;
      if (rate === undefined || soft === null) throw new Error('no starting rate');
      for (let step = 0; step < 12; step++) {
        const next = chooseTitration(entry, weightKg, rate, random);
        if (next === null) continue;
        expect(next.rateMlH).not.toBe(rate);
        expect(isKeypadRate(next.rateMlH)).toBe(true);
        expect(next.dose).toBeGreaterThanOrEqual(soft.min);
        expect(next.dose).toBeLessThanOrEqual(soft.max);
        // ±25 % of the dose (a 25 % cut is a factor 1/0.75), plus at most one 0.1 mL/h keypad step of rounding.
        expect(stepFactor(rate, next.rateMlH)).toBeLessThanOrEqual((1 / 0.75) * (1 + 0.1 / Math.min(rate, next.rateMlH)) + 1e-9);
        expect(stepFactor(rate, next.rateMlH)).toBeLessThan(10);
        rate = next.rateMlH;
      }
    }), { numRuns: 300 });
  });
});

describe('boluses', () => {
  it('stay inside the soft bolus limits and within what is left in the bag, for drugs whose library entry allows a bolus', () => {
    const withBolus = drugs.filter(([, entry]) => entry.bolus !== undefined);
    expect(withBolus.map(([name]) => name).sort()).toEqual(['ICU/heparin', 'ICU/morphine', 'Med-Surg/heparin', 'Med-Surg/morphine']);
    fc.assert(fc.property(fc.constantFrom(...withBolus), weightArbitrary, fc.integer({ min: 10, max: 250 }), seedArbitrary, ([, entry], weightKg, leftMl, seed) => {
      const choice = chooseBolus(entry, weightKg, leftMl, new Random(seed));
      const soft = softBolusDoseRange(entry);
      if (choice === null || soft === null || entry.bolus === undefined) return;
      expect(choice.volumeMl).toBeLessThanOrEqual(leftMl);
      expect(isKeypadRate(choice.volumeMl)).toBe(true);
      const dose = volumeToBolusDose(choice.volumeMl, entry.concentration, entry.bolus.unit, weightKg);
      expect(dose).toBeCloseTo(choice.dose, 12);
      expect(dose).toBeGreaterThanOrEqual(soft.min);
      expect(dose).toBeLessThanOrEqual(soft.max);
    }), { numRuns: 500 });
  });

  it('are never chosen for a drug without bolus limits', () => {
    const [, propofol] = drugs.find(([name]) => name === 'ICU/propofol') ?? [];
    if (propofol === undefined) throw new Error('demo config lacks ICU propofol');
    expect(chooseBolus(propofol, 80, 100, new Random(1))).toBeNull();
  });
});
