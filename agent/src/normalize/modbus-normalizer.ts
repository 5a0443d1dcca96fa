import { COMMAND_REGISTER, decodeField, modbusMapFor, type ModbusMap } from '../model/modbus-map.ts';
import { eventTimeIso, type ParamValue } from '../model/wire.ts';
import type { ModbusAnomalyObservation, ModbusPeer, ModbusRequestObservation, ModbusResponseObservation } from '../ingest/observation.ts';
import { decodeRequest, decodeResponse, type ModbusRequest } from '../protocol/modbus/pdu-decoder.ts';
import type { EventSource, InventoryDevice, PipelineEvent } from './events.ts';
import type { Inventory } from './inventory.ts';

const NO_EVENTS: readonly PipelineEvent[] = Object.freeze([]);

/** A device's holding registers as the writes through the gateway have set them. */
interface DeviceRegisters {
  readonly map: ModbusMap;
  readonly holding: Uint16Array;
}

/**
 * Modbus observations → pipeline events through the same device model as MQTT
 * (model/modbus-map.ts): a write that sets the command register becomes the same
 * DeviceCommandEvent an MQTT command does, so every detector applies unchanged; a full
 * read of the input registers becomes telemetry; every request and response is also
 * passed on decoded, for the Modbus detectors (function codes, scans, bursts).
 */
export class ModbusNormalizer {
  private readonly registers = new Map<string, DeviceRegisters>();
  private commandCounter = 0;

  constructor(private readonly inventory: Inventory) {}

  private static source(master: ModbusPeer): EventSource {
    return { transport: 'modbus', clientId: `${master.address}:${master.port}`, account: null, role: null, address: master.address };
  }

  private deviceRegisters(device: InventoryDevice): DeviceRegisters {
    let state = this.registers.get(device.config.id);
    if (state === undefined) {
      const map = modbusMapFor(device.config.profile);
      state = { map, holding: new Uint16Array(map.holdingSize) };
      this.registers.set(device.config.id, state);
    }
    return state;
  }

  normalize(observation: ModbusRequestObservation | ModbusResponseObservation | ModbusAnomalyObservation): readonly PipelineEvent[] {
    const device = this.inventory.device(observation.deviceId);
    if (device === undefined) return NO_EVENTS;
    const source = ModbusNormalizer.source(observation.master);
    switch (observation.kind) {
      case 'modbus-anomaly':
        return [{ kind: 'anomaly', ts: observation.ts, name: `modbus-${observation.name}`, detail: `${observation.direction}: ${observation.detail}`, topic: `modbus/${device.config.id}`, device, source }];
      case 'modbus-request': {
        const request = decodeRequest(observation.pdu);
        const requestEvent: PipelineEvent = { kind: 'modbus-request', ts: observation.ts, device, source, unitId: observation.unitId, request };
        const command = this.applyWrite(device, request, observation, source);
        return command === null ? [requestEvent] : [requestEvent, command];
      }
      case 'modbus-response': {
        const response = decodeResponse(observation.pdu);
        const request = observation.requestPdu === null ? null : decodeRequest(observation.requestPdu);
        const responseEvent: PipelineEvent = { kind: 'modbus-response', ts: observation.ts, device, source, unitId: observation.unitId, response, request };
        const telemetry = this.telemetryFrom(device, request, response);
        return telemetry === null ? [responseEvent] : [responseEvent, { kind: 'telemetry', ts: observation.ts, device, fields: telemetry, source: null }];
      }
    }
  }

  /** Applies a register write to the device's image; returns the command it triggers, if any. */
  private applyWrite(device: InventoryDevice, request: ModbusRequest, observation: ModbusRequestObservation, source: EventSource): PipelineEvent | null {
    const state = this.deviceRegisters(device);
    let address: number;
    let values: readonly number[];
    switch (request.kind) {
      case 'write-single-register':
        address = request.address;
        values = [request.value];
        break;
      case 'write-multiple-registers':
        address = request.address;
        values = request.values;
        break;
      case 'read-write-multiple-registers':
        address = request.writeAddress;
        values = request.values;
        break;
      case 'mask-write-register': {
        // Modbus App Proto v1.1b3 §6.16: result = (current AND and_mask) OR (or_mask AND NOT and_mask).
        const current = state.holding[request.address] ?? 0;
        address = request.address;
        values = [((current & request.andMask) | (request.orMask & ~request.andMask)) & 0xffff];
        break;
      }
      default:
        return null;
    }
    // Registers beyond the map are the device's to refuse (exception 2); the image keeps what fits.
    for (let i = 0; i < values.length; i += 1) {
      const target = address + i;
      if (target < state.holding.length) state.holding[target] = values[i] ?? 0;
    }
    const coversCommand = address <= COMMAND_REGISTER && address + values.length > COMMAND_REGISTER;
    if (!coversCommand) return null;
    const code = state.holding[COMMAND_REGISTER] ?? 0;
    state.holding[COMMAND_REGISTER] = 0;
    if (code === 0) return null;
    const spec = state.map.commands[code - 1];
    if (spec === undefined) {
      return { kind: 'anomaly', ts: observation.ts, name: 'modbus-unknown-command', detail: `command code ${code} is not a command of ${device.profile.id}`, topic: `modbus/${device.config.id}`, device, source };
    }
    const params: Record<string, ParamValue> = {};
    for (const name of Object.keys(spec.params)) {
      const field = state.map.holding.find((candidate) => candidate.name === name);
      const value = field === undefined ? undefined : decodeField(field, state.holding);
      if (value !== undefined) params[name] = value;
    }
    this.commandCounter += 1;
    return {
      kind: 'command',
      ts: observation.ts,
      device,
      message: {
        id: `modbus-${observation.master.address}:${observation.master.port}-${observation.transactionId}-${this.commandCounter}`,
        ts: eventTimeIso(observation.ts),
        // As the simulated devices record it: Modbus has no account, the master is known by its address.
        issuer: 'modbus',
        user: observation.master.address,
        command: spec.name,
        params,
      },
      spec,
      source,
      retained: false,
    };
  }

  /** A read of the whole input-register table is the device's telemetry. */
  private telemetryFrom(device: InventoryDevice, request: ModbusRequest | null, response: ReturnType<typeof decodeResponse>): Record<string, ParamValue> | null {
    if (request?.kind !== 'read' || request.functionCode !== 4 || request.address !== 0 || response.kind !== 'read-registers') return null;
    const { map } = this.deviceRegisters(device);
    if (response.values.length < map.inputSize) return null;
    const fields: Record<string, ParamValue> = {};
    for (const field of map.input) {
      const value = decodeField(field, response.values);
      if (value !== undefined) fields[field.name] = value;
    }
    return fields;
  }
}
