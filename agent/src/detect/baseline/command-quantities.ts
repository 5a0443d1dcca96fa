import { rateToDose, volumeToBolusDose } from '../../model/dose.ts';
import { lookupDrug, type DrugLibrary } from '../../model/drug-library.ts';
import type { DeviceStateTracker, InfusionContext } from '../../normalize/device-state.ts';
import type { DeviceCommandEvent } from '../../normalize/events.ts';

/**
 * The numbers and categories a command sets, as the baseline learns and judges them.
 *
 * Each quantity says at which level it is meaningful:
 * - `device`: per device, falling back to the ward's devices of the same kind while the
 *   device has too little history (a dose in the drug's dose unit is comparable across
 *   this pump's patients because weight is already divided out);
 * - `group`: only across the ward's devices of the kind (a rate in mL/h depends on the
 *   patient's weight, and a new patient every few days would make a per-pump envelope cry
 *   wolf; across the care area it is a stable picture of what nurses program).
 */
export interface CommandQuantity {
  /** Key in the device's tables, or null for group-only quantities. */
  readonly deviceKey: string | null;
  /** Key in the tables of the device's kind across the ward. */
  readonly groupKey: string;
  readonly value: number | string;
  readonly unit: string;
  /** Words for an alert: "heparin dose", "lower_rate". */
  readonly label: string;
  /** A high-alert medication (drug library `highAlert`): far deviations are raised to high. */
  readonly highAlert: boolean;
  /** The care area a pump quantity's group envelope covers, for the alert's words. */
  readonly careArea?: string;
  /**
   * Tolerance past the envelope instead of `baseline.valueTolerance`: adult weights span
   * twice over on any ward, so a weight is unusual only beyond twice the learned range.
   */
  readonly tolerance?: number;
  /**
   * Judged only when far outside (`farFactor`): a rate in mL/h moves with the patient's
   * weight, which the dose already divides out, so only a rate far beyond anything the care
   * area runs (a tenfold dose hidden behind a tenfold weight) says more than the dose does.
   */
  readonly farOnly?: boolean;
  /**
   * A dose in the library's own unit never goes past warning: the library's soft and hard
   * limits are the clinical rule for it, and a new patient legitimately needs another dose
   * than the last. The amount (mL/h) and the weight behind it are what can be raised.
   */
  readonly warningOnly?: boolean;
  /** `baseline.farFactor` for this quantity instead (a weight twice beyond any patient's is far). */
  readonly farFactor?: number;
}

const NONE: readonly CommandQuantity[] = Object.freeze([]);
const WEIGHT_TOLERANCE = 1;
const WEIGHT_FAR_FACTOR = 2;

/** Pump quantities of a rate: dose (device level), mL/h (care area level). */
function rateQuantities(library: DrugLibrary, context: InfusionContext, rateMlH: number): CommandQuantity[] {
  const entry = lookupDrug(library, context.careArea, context.drug);
  const quantities: CommandQuantity[] = [{
    deviceKey: null,
    groupKey: `${context.careArea}/${context.drug}/rate`,
    value: rateMlH,
    unit: 'mL/h',
    label: `${context.drug} rate`,
    highAlert: entry?.highAlert ?? false,
    careArea: context.careArea,
    farOnly: true,
  }];
  if (entry !== undefined) {
    quantities.push({
      deviceKey: `${context.drug}/dose`,
      groupKey: `${context.careArea}/${context.drug}/dose`,
      value: rateToDose(rateMlH, entry.concentration, entry.doseUnit, context.weightKg),
      unit: entry.doseUnit,
      label: `${context.drug} dose`,
      highAlert: entry.highAlert,
      careArea: context.careArea,
      warningOnly: true,
    });
  }
  return quantities;
}

/**
 * What `event` sets, given the device's state before it (the infusion a `set_rate` or a
 * `bolus` applies to). Names from the wire become keys only through the drug library or the
 * profile's parameter names, so a sender cannot grow the tables with made-up keys.
 */
export function commandQuantities(event: DeviceCommandEvent, library: DrugLibrary, state: DeviceStateTracker): readonly CommandQuantity[] {
  const params = event.message.params;
  if (event.device.profile.id === 'infusion-pump') {
    switch (event.message.command) {
      case 'program_infusion': {
        const { drug, care_area: careArea, weight_kg: weightKg, rate_ml_h: rate } = params;
        if (typeof drug !== 'string' || typeof careArea !== 'string' || typeof weightKg !== 'number' || typeof rate !== 'number') return NONE;
        if (lookupDrug(library, careArea, drug) === undefined) return NONE;
        const highAlert = lookupDrug(library, careArea, drug)?.highAlert ?? false;
        return [
          ...rateQuantities(library, { drug, careArea, weightKg, rateMlPerHour: rate }, rate),
          // The weight a high-alert drug is dosed by: a wrong one passes every per-kg limit (ISMP).
          { deviceKey: null, groupKey: `${careArea}/weight`, value: weightKg, unit: 'kg', label: `patient weight for ${drug}`, highAlert, careArea, tolerance: WEIGHT_TOLERANCE, farFactor: WEIGHT_FAR_FACTOR },
        ];
      }
      case 'set_rate': {
        const context = state.get(event.device.config.id)?.infusion ?? null;
        const rate = params.rate_ml_h;
        if (context === null || typeof rate !== 'number' || lookupDrug(library, context.careArea, context.drug) === undefined) return NONE;
        return rateQuantities(library, context, rate);
      }
      case 'bolus': {
        const context = state.get(event.device.config.id)?.infusion ?? null;
        const volume = params.volume_ml;
        if (context === null || typeof volume !== 'number') return NONE;
        const entry = lookupDrug(library, context.careArea, context.drug);
        if (entry?.bolus === undefined) return NONE;
        return [{
          deviceKey: `${context.drug}/bolus`,
          groupKey: `${context.careArea}/${context.drug}/bolus`,
          value: volumeToBolusDose(volume, entry.concentration, entry.bolus.unit, context.weightKg),
          unit: entry.bolus.unit,
          label: `${context.drug} bolus`,
          highAlert: entry.highAlert,
          careArea: context.careArea,
          warningOnly: true,
        }];
      }
      default:
        return NONE;
    }
  }
  // Other profiles: every declared parameter of the command, numbers as envelopes, the rest as categories.
  const spec = event.spec.params;
  const quantities: CommandQuantity[] = [];
  for (const name of Object.keys(spec)) {
    const declared = spec[name];
    const value = params[name];
    if (declared === undefined || value === undefined || declared.type === 'string' && event.spec.name !== 'program') continue;
    const key = `${event.spec.name}/${name}`;
    quantities.push({
      deviceKey: key,
      groupKey: key,
      value: typeof value === 'boolean' ? String(value) : value,
      unit: declared.type === 'number' ? declared.unit ?? '' : '',
      label: name,
      highAlert: false,
    });
  }
  return quantities;
}
