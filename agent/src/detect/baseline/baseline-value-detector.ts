import type { FindingSink } from '../../alert/finding.ts';
import { formatQuantity, sentBy } from '../../alert/format.ts';
import type { DrugLibrary } from '../../model/drug-library.ts';
import type { DeviceStateTracker } from '../../normalize/device-state.ts';
import type { DeviceCommandEvent, PipelineEvent } from '../../normalize/events.ts';
import type { Detector } from '../detector.ts';
import { reportDeviation, type BaselineFindingInput } from './baseline-finding.ts';
import type { BaselineModel, ValueTables } from './baseline-model.ts';
import { commandQuantities, type CommandQuantity } from './command-quantities.ts';
import { formatRange, learnedFor } from './explain.ts';
import type { ValueEnvelope } from './value-envelope.ts';

const HOUR_MS = 3_600_000;
/** Devices a care area's envelope must have been learned from before a value far outside it is high. */
const MIN_SOURCES_TO_RAISE = 2;
/** A deviation alerted already is alerted again when it goes this many times further out. */
const ESCALATION = 2;

/** A value below the envelope counts only at its low edge divided by this or more. */
const BELOW_FACTOR = 2;

interface Judged {
  readonly envelope: ValueEnvelope;
  readonly level: 'device' | 'group';
  readonly key: string;
  readonly since: number;
}

/**
 * A commanded value inside the hard limits but outside what was learned (issue 5, part 3):
 * "heparin 38 mL/h on pump-03; in 6 days of learning this pump ran heparin at 8–22 mL/h".
 * The device's own envelope is used once the device is mature and the entry has
 * minSamples; before that, the envelope of its kind across the care area. A value
 * `valueTolerance` past the edge is unusual (warning); `farFactor` times past it is high
 * for the amount (mL/h) or the patient weight of a high-alert drug, when the envelope was
 * learned from at least two devices. A dose per kg is never more than a warning: the drug
 * library's limits are the clinical rule for it.
 */
export class BaselineValueDetector implements Detector {
  readonly id = 'baseline-value';
  /**
   * The last deviation alerted per device and envelope: a new patient whose dose differs
   * from what the ward learned is one alert, not one per titration. It alerts again when
   * the value goes twice as far out, turns far, or after realertHours. One entry per
   * device and drug of the inventory and library, so bounded by the config.
   */
  private readonly alerted = new Map<string, { readonly ts: number; readonly ratio: number; readonly far: boolean }>();

