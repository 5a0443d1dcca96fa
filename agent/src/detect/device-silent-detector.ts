import type { FindingSink } from '../alert/finding.ts';
import type { DetectionConfig } from '../model/site-schema.ts';
import { senderHidden, type EventSource, type InventoryDevice, type PipelineEvent } from '../normalize/events.ts';
import { deviceLabel, type Inventory } from '../normalize/inventory.ts';
import type { Detector } from './detector.ts';
import { formatDuration } from './duration.ts';

/** Devices are checked at most this often, in event time. */
export const SILENCE_CHECK_INTERVAL_MS = 1_000;

interface DeviceWatch {
  readonly device: InventoryDevice;
  /** Event time silence is measured from: the last telemetry, or when the device (re)appeared. */
  since: number;
  lastTelemetry: number | null;
  /** When the device said `offline` (status, clean stop or last will) or disconnected; null while online. */
  offlineAt: number | null;
  offlineHow: 'status' | 'disconnect' | null;
  /** This silence episode has been reported; cleared when the device speaks again. */
  alerted: boolean;
}

/**
 * A device gone quiet (DESIGN.md: "a device gone quiet" is something the monitor must
 * say): seen at least once, then no telemetry for `detection.silence.intervals` times
 * its profile's telemetry period; or offline (retained `offline`, last will, disconnect)
 * and not back within the same time. There is no timer: every event moves "now" forward
 * in event time, and at most once per second of it the devices are checked, so replays
 * give the same alerts as live traffic. When nothing at all arrives, nothing is checked;
 * the agent's health reports a ward with no traffic instead.
 *
 * Only the device's own voice counts (its account, or the broker itself): telemetry
 * published for it by another account is impersonation and must not hide the silence.
 * State: one entry per inventory device seen, so bounded by the inventory.
 */
export class DeviceSilentDetector implements Detector {
  readonly id = 'device-silent';
  private readonly watches = new Map<string, DeviceWatch>();
  private now = Number.NEGATIVE_INFINITY;
  private lastCheck = Number.NEGATIVE_INFINITY;

  constructor(private readonly config: DetectionConfig, private readonly inventory: Inventory) {}

  /** Devices being watched; at most the inventory's size. */
  get devicesTracked(): number {
    return this.watches.size;
  }

  inspect(event: PipelineEvent, report: FindingSink): void {
    this.observe(event);
    if (!(event.ts > this.now)) return;
    this.now = event.ts;
    if (this.now - this.lastCheck < SILENCE_CHECK_INTERVAL_MS) return;
    this.lastCheck = this.now;
    for (const watch of this.watches.values()) this.check(watch, report);
  }

  private observe(event: PipelineEvent): void {
    switch (event.kind) {
      case 'telemetry': {
        if (!this.ownVoice(event.device, event.source)) return;
        const watch = this.watch(event.device, event.ts);
        watch.since = event.ts;
        watch.lastTelemetry = event.ts;
        watch.offlineAt = null;
        watch.offlineHow = null;
        watch.alerted = false;
        return;
      }
      case 'status': {
        if (!this.ownVoice(event.device, event.source)) return;
        if (event.status === 'online') this.appeared(event.device, event.ts);
        else this.wentOffline(event.device, event.ts, 'status');
        return;
      }
      case 'ack':
        if (this.ownVoice(event.device, event.source)) this.watch(event.device, event.ts);
        return;
      case 'client-connect': {
        const device = event.source.account === null ? undefined : this.inventory.deviceForAccount(event.source.account);
        if (device !== undefined) this.appeared(device, event.ts);
        return;
      }
      case 'client-disconnect': {
        const device = event.source.account === null ? undefined : this.inventory.deviceForAccount(event.source.account);
        if (device !== undefined) this.wentOffline(device, event.ts, 'disconnect');
        return;
      }
      default:
        return;
    }
  }

  private ownVoice(device: InventoryDevice, source: EventSource | null): boolean {
    // A hidden sender (tap, a capture that missed the login) is the best evidence there is that the device spoke.
    return source === null || senderHidden(source) || source.account === device.config.account;
  }

  private watch(device: InventoryDevice, ts: number): DeviceWatch {
    let watch = this.watches.get(device.config.id);
    if (watch === undefined) {
      watch = { device, since: ts, lastTelemetry: null, offlineAt: null, offlineHow: null, alerted: false };
      this.watches.set(device.config.id, watch);
    }
    return watch;
  }

  /** Online again (status `online`, or a new connection): a new episode starts from now. */
  private appeared(device: InventoryDevice, ts: number): void {
    const known = this.watches.has(device.config.id);
    const watch = this.watch(device, ts);
    if (known && watch.offlineAt === null) return;
    watch.since = ts;
    watch.offlineAt = null;
    watch.offlineHow = null;
    watch.alerted = false;
  }

  private wentOffline(device: InventoryDevice, ts: number, how: 'status' | 'disconnect'): void {
    const watch = this.watch(device, ts);
    // The clean stop says `offline` and then disconnects: the first of the two counts.
    if (watch.offlineAt !== null) return;
    watch.offlineAt = ts;
    watch.offlineHow = how;
  }

  private check(watch: DeviceWatch, report: FindingSink): void {
    if (watch.alerted) return;
    const intervalMs = watch.device.profile.telemetryIntervalMs;
    const limitMs = this.config.silence.intervals * intervalMs;
    const silentForMs = this.now - (watch.offlineAt ?? watch.since);
    if (!(silentForMs > limitMs)) return;
    watch.alerted = true;
    const label = deviceLabel(watch.device);
    let title: string;
    if (watch.offlineHow === 'status') title = `${label}: went offline and has not come back for ${formatDuration(silentForMs)} (expected back within ${formatDuration(limitMs)})`;
    else if (watch.offlineHow === 'disconnect') title = `${label}: disconnected and has not come back for ${formatDuration(silentForMs)} (expected back within ${formatDuration(limitMs)})`;
    else title = `${label}: no telemetry for ${formatDuration(silentForMs)} (expected every ${formatDuration(intervalMs)})`;
    report({
      type: 'device-silent',
      ts: this.now,
      device: watch.device,
      dedupKey: watch.device.config.id,
      title,
      evidence: {
        silentForMs,
        lastTelemetryTs: watch.lastTelemetry,
        offlineAt: watch.offlineAt,
        offlineBy: watch.offlineHow,
        telemetryIntervalMs: intervalMs,
        intervals: this.config.silence.intervals,
        thresholdMs: limitMs,
      },
    });
  }
}
