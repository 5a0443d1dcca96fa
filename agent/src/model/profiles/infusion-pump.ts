import type { DeviceProfile } from '../device-profile.ts';

/**
 * A large-volume infusion pump with a drug library (DERS). Device limits are the
 * hardware envelope of common volumetric pumps (0.1–999 mL/h); clinical limits come
 * from the site's drug library, not from here.
 */
export const infusionPumpProfile: DeviceProfile = {
  id: 'infusion-pump',
  title: 'Infusion pump',
  telemetryIntervalMs: 5_000,
  commands: {
    program_infusion: {
      name: 'program_infusion',
      description: 'Program a continuous infusion from the drug library',
      params: {
        drug: { type: 'string', maxLength: 32, required: true, description: 'Drug library entry' },
        rate_ml_h: { type: 'number', unit: 'mL/h', min: 0.1, max: 999, resolution: 0.1, required: true, description: 'Infusion rate' },
        vtbi_ml: { type: 'number', unit: 'mL', min: 0.1, max: 9999, resolution: 0.1, required: true, description: 'Volume to be infused' },
        weight_kg: { type: 'number', unit: 'kg', min: 0.3, max: 350, resolution: 0.1, required: true, description: 'Patient weight' },
        care_area: { type: 'string', maxLength: 32, required: true, description: 'Drug library care area' },
      },
    },
    set_rate: {
      name: 'set_rate',
      description: 'Titrate the running infusion',
      params: {
        rate_ml_h: { type: 'number', unit: 'mL/h', min: 0.1, max: 999, resolution: 0.1, required: true, description: 'New infusion rate' },
      },
    },
    bolus: {
      name: 'bolus',
      description: 'Deliver a bolus of the running drug',
      params: {
        volume_ml: { type: 'number', unit: 'mL', min: 0.1, max: 100, resolution: 0.1, required: true, description: 'Bolus volume' },
      },
    },
    start: { name: 'start', description: 'Start or resume the programmed infusion', params: {} },
    pause: { name: 'pause', description: 'Pause the infusion', params: {} },
    stop: { name: 'stop', description: 'Stop and clear the infusion', params: {} },
    load_drug_library: {
      name: 'load_drug_library',
      description: 'Load a new drug library; only the pharmacy server should send it (Hospira PCA3, CVE-2014-5406)',
      params: {
        version: { type: 'string', maxLength: 64, required: true, description: 'Library version' },
        sha256: { type: 'string', maxLength: 64, required: true, description: 'SHA-256 of the library package' },
      },
    },
  },
  telemetry: {
    state: { type: 'string', description: 'idle | running | paused | alarm | complete' },
    drug: { type: 'string', description: 'Drug being infused, empty when idle' },
    care_area: { type: 'string', description: 'Care area the infusion was programmed under' },
    weight_kg: { type: 'number', unit: 'kg', resolution: 0.1, description: 'Patient weight the infusion was programmed with' },
    rate_ml_h: { type: 'number', unit: 'mL/h', resolution: 0.1, description: 'Current programmed rate' },
    infused_ml: { type: 'number', unit: 'mL', resolution: 0.1, description: 'Volume infused since programming' },
    vtbi_ml: { type: 'number', unit: 'mL', resolution: 0.1, description: 'Volume to be infused' },
    alarm: { type: 'string', description: 'Active alarm (occlusion, air-in-line, complete) or empty' },
    battery_pct: { type: 'number', unit: '%', description: 'Battery charge' },
    library_version: { type: 'string', description: 'Drug library version loaded on the pump' },
  },
};
