import type { FindingSink } from '../alert/finding.ts';
import { COMMAND_REGISTER } from '../model/modbus-map.ts';
import type { PipelineEvent } from '../normalize/events.ts';
import { deviceLabel } from '../normalize/inventory.ts';
import type { ModbusRequest } from '../protocol/modbus/pdu-decoder.ts';
import type { CommandPolicy } from './command-policy.ts';
import type { Detector } from './detector.ts';

/** The registers a request writes, as [first address, count]; null for a request that writes none. */
function writtenRange(request: ModbusRequest): readonly [number, number] | null {
  switch (request.kind) {
    case 'write-single-register':
    case 'mask-write-register':
      return [request.address, 1];
    case 'write-multiple-registers':
      return [request.address, request.values.length];
    case 'read-write-multiple-registers':
      return [request.writeAddress, request.values.length];
    default:
      return null;
  }
}

/**
 * A register write from a master the policy does not allow to command the device. Writes
 * that set the command register become commands and are judged by the authorization
 * detector like any MQTT command; this catches the rest: parameter registers written on
 * their own (staging a dose for later) by a host with no business writing at all.
 */
export class ModbusWritePolicyDetector implements Detector {
  readonly id = 'modbus-write-policy';

  constructor(private readonly policy: CommandPolicy) {}

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind !== 'modbus-request') return;
    const range = writtenRange(event.request);
    if (range === null) return;
    const [address, count] = range;
    if (address <= COMMAND_REGISTER && address + count > COMMAND_REGISTER) return;
    const allowed = Object.keys(event.device.profile.commands).some((command) => this.policy.allowingRule(null, null, event.device, command, event.source.address) !== null);
    if (allowed) return;
    report({
      type: 'modbus-unauthorized-write',
      ts: event.ts,
      device: event.device,
      dedupKey: `${event.device.config.id}|${event.source.address}`,
      title: `${deviceLabel(event.device)}: registers ${address}–${address + count - 1} written by Modbus master ${event.source.address}, which may not command this device`,
      evidence: { master: event.source.clientId, address: event.source.address, unitId: event.unitId, request: event.request, policy: 'no rule allows this address for this device (default deny)' },
    });
  }
}
