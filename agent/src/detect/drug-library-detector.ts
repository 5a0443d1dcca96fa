import { rateToDose, volumeToBolusDose } from '../model/dose.ts';
import { hasCareArea, lookupDrug, type DrugLibrary } from '../model/drug-library.ts';
import type { DetectionConfig, DoseLimit, DrugEntry, SiteConfig } from '../model/site-schema.ts';
import type { AlertType } from '../alert/catalogue.ts';
import type { FindingSink } from '../alert/finding.ts';
import { formatQuantity, sentBy } from '../alert/format.ts';
import type { DeviceStateTracker, InfusionContext } from '../normalize/device-state.ts';
import type { DeviceCommandEvent, PipelineEvent } from '../normalize/events.ts';
import { deviceLabel } from '../normalize/inventory.ts';
import { commandEvidence } from './authorization-detector.ts';
import type { Detector } from './detector.ts';

interface LimitBreach {
  readonly type: AlertType;
  readonly limitName: string;
  readonly limit: number;
}

/** Hard limits first: a dose above the hard maximum is reported as that, not also as above the soft one. */
function limitBreach(dose: number, soft: DoseLimit, hard: DoseLimit, kind: 'dose' | 'bolus'): LimitBreach | null {
  if (hard.max !== undefined && dose > hard.max) return { type: kind === 'dose' ? 'dose-above-hard-limit' : 'bolus-above-hard-limit', limitName: 'hard limit', limit: hard.max };
  if (hard.min !== undefined && dose < hard.min && kind === 'dose') return { type: 'dose-below-hard-limit', limitName: 'hard minimum', limit: hard.min };
  if (soft.max !== undefined && dose > soft.max) return { type: kind === 'dose' ? 'dose-above-soft-limit' : 'bolus-above-soft-limit', limitName: 'soft limit', limit: soft.max };
  if (soft.min !== undefined && dose < soft.min && kind === 'dose') return { type: 'dose-below-soft-limit', limitName: 'soft minimum', limit: soft.min };
  return null;
}

/**
 * Drug-library (DERS) checks on pump commands: the programmed mL/h converted to the
 * drug's dose unit through concentration and patient weight, against the soft and hard
 * limits of the care area; boluses against bolus limits; and the tenfold step against
 * the rate the pump is running (DESIGN.md, reference facts: 41.7 for 4.17 mL/h).
 */
export class DrugLibraryDetector implements Detector {
  readonly id = 'drug-library';
  private readonly library: DrugLibrary;
  private readonly detection: DetectionConfig;

