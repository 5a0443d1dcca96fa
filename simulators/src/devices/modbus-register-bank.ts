import type { CommandSpec } from '../../../agent/src/model/device-profile.ts';
import { COMMAND_REGISTER, decodeField, encodeField, fieldsInRange, modbusMapFor } from '../../../agent/src/model/modbus-map.ts';
import type { ModbusMap, RegisterField } from '../../../agent/src/model/modbus-map.ts';
import type { CommandMessage, ParamValue } from '../../../agent/src/model/wire.ts';
import type { SimClock } from '../clock.ts';
import { isoTime } from '../clock.ts';
import type { SimulatedDevice } from './simulated-device.ts';

/**
 * A simulated device's Modbus registers, on the register map derived from its profile
 * (agent/src/model/modbus-map.ts, the one the agent's gateway decodes with). Pure: no
 * sockets; modbus-device-server.ts puts it on the network.
 *
 * - Holding registers (FC3 read, FC6/FC16 write) are an image the masters write. A write
 *   is stored first; if it covers the command register (0) with a non-zero code, the
 *   device runs that command with the parameters the image now holds, through the same
 *   `executeCommand` as an MQTT command, and register 0 goes back to 0.
 * - Input registers (FC4) are the device's telemetry at the time of the read.
 * - Refusals (device limits, wrong state, unknown command code, a parameter register that
 *   holds no valid value) answer exception 3; addresses outside a table exception 2.
 */

/** Modbus App Proto v1.1b3 §7: the exception codes a simulated device answers. */
export const MODBUS_EXCEPTION = {
  illegalFunction: 1,
  illegalDataAddress: 2,
  illegalDataValue: 3,
  serverDeviceFailure: 4,
} as const;

export type ModbusExceptionCode = (typeof MODBUS_EXCEPTION)[keyof typeof MODBUS_EXCEPTION];

export const MODBUS_EXCEPTION_NAMES: Readonly<Record<ModbusExceptionCode, string>> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
};

/** Modbus App Proto v1.1b3 §6.3/§6.4: at most 125 registers per read (FC3, FC4). */
export const MAX_READ_REGISTERS = 125;
/** §6.12: at most 123 registers per write (FC16). */
export const MAX_WRITE_REGISTERS = 123;

/** The master of a request, as far as the server can tell. */
export interface ModbusRequestSource {
  /** IP address of the master; absent when the server cannot attribute the request. */
  readonly address?: string;
}

export type RegisterRead =
  | { readonly ok: true; readonly values: readonly number[] }
  | { readonly ok: false; readonly exception: ModbusExceptionCode };

/** A command a write triggered, with its outcome (for logs and tests). */
export interface ModbusCommandRecord {
  readonly deviceId: string;
  /** The command code written to register 0. */
  readonly code: number;
  /** Null when the code names no command (or a parameter could not be decoded). */
  readonly message: CommandMessage | null;
  /** Why the device refused, or null when it obeyed. */
  readonly error: string | null;
  readonly exception: ModbusExceptionCode | null;
}

export interface ModbusRegisterBankOptions {
  readonly device: SimulatedDevice;
  readonly clock: SimClock;
  /** Sees every command a write triggers, accepted or refused. */
  readonly onCommand?: (record: ModbusCommandRecord) => void;
  /** Refusals the device itself does not log (unknown code, unreadable parameter). */
  readonly log?: (line: string) => void;
}

/** Issuer of every command that arrives over Modbus: a master has no account. */
export const MODBUS_ISSUER = 'modbus';
/** `user` of a Modbus command whose master the server could not tell. */
export const UNKNOWN_MASTER = 'unknown-master';

// The image a master writes for a command is built by the model's codec, shared with the agent and its tests.
export { commandWrite } from '../../../agent/src/model/modbus-codec.ts';

function readQuantityProblem(address: number, quantity: number, size: number): ModbusExceptionCode | null {
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > MAX_READ_REGISTERS) return MODBUS_EXCEPTION.illegalDataValue;
  if (!Number.isInteger(address) || address < 0 || address + quantity > size) return MODBUS_EXCEPTION.illegalDataAddress;
  return null;
}

export class ModbusRegisterBank {
  readonly map: ModbusMap;
  private readonly device: SimulatedDevice;
  private readonly clock: SimClock;
  private readonly onCommand: ((record: ModbusCommandRecord) => void) | undefined;
  private readonly log: ((line: string) => void) | undefined;
  private readonly holding: Uint16Array;
  private readonly holdingByName: ReadonlyMap<string, RegisterField>;
  /** Scratch table for input reads: fields are encoded at their own addresses. */
  private readonly input: Uint16Array;
  /** Makes command ids unique across runs (the agent treats a repeated id as a replay). */
  private readonly runTag: string;
  private sequence = 0;

