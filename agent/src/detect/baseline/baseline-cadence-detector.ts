import type { FindingSink } from '../../alert/finding.ts';
import { formatQuantity } from '../../alert/format.ts';
import type { DeviceKind } from '../../model/device-profile.ts';
import type { BaselineConfig } from '../../model/site-schema.ts';
import type { InventoryDevice, PipelineEvent, TelemetryEvent } from '../../normalize/events.ts';
import type { Detector } from '../detector.ts';
import { formatDuration } from '../duration.ts';
import { reportDeviation } from './baseline-finding.ts';
import { publishedByDevice } from './baseline-learner.ts';
import type { BaselineModel, DeviceBaseline } from './baseline-model.ts';
import { CADENCE_WINDOW_SLOTS, CadenceWindow } from './cadence-window.ts';
import { learnedFor } from './explain.ts';
import type { LogHistogram } from './log-histogram.ts';

/**
 * The learned period is the mean of the learned intervals between their 10th and 90th
 * percentiles (LogHistogram.trimmedMean): the longest tenth (reboots, a night switched off)
 * and the shortest (reports right after commands, the first minutes of a second sender
 * before it was judged fast) drop out, and a device that sends two messages per period
 * still averages to its true rate.
 */
const TRIM_LOW = 0.1;
const TRIM_HIGH = 0.9;
/**
 * A slot is fast when it holds more than RATE_FACTOR times the reports the learned rate
 * gives it, plus JITTER_REPORTS. A second publisher at the device's own cadence doubles
 * the count (24 a minute for a 5 s device against a threshold of 19); in three simulated
 * days of the demo ward and of the 54-device ward no device sent more than 14 in a minute
 * (12 periodic, 2 after commands), and the reports after commands are not counted
 * (cadence-window.ts). The extra report covers jitter: a late report slips into the next
 * slot, which then holds one more. A second publisher sending at least about 0.6 times as
 * often as the device is seen.
 */
const RATE_FACTOR = 1.5;
const JITTER_REPORTS = 1;
/**
 * Sustained, not one burst: FAST_SLOTS of the last CADENCE_WINDOW_SLOTS slots must be fast.
 * A device that reconnects and sends the reports it queued while offline fills one or two
 * slots at once; a second publisher fills every slot for as long as it runs. Two slots of
 * slack let the second publisher miss a slot (its own reconnect) and still be seen.
 */
const FAST_SLOTS = 8;
/**
 * A slot holds about this many reports at the learned rate, between 1 and 15 minutes
 * long: a minute for the 5 s devices of the simulated ward (so an alert comes about 8
 * minutes after a second publisher starts), longer for a device that reports less often,
 * so that a doubling is still more than jitter.
 */
const REPORTS_PER_SLOT = 12;
const MIN_SLOT_MINUTES = 1;
const MAX_SLOT_MINUTES = 15;
const MINUTE_MS = 60_000;
/** The pending-review key of this deviation (baseline-accept.ts pendingKey: `cadence|telemetry`). */
export const CADENCE_KEY = 'telemetry';
const PENDING_KEY = `cadence|${CADENCE_KEY}`;

interface CadenceReference {
  readonly level: 'device' | 'group';
  /** Learned seconds between reports (trimmed mean). */
  readonly periodSeconds: number;
  readonly samples: number;
  readonly since: number;
  /** For the group level: the device of the kind whose cadence is the fastest learned. */
  readonly fastestDevice?: string;
}

interface KindCadence {
  readonly id: string;
  readonly period: number;
  readonly samples: number;
}

interface DeviceCadence {
  window: CadenceWindow;
  /** The last closed slots were judged fast: the device's telemetry is not learned meanwhile. */
  fast: boolean;
  /** A command closed a slot: judged at the next report. */
  due: boolean;
}

/**
 * Whether a device's cadence is learned: at least minSamples intervals that together span
 * `learningHours` of reporting (17,280 intervals of 5 s for 24 h). Counted in reports, not
 * from when the device was first seen (deviceMature), so that a cadence accepted by
 * `baseline accept` counts at once (baseline-accept.ts seeds that many), and a device
 * switched off half the time needs twice as long.
 */
export function cadenceLearned(intervals: LogHistogram, config: BaselineConfig): boolean {
  if (intervals.count < config.minSamples) return false;
  return intervals.count * intervals.trimmedMean(TRIM_LOW, TRIM_HIGH) >= config.learningHours * 3600;
}

