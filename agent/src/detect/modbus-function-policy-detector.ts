import type { AlertType } from '../alert/catalogue.ts';
import type { FindingSink } from '../alert/finding.ts';
import type { SiteConfig } from '../model/site-schema.ts';
import type { ModbusRequestEvent, PipelineEvent } from '../normalize/events.ts';
import { deviceLabel } from '../normalize/inventory.ts';
import { functionName } from '../protocol/modbus/index.ts';
import type { Detector } from './detector.ts';

/** What the devices' register map uses (model/modbus-map.ts): holding and input registers. */
export const DEVICE_FUNCTION_ALLOWLIST: ReadonlySet<number> = new Set([3, 4, 6, 16, 23]);
/** Functions for maintenance hosts only: diagnostics (8), report server id (17), encapsulated interface (43). */
const MAINTENANCE_FUNCTIONS: ReadonlySet<number> = new Set([8, 17, 43]);
/** FC8 sub-functions that take a device off the network (Modbus App Proto v1.1b3 §6.8.1): restart, listen-only. */
const SILENCING_DIAGNOSTICS: ReadonlySet<number> = new Set([1, 4]);

/**
 * Function codes a device should never see from an ordinary master: anything outside its
 * allowlist, and maintenance functions from a host that is not a maintenance host. FC8
 * force-listen-only and restart are critical: they silence a pump on the network, the
 * Modbus equivalent of pulling its cable (Zeek/Suricata flag FC8 for the same reason).
 */
export class ModbusFunctionPolicyDetector implements Detector {
  readonly id = 'modbus-function-policy';
  private readonly maintenanceHosts: ReadonlySet<string>;

  constructor(config: SiteConfig) {
    this.maintenanceHosts = new Set(config.modbus.maintenanceHosts);
  }

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind !== 'modbus-request') return;
    const code = event.request.functionCode;
    if (DEVICE_FUNCTION_ALLOWLIST.has(code)) return;
    const fromMaintenance = this.maintenanceHosts.has(event.source.address);
    if (MAINTENANCE_FUNCTIONS.has(code)) {
      if (fromMaintenance) return;
      const sub = event.request.kind === 'diagnostics' ? event.request.subFunction : null;
      const silencing = sub !== null && SILENCING_DIAGNOSTICS.has(sub);
      const what = event.request.kind === 'diagnostics' ? `diagnostics ${event.request.subFunctionName} (FC8/${sub})` : `${functionName(code)} (FC${code})`;
      this.emit(event, report, silencing ? 'modbus-diagnostic-command' : 'modbus-maintenance-function', `${what} from ${event.source.address}, which is not a maintenance host`);
      return;
    }
    this.emit(event, report, 'modbus-function-not-allowed', `${functionName(code)} (FC${code}) from ${event.source.address}; this device uses only FC3, 4, 6, 16 and 23`);
  }

  private emit(event: ModbusRequestEvent, report: FindingSink, type: AlertType, what: string): void {
    report({
      type,
      ts: event.ts,
      device: event.device,
      dedupKey: `${event.device.config.id}|${event.source.address}|${event.request.functionCode}`,
      title: `${deviceLabel(event.device)}: Modbus ${what}`,
      evidence: { master: event.source.clientId, address: event.source.address, unitId: event.unitId, request: event.request, maintenanceHosts: [...this.maintenanceHosts] },
    });
  }
}
