import type { FindingSink } from '../alert/finding.ts';
import type { DetectionConfig } from '../model/site-schema.ts';
import type { PipelineEvent } from '../normalize/events.ts';
import { deviceLabel } from '../normalize/inventory.ts';
import type { Detector } from './detector.ts';
import { formatDuration } from './duration.ts';
import { SlidingWindowCounter } from './sliding-window-counter.ts';

export const WRITE_BURST_MAX_KEYS = 10_000;

const WRITE_KINDS: ReadonlySet<string> = new Set(['write-single-register', 'write-multiple-registers', 'mask-write-register', 'read-write-multiple-registers', 'write-single-coil', 'write-multiple-coils']);

/**
 * Many register writes from one master in a short window, whatever their values: the
 * FrostyGoop malware (Dragos, 2024) drove heating controllers by writing holding
 * registers with FC16 in a loop. A station programs a pump a few times an hour.
 */
export class ModbusWriteBurstDetector implements Detector {
  readonly id = 'modbus-write-burst';
  private readonly counter: SlidingWindowCounter;

  constructor(private readonly config: DetectionConfig) {
    this.counter = new SlidingWindowCounter(config.modbus.writeBurst.count, config.modbus.writeBurst.windowSeconds * 1000, WRITE_BURST_MAX_KEYS);
  }

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind !== 'modbus-request' || !WRITE_KINDS.has(event.request.kind)) return;
    const span = this.counter.record(event.source.address, event.ts);
    if (span === null) return;
    const { count, windowSeconds } = this.config.modbus.writeBurst;
    report({
      type: 'modbus-write-burst',
      ts: event.ts,
      device: event.device,
      dedupKey: `${event.device.config.id}|${event.source.address}`,
      title: `${deviceLabel(event.device)}: ${count} Modbus register writes from ${event.source.address} in ${formatDuration(span)} (threshold ${count} within ${windowSeconds} s)`,
      evidence: { master: event.source.clientId, address: event.source.address, lastRequest: event.request, threshold: this.config.modbus.writeBurst },
    });
  }
}