/** Intervals that make `seconds` a learned cadence (cadenceLearned): what accepting one seeds. */
export function learnedCadenceSamples(seconds: number, config: BaselineConfig): number {
  return Math.max(config.minSamples, Math.ceil((config.learningHours * 3600) / seconds));
}

/** Slot length for a learned period: about REPORTS_PER_SLOT reports, whole minutes. */
export function cadenceSlotMs(periodSeconds: number): number {
  const minutes = Math.round((REPORTS_PER_SLOT * periodSeconds) / 60);
  return Math.min(MAX_SLOT_MINUTES, Math.max(MIN_SLOT_MINUTES, minutes)) * MINUTE_MS;
}

/**
 * Telemetry cadence (issue 5, part 3): a device's own telemetry arriving much faster than
 * it was learned to, sustained, is the signature of a second publisher speaking as the
 * device — its credentials copied off the device or a decommissioned battery module (Baxter
 * Sigma Spectrum, CVE-2022-26390) and used to co-publish, or a replayer on a link without
 * authenticity (Medtronic Conexus, CVE-2019-6538) — or of changed firmware. In-path, a
 * second session with the device's login is also `account-concurrent-session`; through the
 * MQTT tap or a capture without the login, where no sender is visible, this is the only
 * sign. Slower is not judged: a second sender cannot make a device slower, and a device
 * that stops is device-silent-detector.ts's.
 *
 * The rate is judged over a window of slots (cadence-window.ts) against the device's own
 * learned intervals once they span `learningHours` of reporting (cadenceLearned), else
 * against the fastest cadence learned on another device of its kind (a spare brought to a
 * bed), from when the kind's learning period is over (BaselineModel.judging). A fast
 * device waits for review (pending, realertHours) and its telemetry is not learned while it
 * stays fast, so the second stream never becomes its normal.
 *
 * Command inter-arrival is learned and exported but not judged: how often a pump is
 * commanded follows the patient (a titration protocol, an admission, a discharge) and
 * spans four orders of magnitude on the same device (a simulated week of the demo ward:
 * 5 s to 6 h between a pump's commands, 1 min to 20 h between a programmer's, 5th
 * percentile to maximum), and its dangerous extremes are already judged without a
 * baseline (publish flood, Modbus write burst, rate creep, replay). A learned threshold on it
 * would alarm on care, not on attacks.
 *
 * State: one window (ten counts) per inventory device that publishes telemetry, and one
 * cached reference per kind of device, so bounded by the inventory.
 */
export class BaselineCadenceDetector implements Detector {
  readonly id = 'baseline-cadence';
  private readonly devices = new Map<string, DeviceCadence>();
  /** Per kind of device: the fastest learned cadence and the event-time minute it was looked for in. */
  private readonly kinds = new Map<DeviceKind, { readonly minute: number; readonly fastest: KindCadence | null }>();

  constructor(private readonly model: BaselineModel) {}

