import type { DrugEntry, SiteConfig } from './site-schema.ts';

export type DrugLibrary = SiteConfig['drugLibrary'];

/**
 * The library entry for a drug in a care area. Names come off the wire, so only own keys
 * count: "constructor" or "__proto__" must not find Object's members.
 */
export function lookupDrug(library: DrugLibrary, careArea: string, drug: string): DrugEntry | undefined {
  const area = Object.hasOwn(library.careAreas, careArea) ? library.careAreas[careArea] : undefined;
  return area !== undefined && Object.hasOwn(area.drugs, drug) ? area.drugs[drug] : undefined;
}

export function hasCareArea(library: DrugLibrary, careArea: string): boolean {
  return Object.hasOwn(library.careAreas, careArea);
}
