import { describe, expect, it } from 'vitest';
import { bolusDoseToVolume, doseToRate, rateToDose, volumeToBolusDose, type Concentration } from '../../agent/src/model/dose.ts';

const heparin: Concentration = { amount: 25_000, unit: 'units', volumeMl: 250 };
const propofol: Concentration = { amount: 1_000, unit: 'mg', volumeMl: 100 };
const norepinephrine: Concentration = { amount: 4, unit: 'mg', volumeMl: 250 };

describe('dose conversion (mL/h → library dose unit)', () => {
  it('heparin 100 units/mL at 18 mL/h for 80 kg is 22.5 units/kg/h', () => {
    expect(rateToDose(18, heparin, 'units/kg/h', 80)).toBeCloseTo(22.5, 10);
  });

  it('propofol 10 mg/mL at 24 mL/h for 80 kg is 50 mcg/kg/min (mg → mcg, per hour → per minute)', () => {
    expect(rateToDose(24, propofol, 'mcg/kg/min', 80)).toBeCloseTo(50, 10);
  });

  it('propofol 4 mg/kg/h is 66.7 mcg/kg/min, the published ceiling', () => {
    const rate = doseToRate(4, propofol, 'mg/kg/h', 70);
    expect(rateToDose(rate, propofol, 'mcg/kg/min', 70)).toBeCloseTo(66.667, 2);
  });

  it('norepinephrine 16 mcg/mL at 15 mL/h for 50 kg is 0.08 mcg/kg/min', () => {
    expect(rateToDose(15, norepinephrine, 'mcg/kg/min', 50)).toBeCloseTo(0.08, 10);
  });

  it('weight does not enter a dose unit that is not per kg', () => {
    expect(rateToDose(5, { amount: 100, unit: 'mg', volumeMl: 100 }, 'mg/h', 40)).toBe(5);
    expect(rateToDose(5, { amount: 100, unit: 'mg', volumeMl: 100 }, 'mg/h', 120)).toBe(5);
  });

  it('doseToRate inverts rateToDose, and the tenfold slip is ten times the dose', () => {
    const rate = doseToRate(18, heparin, 'units/kg/h', 72);
    expect(rate).toBeCloseTo(12.96, 10);
    expect(rateToDose(rate * 10, heparin, 'units/kg/h', 72)).toBeCloseTo(180, 10);
  });

  it('bolus volumes convert to units/kg and back', () => {
    expect(volumeToBolusDose(64, heparin, 'units/kg', 80)).toBeCloseTo(80, 10);
    expect(bolusDoseToVolume(2, { amount: 100, unit: 'mg', volumeMl: 100 }, 'mg', 70)).toBeCloseTo(2, 10);
  });

  it('refuses to convert between amounts of different kinds', () => {
    expect(() => rateToDose(1, heparin, 'mg/h', 70)).toThrow(/cannot convert units to mg/);
  });
});