  /** Devices with a window; at most the inventory's size. */
  get devicesTracked(): number {
    return this.devices.size;
  }

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (this.model.mode !== 'monitor') return;
    if (event.kind === 'command') {
      const state = this.devices.get(event.device.config.id);
      if (state === undefined) return;
      if (state.window.advance(event.ts)) state.due = true;
      state.window.countCommand();
      return;
    }
    if (event.kind !== 'telemetry' || !publishedByDevice(event)) return;
    const state = this.stateOf(event.device, event.ts);
    if (state.window.advance(event.ts) || state.due) this.judge(event, state, report);
    state.window.countTelemetry();
    // Fast: left out of the learned cadence until it is reviewed or slows down again.
    if (state.fast) this.model.flag(event);
  }

  private stateOf(device: InventoryDevice, ts: number): DeviceCadence {
    let state = this.devices.get(device.config.id);
    if (state === undefined) {
      state = { window: new CadenceWindow(MIN_SLOT_MINUTES * MINUTE_MS, ts), fast: false, due: false };
      this.devices.set(device.config.id, state);
    }
    return state;
  }

  private judge(event: TelemetryEvent, state: DeviceCadence, report: FindingSink): void {
    state.due = false;
    state.fast = false;
    const ts = event.ts;
    if (!this.model.judging(event.device.profile.id, ts)) return;
    const device = this.model.device(event.device.config.id, event.device.profile.id, ts);
    const reference = this.reference(event.device, device, ts);
    if (reference === null) return;
    const slotMs = cadenceSlotMs(reference.periodSeconds);
    if (slotMs !== state.window.slotMs) {
      // Slots of another length: start counting again (rare: a new device or a new cadence).
      state.window = new CadenceWindow(slotMs, ts);
      return;
    }
    const expected = slotMs / 1000 / reference.periodSeconds;
    const threshold = RATE_FACTOR * expected + JITTER_REPORTS;
    const fastSlots = state.window.slotsAbove(threshold);
    if (fastSlots < FAST_SLOTS) return;
    state.fast = true;
    // Already on the screen: not alerted again, and still not learned (the caller flags it).
    if (this.model.alreadyPending(device, PENDING_KEY, ts)) return;
    const recent = state.window.recent();
    // The rate while fast: the slots above the threshold only (the window may begin before the second sender).
    const fast = recent.filter((net) => net > threshold);
    const observed = fast.reduce((sum, net) => sum + net, 0) / fast.length;
    const ratio = observed / expected;
    const perMinute = observed / (slotMs / MINUTE_MS);
    const observedSeconds = slotMs / 1000 / Math.max(observed, Number.MIN_VALUE);
    const whose = reference.level === 'device' ? 'this device' : `the fastest ${event.device.profile.title.toLowerCase()} (${reference.fastestDevice ?? '?'})`;
    reportDeviation(this.model, report, {
      type: 'baseline-telemetry-cadence',
      event,
      dedupKey: PENDING_KEY,
      what: `telemetry ${formatQuantity(ratio)} times as fast as learned for ${formatDuration(fastSlots * slotMs)} of the last ${formatDuration(CADENCE_WINDOW_SLOTS * slotMs)} (${formatQuantity(perMinute)} reports a minute, not counting those after commands); in ${learnedFor(reference.since, ts)} of learning ${whose} reported every ${formatQuantity(reference.periodSeconds)} s: a second sender using its identity, or changed firmware`,
      learned: {
        level: reference.level,
        key: CADENCE_KEY,
        learnedSeconds: reference.periodSeconds,
        samples: reference.samples,
        learnedSince: reference.since,
        ...(reference.fastestDevice === undefined ? {} : { fastestDevice: reference.fastestDevice }),
        observedSeconds,
        ratio,
        slotSeconds: slotMs / 1000,
        reportsPerSlot: recent,
        threshold,
        fastSlots,
      },
      accept: { device: event.device.config.id, table: 'cadence', key: CADENCE_KEY, value: observedSeconds, unit: 's', level: 'device' },
    });
  }

  /**
   * The device's own learned cadence once it is learned (cadenceLearned); otherwise the
   * fastest cadence learned on its kind (a spare brought to a bed), or null when none has
   * been. The device itself is never its kind's reference (its own is not learned yet), so
   * one that started with a second sender is not its own yardstick.
   */
  private reference(inventory: InventoryDevice, device: DeviceBaseline, ts: number): CadenceReference | null {
    if (cadenceLearned(device.telemetrySeconds, this.model.config)) {
      return { level: 'device', periodSeconds: device.telemetrySeconds.trimmedMean(TRIM_LOW, TRIM_HIGH), samples: device.telemetrySeconds.count, since: device.firstSeen };
    }
    const group = this.model.groups.get(inventory.profile.id);
    const fastest = this.fastestOfKind(inventory.profile.id, ts);
    if (fastest === null || group === undefined) return null;
    return { level: 'group', periodSeconds: fastest.period, samples: fastest.samples, since: group.firstSeen, fastestDevice: fastest.id };
  }

  /**
   * The fastest learned cadence among the devices of a kind, looked for at most once per
   * minute of event time per kind: the only walk over the devices, and only for a device
   * whose own cadence is not learned.
   */
  private fastestOfKind(profile: DeviceKind, ts: number): KindCadence | null {
    const minute = Math.floor(ts / MINUTE_MS);
    const cached = this.kinds.get(profile);
    if (cached !== undefined && cached.minute === minute) return cached.fastest;
    let fastest: KindCadence | null = null;
    for (const [id, candidate] of this.model.devices) {
      if (candidate.profile !== profile || !cadenceLearned(candidate.telemetrySeconds, this.model.config)) continue;
      const period = candidate.telemetrySeconds.trimmedMean(TRIM_LOW, TRIM_HIGH);
      if (fastest === null || period < fastest.period) fastest = { id, period, samples: candidate.telemetrySeconds.count };
    }
    this.kinds.set(profile, { minute, fastest });
    return fastest;
  }
}
