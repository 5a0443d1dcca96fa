import { doseToRate } from '../model/dose.ts';
import { lookupDrug } from '../model/drug-library.ts';
import type { SiteConfig } from '../model/site-schema.ts';
import { DEMO_INFUSION, findDemoPump } from '../../../simulators/src/actors/nurse-station.ts';

export interface DemoTrigger {
  readonly deviceId: string;
  readonly bed: string;
  readonly drug: string;
  readonly rateMlPerHour: number;
  readonly hardLimit: string;
}

/**
 * The copy-paste attack the demo prints: the simulated ward's demo infusion (heparin on
 * the first ICU pump, for the patient weight the simulator uses) at ten times its hard
 * limit. Computed from the config and the simulator's own constants, so it stays right
 * when either changes.
 */
export function demoTrigger(config: SiteConfig): DemoTrigger | null {
  const pump = findDemoPump(config.devices);
  if (pump?.careArea === undefined) return null;
  const entry = lookupDrug(config.drugLibrary, pump.careArea, DEMO_INFUSION.drug);
  if (entry?.hard.max === undefined) return null;
  const rate = doseToRate(10 * entry.hard.max, entry.concentration, entry.doseUnit, DEMO_INFUSION.weightKg);
  return {
    deviceId: pump.id,
    bed: pump.bed ?? pump.location ?? pump.ward,
    drug: DEMO_INFUSION.drug,
    rateMlPerHour: Math.round(rate * 10) / 10,
    hardLimit: `${entry.hard.max} ${entry.doseUnit}`,
  };
}
