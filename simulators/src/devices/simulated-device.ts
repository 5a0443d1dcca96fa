import type { CommandSpec, DeviceProfile } from '../../../agent/src/model/device-profile.ts';
import type { CommandMessage, DeviceStatus, ParamValue } from '../../../agent/src/model/wire.ts';
import { decodeCommand, deviceLimitViolations } from '../../../agent/src/model/command-validation.ts';
import type { LimitViolation } from '../../../agent/src/model/command-validation.ts';
import { topicFor } from '../../../agent/src/model/wire.ts';
import type { SimClock, SimTimer } from '../clock.ts';
import { isoTime } from '../clock.ts';
import type { Random } from '../random.ts';
import type { DeviceLink, LinkIdentity } from '../transports/device-link.ts';

/**
 * What every simulated device does on the wire, whatever its kind: retained status
 * (`online` as birth message, `offline` as will and on a clean stop), telemetry every
 * profile.telemetryIntervalMs of sim time, and commands decoded with the same model the
 * agent uses (DESIGN.md, "one source of truth"), each answered by an ack. A command
 * outside the device limits is refused, as real hardware refuses it; drug-library limits
 * are not the device's business (the agent catches those).
 */

export interface SimulatedDeviceOptions {
  readonly deviceId: string;
  readonly link: DeviceLink;
  readonly clock: SimClock;
  readonly random: Random;
  readonly log?: (line: string) => void;
}

/** The link identity of a device: client id = device id, retained status as will and birth. */
export function deviceLinkIdentity(deviceId: string, username: string, password: string): LinkIdentity {
  const statusTopic = topicFor(deviceId, 'status');
  const offline: DeviceStatus = 'offline';
  const online: DeviceStatus = 'online';
  return {
    clientId: deviceId,
    username,
    password,
    will: { topic: statusTopic, payload: offline, retain: true },
    birth: { topic: statusTopic, payload: online, retain: true },
  };
}

export function formatLimitViolation(violation: LimitViolation): string {
  return `${violation.param} ${violation.value} ${violation.unit} is outside the device limits ${violation.min}–${violation.max} ${violation.unit}`;
}

/** Best effort at the id of a payload decodeCommand refused, so the refusal can still be acked. */
function commandIdOf(payload: string): string | null {
  try {
    const parsed: unknown = JSON.parse(payload);
    if (typeof parsed !== 'object' || parsed === null) return null;
    const id = (parsed as Record<string, unknown>).id;
    return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : null;
  } catch {
    return null;
  }
}

export abstract class SimulatedDevice {
  readonly deviceId: string;
  /** The profile the device encodes and decodes with (and its Modbus map is derived from). */
  readonly profile: DeviceProfile;
  protected readonly clock: SimClock;
  protected readonly random: Random;
  protected readonly log: ((line: string) => void) | undefined;
  private readonly link: DeviceLink;
  private readonly commandTopic: string;
  private readonly telemetryTopic: string;
  private readonly ackTopic: string;
  private telemetryTimer: SimTimer | null = null;
  private nextTelemetryAt = 0;
  private running = false;

  protected constructor(profile: DeviceProfile, options: SimulatedDeviceOptions) {
    this.profile = profile;
    this.deviceId = options.deviceId;
    this.link = options.link;
    this.clock = options.clock;
    this.random = options.random;
    this.log = options.log;
    this.commandTopic = topicFor(this.deviceId, 'command');
    this.telemetryTopic = topicFor(this.deviceId, 'telemetry');
    this.ackTopic = topicFor(this.deviceId, 'ack');
  }

  /** Subscribes to commands and starts telemetry. The link has already published `online` (birth). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.link.subscribe(this.commandTopic, this.onCommandMessage);
    // Devices switched on together do not report in lockstep: first report within one period.
    this.nextTelemetryAt = this.clock.now() + this.random.uniform(0, this.profile.telemetryIntervalMs);
    this.telemetryTimer = this.clock.after(this.nextTelemetryAt - this.clock.now(), this.onTelemetryDue);
  }

  /** Clean stop: retained `offline`, then a clean disconnect (no will). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.telemetryTimer !== null) this.clock.cancel(this.telemetryTimer);
    this.telemetryTimer = null;
    this.cancelTimers();
    const offline: DeviceStatus = 'offline';
    this.link.publish(topicFor(this.deviceId, 'status'), offline, { retain: true, qos: 1 });
    await this.link.close();
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** The telemetry fields of the profile at the current sim time (without `ts`). */
  abstract telemetry(): Record<string, ParamValue>;

  /** Applies a decoded, in-limits command; returns why the device refuses it, or null when it obeys. */
  protected abstract applyCommand(message: CommandMessage, spec: CommandSpec): string | null;

  /** Cancels the device's own timers on stop. */
  protected abstract cancelTimers(): void;

  /** Publishes telemetry now, in addition to the periodic reports (after an alarm, say). */
  protected publishTelemetry(): void {
    if (!this.running) return;
    const message: Record<string, ParamValue> = { ts: isoTime(this.clock.now()), ...this.telemetry() };
    this.link.publish(this.telemetryTopic, JSON.stringify(message), { qos: 0 });
  }

  private readonly onTelemetryDue = (): void => {
    this.telemetryTimer = null;
    if (!this.running) return;
    this.publishTelemetry();
    // Scheduled on absolute sim times, so that late real timers do not make the period drift.
    this.nextTelemetryAt += this.profile.telemetryIntervalMs;
    this.telemetryTimer = this.clock.after(this.nextTelemetryAt - this.clock.now(), this.onTelemetryDue);
  };

  /**
   * Runs a decoded command, whichever transport brought it (MQTT here, Modbus in
   * modbus-register-bank.ts): one code path for what the device does. A value outside the
   * device limits is refused before the device acts, as real hardware refuses it. Returns
   * why the device refused, or null when it obeyed. `answer` runs once the device has
   * acted and before it reports its new state, so that on MQTT the ack precedes the
   * telemetry that shows the change.
   */
  executeCommand(message: CommandMessage, spec: CommandSpec, answer?: (error: string | null) => void): string | null {
    const first = deviceLimitViolations(spec, message.params)[0];
    let error: string | null;
    if (!this.running) error = 'device is not running';
    else if (first !== undefined) error = formatLimitViolation(first);
    else error = this.applyCommand(message, spec);
    answer?.(error);
    if (error === null) {
      // A device reports its new state as soon as it changes, not only at the next period.
      this.publishTelemetry();
    } else if (this.log !== undefined) {
      this.log(`${this.deviceId}: refused ${message.command} from ${message.issuer}/${message.user}: ${error}`);
    }
    return error;
  }

  private readonly onCommandMessage = (_topic: string, payload: Buffer): void => {
    if (!this.running) return;
    const text = payload.toString('utf8');
    const decoded = decodeCommand(this.profile, text);
    if (!decoded.ok) {
      // A payload without a readable id cannot be answered; a real device ignores it too.
      const id = commandIdOf(text);
      if (id !== null) this.ack(id, `${decoded.anomaly}: ${decoded.detail}`);
      return;
    }
    const { message, spec } = decoded;
    this.executeCommand(message, spec, (error) => this.ack(message.id, error));
  };

  private ack(id: string, error: string | null): void {
    const ack = error === null
      ? { id, ts: isoTime(this.clock.now()), ok: true }
      : { id, ts: isoTime(this.clock.now()), ok: false, error };
    this.link.publish(this.ackTopic, JSON.stringify(ack), { qos: 1 });
  }
}
