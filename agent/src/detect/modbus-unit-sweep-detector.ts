import type { FindingSink } from '../alert/finding.ts';
import type { DetectionConfig } from '../model/site-schema.ts';
import type { PipelineEvent } from '../normalize/events.ts';
import { deviceLabel } from '../normalize/inventory.ts';
import type { Detector } from './detector.ts';

/** Masters tracked at once; least recently seen evicted (counted). Each keeps at most 256 unit ids. */
export const UNIT_SWEEP_MAX_MASTERS = 10_000;

/**
 * Many distinct unit ids from one master in a short window: looking for devices behind a
 * gateway (the Modbus unit-id sweep of scanners such as nmap's modbus-discover).
 */
export class ModbusUnitSweepDetector implements Detector {
  readonly id = 'modbus-unit-sweep';
  private readonly seen = new Map<string, Map<number, number>>();
  evictions = 0;

  constructor(private readonly config: DetectionConfig) {}

  get mastersTracked(): number {
    return this.seen.size;
  }

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind !== 'modbus-request') return;
    const { count, windowSeconds } = this.config.modbus.unitSweep;
    const key = event.source.address;
    let units = this.seen.get(key);
    if (units === undefined) {
      if (this.seen.size >= UNIT_SWEEP_MAX_MASTERS) {
        const oldest = this.seen.keys().next().value;
        if (oldest !== undefined) this.seen.delete(oldest);
        this.evictions += 1;
      }
      units = new Map();
    } else {
      this.seen.delete(key);
    }
    this.seen.set(key, units);
    units.set(event.unitId, event.ts);
    const cutoff = event.ts - windowSeconds * 1000;
    for (const [unit, ts] of units) if (ts < cutoff) units.delete(unit);
    if (units.size < count) return;
    report({
      type: 'modbus-unit-sweep',
      ts: event.ts,
      device: event.device,
      dedupKey: `${event.device.config.id}|${key}`,
      title: `${deviceLabel(event.device)}: Modbus master ${key} addressed ${units.size} different unit ids within ${windowSeconds} s (threshold ${count}); this gateway serves one device`,
      evidence: { master: event.source.clientId, address: key, unitIds: [...units.keys()].slice(0, 64), threshold: this.config.modbus.unitSweep },
    });
  }
}