  constructor(config: SiteConfig, private readonly state: DeviceStateTracker) {
    this.library = config.drugLibrary;
    this.detection = config.detection;
  }

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind !== 'command' || event.device.profile.id !== 'infusion-pump') return;
    const params = event.message.params;
    const current = this.state.get(event.device.config.id)?.infusion ?? null;
    switch (event.message.command) {
      case 'program_infusion': {
        const { drug, care_area: careArea, weight_kg: weightKg, rate_ml_h: rate } = params;
        if (typeof drug !== 'string' || typeof careArea !== 'string' || typeof weightKg !== 'number' || typeof rate !== 'number') return;
        this.checkCareArea(event, careArea, report);
        const context: InfusionContext = { drug, careArea, weightKg, rateMlPerHour: rate };
        this.checkRate(event, context, rate, report);
        if (current !== null && current.drug === drug) this.checkStep(event, current, rate, report);
        return;
      }
      case 'set_rate': {
        const rate = params.rate_ml_h;
        if (typeof rate !== 'number') return;
        if (current === null) return this.reportNoContext(event, report);
        this.checkRate(event, current, rate, report);
        this.checkStep(event, current, rate, report);
        return;
      }
      case 'bolus': {
        const volume = params.volume_ml;
        if (typeof volume !== 'number') return;
        if (current === null) return this.reportNoContext(event, report);
        this.checkBolus(event, current, volume, report);
        return;
      }
    }
  }

  private entry(context: InfusionContext): DrugEntry | undefined {
    return lookupDrug(this.library, context.careArea, context.drug);
  }

  private checkCareArea(event: DeviceCommandEvent, careArea: string, report: FindingSink): void {
    const assigned = event.device.config.careArea;
    if (assigned === undefined || assigned === careArea || !hasCareArea(this.library, careArea)) return;
    report({
      type: 'care-area-mismatch',
      ts: event.ts,
      device: event.device,
      dedupKey: `${event.device.config.id}|${careArea}`,
      title: `${deviceLabel(event.device)}: programmed under ${careArea.slice(0, 32)} limits, but the pump belongs to ${assigned}${sentBy(event.source)}`,
      evidence: { ...commandEvidence(event), assignedCareArea: assigned },
    });
  }

  private checkRate(event: DeviceCommandEvent, context: InfusionContext, rate: number, report: FindingSink): void {
    const label = deviceLabel(event.device);
    const entry = this.entry(context);
    if (entry === undefined) {
      report({
        type: 'drug-not-in-library',
        ts: event.ts,
        device: event.device,
        // Drug and care area are free text off the wire: one alert per device folds the attempts (count), evidence keeps the latest.
        dedupKey: `${event.device.config.id}|drug-not-in-library`,
        title: `${label}: ${context.drug.slice(0, 32)} is not in the ${context.careArea.slice(0, 32)} drug library${sentBy(event.source)}`,
        evidence: { ...commandEvidence(event), careArea: context.careArea, libraryDrugs: hasCareArea(this.library, context.careArea) ? Object.keys(this.library.careAreas[context.careArea]?.drugs ?? {}) : [] },
      });
      return;
    }
    const dose = rateToDose(rate, entry.concentration, entry.doseUnit, context.weightKg);
    const breach = limitBreach(dose, entry.soft, entry.hard, 'dose');
    if (breach === null) return;
    const unit = entry.doseUnit;
    report({
      type: breach.type,
      ts: event.ts,
      device: event.device,
      dedupKey: `${event.device.config.id}|${context.drug}`,
      title: `${label}: ${context.drug} ${formatQuantity(rate)} mL/h = ${formatQuantity(dose)} ${unit}, ${breach.type.includes('above') ? 'above' : 'below'} the ${breach.limitName} of ${formatQuantity(breach.limit)} ${unit}${sentBy(event.source)}`,
      evidence: {
        ...commandEvidence(event),
        drug: context.drug,
        careArea: context.careArea,
        weightKg: context.weightKg,
        rateMlPerHour: rate,
        dose,
        doseUnit: unit,
        concentration: entry.concentration,
        softLimit: entry.soft,
        hardLimit: entry.hard,
      },
    });
  }

  private checkStep(event: DeviceCommandEvent, current: InfusionContext, rate: number, report: FindingSink): void {
    const previous = current.rateMlPerHour;
    if (previous <= 0 || rate <= 0) return;
    const ratio = Math.max(rate / previous, previous / rate);
    if (ratio < this.detection.rateStepFactor) return;
    report({
      type: 'rate-step-tenfold',
      ts: event.ts,
      device: event.device,
      dedupKey: `${event.device.config.id}|${current.drug}`,
      title: `${deviceLabel(event.device)}: ${current.drug} rate changed ${formatQuantity(ratio)}× (${formatQuantity(previous)} → ${formatQuantity(rate)} mL/h)${sentBy(event.source)}`,
      evidence: { ...commandEvidence(event), drug: current.drug, previousRateMlPerHour: previous, rateMlPerHour: rate, ratio, factor: this.detection.rateStepFactor },
    });
  }

  private checkBolus(event: DeviceCommandEvent, context: InfusionContext, volume: number, report: FindingSink): void {
    const entry = this.entry(context);
    if (entry?.bolus === undefined) return;
    const dose = volumeToBolusDose(volume, entry.concentration, entry.bolus.unit, context.weightKg);
    const breach = limitBreach(dose, entry.bolus.soft, entry.bolus.hard, 'bolus');
    if (breach === null) return;
    const unit = entry.bolus.unit;
    report({
      type: breach.type,
      ts: event.ts,
      device: event.device,
      dedupKey: `${event.device.config.id}|${context.drug}|bolus`,
      title: `${deviceLabel(event.device)}: ${context.drug} bolus ${formatQuantity(volume)} mL = ${formatQuantity(dose)} ${unit}, above the bolus ${breach.limitName} of ${formatQuantity(breach.limit)} ${unit}${sentBy(event.source)}`,
      evidence: { ...commandEvidence(event), drug: context.drug, careArea: context.careArea, weightKg: context.weightKg, volumeMl: volume, dose, doseUnit: unit, bolusLimits: entry.bolus },
    });
  }

  private reportNoContext(event: DeviceCommandEvent, report: FindingSink): void {
    report({
      type: 'rate-without-context',
      ts: event.ts,
      device: event.device,
      dedupKey: event.device.config.id,
      title: `${deviceLabel(event.device)}: ${event.message.command} received while the agent does not know which drug is running; library limits not checked`,
      evidence: commandEvidence(event),
    });
  }
}
