import type { AlertType } from '../alert/catalogue.ts';
import type { FindingSink } from '../alert/finding.ts';
import type { DetectionConfig } from '../model/site-schema.ts';
import type { ModbusResponseEvent, PipelineEvent } from '../normalize/events.ts';
import { deviceLabel } from '../normalize/inventory.ts';
import type { Detector } from './detector.ts';
import { formatDuration } from './duration.ts';
import { SlidingWindowCounter } from './sliding-window-counter.ts';

/** Masters tracked at once per table; least recently seen evicted (counted). */
export const MODBUS_SCAN_MAX_KEYS = 10_000;

/** Modbus App Proto v1.1b3 §7: 01 illegal function, 02 illegal data address. */
const ILLEGAL_FUNCTION = 1;
const ILLEGAL_DATA_ADDRESS = 2;

/**
 * Scans show in the device's answers: a master trying function codes draws
 * illegal-function exceptions, one walking the register map draws illegal-address ones.
 * One alert per scan (the alert manager folds the rest into its count), with the numbers.
 */
export class ModbusScanDetector implements Detector {
  readonly id = 'modbus-scan';
  private readonly functionScans: SlidingWindowCounter;
  private readonly addressScans: SlidingWindowCounter;

  constructor(private readonly config: DetectionConfig) {
    const { functionScan, addressScan } = config.modbus;
    this.functionScans = new SlidingWindowCounter(functionScan.count, functionScan.windowSeconds * 1000, MODBUS_SCAN_MAX_KEYS);
    this.addressScans = new SlidingWindowCounter(addressScan.count, addressScan.windowSeconds * 1000, MODBUS_SCAN_MAX_KEYS);
  }

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind !== 'modbus-response' || event.response.kind !== 'exception') return;
    const key = event.source.address;
    if (event.response.exceptionCode === ILLEGAL_FUNCTION) {
      const span = this.functionScans.record(key, event.ts);
      if (span !== null) this.emit(event, report, 'modbus-function-scan', 'illegal-function', this.config.modbus.functionScan, span);
    } else if (event.response.exceptionCode === ILLEGAL_DATA_ADDRESS) {
      const span = this.addressScans.record(key, event.ts);
      if (span !== null) this.emit(event, report, 'modbus-address-scan', 'illegal-data-address', this.config.modbus.addressScan, span);
    }
  }

  private emit(event: ModbusResponseEvent, report: FindingSink, type: AlertType, exception: string, threshold: { count: number; windowSeconds: number }, spanMs: number): void {
    report({
      type,
      ts: event.ts,
      device: event.device,
      dedupKey: `${event.device.config.id}|${event.source.address}`,
      title: `${deviceLabel(event.device)}: Modbus master ${event.source.address} drew ${threshold.count} ${exception} exceptions in ${formatDuration(spanMs)} (threshold ${threshold.count} within ${threshold.windowSeconds} s)`,
      evidence: { master: event.source.clientId, address: event.source.address, lastRequest: event.request, lastResponse: event.response, threshold },
    });
  }
}