  constructor(options: ModbusRegisterBankOptions) {
    this.device = options.device;
    this.clock = options.clock;
    this.onCommand = options.onCommand;
    this.log = options.log;
    this.map = modbusMapFor(options.device.profile.id);
    this.holding = new Uint16Array(this.map.holdingSize);
    this.input = new Uint16Array(this.map.inputSize);
    this.holdingByName = new Map(this.map.holding.map((field) => [field.name, field]));
    this.runTag = Math.floor(this.clock.now()).toString(36);
  }

  get deviceId(): string {
    return this.device.deviceId;
  }

  /** FC3: the holding image as the masters last wrote it (register 0 reads 0 once a command ran). */
  readHolding(address: number, quantity: number): RegisterRead {
    const problem = readQuantityProblem(address, quantity, this.map.holdingSize);
    if (problem !== null) return { ok: false, exception: problem };
    return { ok: true, values: Array.from(this.holding.subarray(address, address + quantity)) };
  }

  /** FC4: the telemetry fields overlapping the range, encoded at the time of the read. */
  readInput(address: number, quantity: number): RegisterRead {
    const problem = readQuantityProblem(address, quantity, this.map.inputSize);
    if (problem !== null) return { ok: false, exception: problem };
    const telemetry = this.device.telemetry();
    for (const field of fieldsInRange(this.map.input, address, quantity)) {
      this.input.set(encodeField(field, telemetry[field.name]), field.address);
    }
    return { ok: true, values: Array.from(this.input.subarray(address, address + quantity)) };
  }

  /**
   * FC6 (one value) and FC16: stores the values, then runs the command if the write sets
   * register 0. Returns null for a normal response, or the exception code to answer.
   */
  writeRegisters(address: number, values: readonly number[], source: ModbusRequestSource = {}): ModbusExceptionCode | null {
    // §6.12: quantity 1..123 and every value a 16-bit word, else exception 3; the range within the table, else 2.
    if (values.length < 1 || values.length > MAX_WRITE_REGISTERS) return MODBUS_EXCEPTION.illegalDataValue;
    if (!values.every((value) => Number.isInteger(value) && value >= 0 && value <= 0xffff)) return MODBUS_EXCEPTION.illegalDataValue;
    if (!Number.isInteger(address) || address < 0 || address + values.length > this.map.holdingSize) return MODBUS_EXCEPTION.illegalDataAddress;
    this.holding.set(values, address);
    const coversCommand = address <= COMMAND_REGISTER && address + values.length > COMMAND_REGISTER;
    if (!coversCommand) return null;
    const code = this.holding[COMMAND_REGISTER] ?? 0;
    // The command register is a trigger, not a setting: it reads 0 again whatever the outcome.
    this.holding[COMMAND_REGISTER] = 0;
    if (code === 0) return null;
    return this.runCommand(code, source);
  }

  private runCommand(code: number, source: ModbusRequestSource): ModbusExceptionCode | null {
    const spec = this.map.commands[code - 1];
    if (spec === undefined) {
      const error = `command code ${code} is not a command of this ${this.map.profile.id}`;
      this.log?.(`${this.device.deviceId}: refused a Modbus write from ${source.address ?? 'an unknown master'}: ${error}`);
      return this.refuse(code, null, error);
    }
    const params = this.decodeParams(spec);
    const message: CommandMessage = {
      id: `modbus-${this.device.deviceId}-${this.runTag}-${++this.sequence}`,
      ts: isoTime(this.clock.now()),
      issuer: MODBUS_ISSUER,
      user: source.address ?? UNKNOWN_MASTER,
      command: spec.name,
      params: typeof params === 'string' ? {} : params,
    };
    if (typeof params === 'string') {
      this.log?.(`${this.device.deviceId}: refused ${spec.name} from ${message.issuer}/${message.user}: ${params}`);
      return this.refuse(code, message, params);
    }
    const error = this.device.executeCommand(message, spec);
    if (error !== null) return this.refuse(code, message, error);
    this.onCommand?.({ deviceId: this.device.deviceId, code, message, error: null, exception: null });
    return null;
  }

  /** The command's parameters as the image holds them, or why one cannot be read. */
  private decodeParams(spec: CommandSpec): Record<string, ParamValue> | string {
    const params: Record<string, ParamValue> = {};
    for (const name of Object.keys(spec.params)) {
      const field = this.holdingByName.get(name);
      const value = field === undefined ? undefined : decodeField(field, this.holding);
      if (value === undefined) {
        return `register ${field?.address ?? '?'} (${name}) holds no valid value for ${spec.name}`;
      }
      params[name] = value;
    }
    return params;
  }

  private refuse(code: number, message: CommandMessage | null, error: string): ModbusExceptionCode {
    const exception = MODBUS_EXCEPTION.illegalDataValue;
    this.onCommand?.({ deviceId: this.device.deviceId, code, message, error, exception });
    return exception;
  }
}
