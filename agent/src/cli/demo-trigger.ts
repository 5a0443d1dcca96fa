import { doseToRate } from '../model/dose.ts';
import { lookupDrug } from '../model/drug-library.ts';
import type { SiteConfig } from '../model/site-schema.ts';

/** The patient weight the simulated ward gives the first ICU pump's heparin infusion. */
export const DEMO_HEPARIN_WEIGHT_KG = 80;

export interface DemoTrigger {
  readonly deviceId: string;
  readonly bed: string;
  readonly rateMlPerHour: number;
  readonly hardLimit: string;
}

/**
 * The copy-paste attack the demo prints: heparin on the first ICU pump (the simulated
 * ward always runs heparin there, for an 80 kg patient) at ten times its hard limit.
 * Computed from the config, so it stays right when the library changes.
 */
export function demoTrigger(config: SiteConfig): DemoTrigger | null {
  const pump = config.devices.find((device) => device.profile === 'infusion-pump' && device.careArea === 'ICU');
  if (pump === undefined || pump.careArea === undefined) return null;
  const heparin = lookupDrug(config.drugLibrary, pump.careArea, 'heparin');
  if (heparin === undefined || heparin.hard.max === undefined) return null;
  const rate = doseToRate(10 * heparin.hard.max, heparin.concentration, heparin.doseUnit, DEMO_HEPARIN_WEIGHT_KG);
  return {
    deviceId: pump.id,
    bed: pump.bed ?? pump.location ?? pump.ward,
    rateMlPerHour: Math.round(rate * 10) / 10,
    hardLimit: `${heparin.hard.max} ${heparin.doseUnit}`,
  };
}
