import { ALERT_CATALOGUE, type AlertType } from '../../alert/catalogue.ts';
import type { FindingSink } from '../../alert/finding.ts';
import type { DrugLibrary } from '../../model/drug-library.ts';
import type { LocalTimeConverter } from '../../model/local-time.ts';
import type { DeviceStateTracker } from '../../normalize/device-state.ts';
import type { DeviceCommandEvent, PipelineEvent, TelemetryEvent } from '../../normalize/events.ts';
import type { Detector } from '../detector.ts';
import type { BaselineModel, DeviceBaseline } from './baseline-model.ts';
import { commandQuantities } from './command-quantities.ts';
import { commanderOf, originKey } from './commander.ts';
import { boundedKey } from '../bounded-key.ts';
import { previousCommand } from './command-sequence.ts';
import { hourKey } from './hour-key.ts';

/** Commands that change software or a drug library: who sends them is learned as a pusher. */
export const PUSH_COMMANDS: ReadonlySet<string> = new Set(['load_drug_library', 'install_update']);
/** Telemetry fields that name installed software or libraries. */
export const VERSION_FIELDS: readonly string[] = ['library_version', 'firmware'];
const VERSION_TOUCH_MS = 3_600_000;

/**
 * Whether any detector raised a high or critical alert on the event: a dose above the hard
 * limit, an unauthorized command, a replay. Such an event is an attack or an error until
 * someone says otherwise, and learning it would widen the envelope an attacker must stay
 * within. Warnings (a soft limit a clinician overrode, a care-area mismatch) are learned:
 * they are part of care, and the soft-limit alert still fires every time.
 */
function raisedSeriousAlert(types: readonly AlertType[]): boolean {
  for (const type of types) {
    const severity = ALERT_CATALOGUE[type].severity;
    if (severity === 'critical' || severity === 'high') return true;
  }
  return false;
}

/**
 * Fills the baseline from what the ward does (issue 5, part 1). Runs after every deviation
 * detector, on the device state before the event, and learns nothing from an event a
 * baseline detector flagged, or any detector raised a high or critical alert on: a
 * deviation waits for review instead of teaching itself as normal.
 * In `monitor` mode it keeps learning what conforms; a frozen device learns nothing.
 */
export class BaselineLearner implements Detector {
  readonly id = 'baseline-learner';

  constructor(
    private readonly model: BaselineModel,
    private readonly library: DrugLibrary,
    private readonly state: DeviceStateTracker,
    private readonly clock: LocalTimeConverter,
    /** The alert types the detectors before this one raised on the current event (pipeline.ts FindingRecorder). */
    private readonly raisedOnEvent: () => readonly AlertType[] = () => [],
  ) {}

  inspect(event: PipelineEvent, _report: FindingSink): void {
    if (this.model.mode === 'off') return;
    if (event.kind !== 'command' && event.kind !== 'telemetry') return;
    this.model.expire(event.ts);
    const device = this.model.device(event.device.config.id, event.device.profile.id, event.ts);
    const learn = !device.frozen && !this.model.isFlagged(event) && !raisedSeriousAlert(this.raisedOnEvent());
    if (learn) {
      this.model.events += 1;
      this.model.learnedUntil = Math.max(this.model.learnedUntil ?? event.ts, event.ts);
      device.lastSeen = Math.max(device.lastSeen, event.ts);
    }
    if (event.kind === 'command') {
      if (learn) this.learnCommand(event, device);
      // The sequence goes on whether or not the command was learned: the next one follows it.
      // A library or software push is the pharmacy's or the vendor's, not a step of care.
      if (!PUSH_COMMANDS.has(event.message.command)) device.lastCommand = { name: event.message.command, ts: event.ts };
    } else if (ownWord(event)) {
      if (learn) this.learnTelemetry(event, device);
      if (publishedByDevice(event)) device.lastTelemetryTs = event.ts;
    }
  }

  private learnCommand(event: DeviceCommandEvent, device: DeviceBaseline): void {
    const ts = event.ts;
    const group = this.model.group(event.device.profile.id, ts);
    group.lastSeen = Math.max(group.lastSeen, ts);
    const command = event.message.command;
    const commander = commanderOf(event.source);
    const local = this.clock.at(ts);
    const hour = hourKey(local.hour);
    const weekday = `d${local.weekday}`;

    device.commands += 1;
    group.commands += 1;
    device.commanders.see(commander, ts);
    group.commanders.see(commander, ts);
    device.hours.see(hour, ts);
    device.hours.see(weekday, ts);
    group.hours.see(hour, ts);
    group.hours.see(weekday, ts);
    group.commanderHours.see(`${commander}@${hour}`, ts);
    if (PUSH_COMMANDS.has(command)) group.pushers.see(`${command}@${commander}`, ts);
    if (event.source.transport === 'mqtt') {
      group.origins.see(originKey(commander, event.source.address), ts);
      group.origins.see(`${commander}#${boundedKey(event.source.clientId)}`, ts);
    }

    if (!PUSH_COMMANDS.has(command)) {
      const transition = `${previousCommand(device, ts)}>${command}`;
      device.transitions.see(transition, ts);
      group.transitions.see(transition, ts);
    }
    if (device.lastCommand !== null && ts >= device.lastCommand.ts) device.interArrivalMinutes.add((ts - device.lastCommand.ts) / 60_000);

    for (const quantity of commandQuantities(event, this.library, this.state)) {
      if (quantity.deviceKey !== null) device.values.learn(quantity.deviceKey, quantity.value, quantity.unit, ts);
      group.values.learn(quantity.groupKey, quantity.value, quantity.unit, ts, device.deviceId);
    }
  }

  private learnTelemetry(event: TelemetryEvent, device: DeviceBaseline): void {
    // The cadence judged by baseline-cadence-detector.ts: the device's own publishes only.
    if (publishedByDevice(event) && device.lastTelemetryTs !== null && event.ts > device.lastTelemetryTs) device.telemetrySeconds.add((event.ts - device.lastTelemetryTs) / 1000);
    // Versions change rarely: the table is touched when one changes, and once an hour to keep
    // its entries from expiring, not for every telemetry message.
    let changed = event.ts - device.versionsTouchedAt >= VERSION_TOUCH_MS;
    for (const field of VERSION_FIELDS) {
      const version = event.fields[field];
      if (typeof version !== 'string' || version.length === 0 || version.length > 64) continue;
      if (device.lastVersions.get(field) !== version) {
        device.lastVersions.set(field, version);
        changed = true;
      }
    }
    if (!changed) return;
    device.versionsTouchedAt = event.ts;
    for (const [field, version] of device.lastVersions) device.versions.see(`${field}=${version}`, event.ts);
  }
}

/** Telemetry in the device's own word: from another MQTT account it is an impersonation, not the device. */
export function ownWord(event: TelemetryEvent): boolean {
  const source = event.source;
  return source === null || source.transport !== 'mqtt' || source.account === event.device.config.account;
}

/**
 * Telemetry the device published itself over MQTT (its own account, or a sender the tap or
 * a capture cannot name), whose cadence is the device's own. A Modbus read of the input
 * registers is telemetry too (source null), but it comes at the pace of whichever master
 * polls, so it stays out of the cadence.
 */
export function publishedByDevice(event: TelemetryEvent): boolean {
  return event.source !== null && ownWord(event);
}