  constructor(
    private readonly model: BaselineModel,
    private readonly library: DrugLibrary,
    private readonly state: DeviceStateTracker,
  ) {}

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind !== 'command' || !this.model.judging(event.device.profile.id, event.ts)) return;
    const device = this.model.devices.get(event.device.config.id);
    const group = this.model.groups.get(event.device.profile.id);
    if (group === undefined) return;
    const mature = this.model.deviceMature(device, event.ts) ? device : undefined;
    // One alert per command: the worst of its deviations (a far high-alert dose before a weight).
    let worst: { readonly input: BaselineFindingInput; readonly rank: number } | null = null;
    for (const quantity of commandQuantities(event, this.library, this.state)) {
      // Categories (a pacing mode) are learned for review but not judged: a mode is the
      // patient's, and the dangerous ones are clinical rules (pacing-detector.ts).
      if (typeof quantity.value !== 'number') continue;
      const found = this.judgeNumber(event, quantity, quantity.value, mature?.values, group.values, mature?.firstSeen ?? group.firstSeen, group.firstSeen);
      if (found !== null && (worst === null || found.rank > worst.rank)) worst = found;
    }
    if (worst === null) return;
    const learned = worst.input.learned as { readonly key: string; readonly far: boolean; readonly ratio: number };
    const alertKey = `${event.device.config.id}|${learned.key}`;
    const previous = this.alerted.get(alertKey);
    const fresh = previous === undefined || event.ts - previous.ts >= this.model.config.realertHours * HOUR_MS
      || learned.ratio >= previous.ratio * ESCALATION || (learned.far && !previous.far);
    if (!fresh) {
      // Already on the screen: not learned either, so the envelope does not drift toward it.
      this.model.flag(event);
      return;
    }
    this.alerted.set(alertKey, { ts: event.ts, ratio: learned.ratio, far: learned.far });
    reportDeviation(this.model, report, worst.input);
  }

  private pick(quantity: CommandQuantity, deviceValues: ValueTables | undefined, groupValues: ValueTables, deviceSince: number, groupSince: number): Judged | null {
    const minSamples = this.model.config.minSamples;
    if (quantity.deviceKey !== null && deviceValues !== undefined) {
      const envelope = deviceValues.envelopes.get(quantity.deviceKey);
      if (envelope !== undefined && envelope.samples >= minSamples) return { envelope, level: 'device', key: quantity.deviceKey, since: deviceSince };
    }
    const envelope = groupValues.envelopes.get(quantity.groupKey);
    if (envelope !== undefined && envelope.samples >= minSamples) return { envelope, level: 'group', key: quantity.groupKey, since: groupSince };
    return null;
  }

  /**
   * The tolerance past the edge, wider while the envelope rests on few samples: n samples
   * leave about 1/n of the true range unseen on each side, so the margin shrinks as 1/√n
   * toward `valueTolerance` (five samples: +45 %, a hundred: +10 %).
   */
  private toleranceFor(quantity: CommandQuantity, samples: number): number {
    return (quantity.tolerance ?? this.model.config.valueTolerance) + 1 / Math.sqrt(Math.max(1, samples));
  }

  /** A deviation ranked by how far outside it lies (ratio to the edge), high-alert far ones first. */
  private judgeNumber(event: DeviceCommandEvent, quantity: CommandQuantity, value: number, deviceValues: ValueTables | undefined, groupValues: ValueTables, deviceSince: number, groupSince: number): { input: BaselineFindingInput; rank: number } | null {
    const judged = this.pick(quantity, deviceValues, groupValues, deviceSince, groupSince);
    const bounds = judged?.envelope.bounds() ?? null;
    if (judged === null || bounds === null) return null;
    const farFactor = quantity.farFactor ?? this.model.config.farFactor;
    const tolerance = this.toleranceFor(quantity, judged.envelope.samples);
    const above = value > bounds.high * (1 + tolerance);
    // Below the envelope is the safer side of a dose: unusual only at half its low edge or less.
    const below = value < bounds.low / Math.max(BELOW_FACTOR, 1 + tolerance);
    if (!above && !below) return null;
    const ratio = above ? value / Math.max(bounds.high, Number.MIN_VALUE) : bounds.low / Math.max(value, Number.MIN_VALUE);
    const far = ratio >= farFactor;
    if (quantity.farOnly === true && !far) return null;
    const whose = judged.level === 'device' ? 'this device' : `devices of this kind${quantity.careArea === undefined ? '' : ` in ${quantity.careArea}`}`;
    // High needs a high-alert drug, a quantity that may be raised, and an envelope that is the
    // ward's practice: a care area's envelope learned from one pump is one patient's dose.
    const raised = far && quantity.highAlert && quantity.warningOnly !== true && (judged.level === 'device' || judged.envelope.sourceCount >= MIN_SOURCES_TO_RAISE);
    const input: BaselineFindingInput = {
      type: raised ? 'baseline-value-far' : 'baseline-value-unusual',
      event,
      dedupKey: `value|${judged.key}`,
      what: `${quantity.label} ${formatQuantity(value)} ${quantity.unit}${sentBy(event.source)}; in ${learnedFor(judged.since, event.ts)} of learning ${whose} received ${formatRange(bounds, quantity.unit)}`,
      learned: { level: judged.level, key: judged.key, observed: value, unit: quantity.unit, low: bounds.low, high: bounds.high, samples: judged.envelope.samples, learnedSince: judged.since, far, ratio },
      accept: { device: event.device.config.id, table: 'value', key: judged.key, value, unit: quantity.unit, level: judged.level },
    };
    return { input, rank: (raised ? 1e6 : 0) + ratio };
  }

}
