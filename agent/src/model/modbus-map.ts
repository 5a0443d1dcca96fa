import type { CommandSpec, DeviceKind, DeviceProfile, ParameterSpec, TelemetryFieldSpec } from './device-profile.ts';
import { DEVICE_PROFILES } from './profiles/index.ts';
import type { ParamValue } from './wire.ts';

/**
 * The Modbus/TCP register map of a device, derived from its profile (DESIGN.md: one
 * source of truth). Holding registers (FC3 read, FC6/FC16 write) hold a command register
 * and the commands' parameters; input registers (FC4) hold the telemetry.
 *
 * Layout rules, applied in profile order:
 * - holding register 0 is the command register: writing a command code (1-based index of
 *   the command among those bound to Modbus) makes the device run that command with the
 *   parameters currently in the parameter registers; 0 means "no command";
 * - each parameter gets consecutive registers after it, strings after all the others (so
 *   that the command register and, say, the rate are adjacent): numbers hold value ÷ resolution as
 *   an unsigned 16-bit word, or two words (high word first) when max ÷ resolution > 65535;
 *   enums hold the 1-based index of the value; booleans 0 or 1; strings are ASCII, two
 *   characters per register, NUL-padded, at most MODBUS_STRING_CHARS characters;
 * - a command is bound to Modbus only if every string parameter fits in
 *   MODBUS_STRING_CHARS (software and library updates, which carry a SHA-256, stay on MQTT);
 * - telemetry fields become input registers the same way.
 */

export const MODBUS_STRING_CHARS = 32;
const UINT16_MAX = 65_535;

export type RegisterKind = 'command' | 'number' | 'enum' | 'boolean' | 'string';

export interface RegisterField {
  readonly name: string;
  /** Zero-based register address (Modbus App Proto v1.1b3 §4.4: PDU addresses start at 0). */
  readonly address: number;
  readonly words: number;
  readonly kind: RegisterKind;
  /** Value = raw × resolution, for numbers. */
  readonly resolution: number;
  readonly values?: readonly string[];
}

export interface ModbusMap {
  readonly profile: DeviceProfile;
  /** Commands reachable over Modbus, in code order: code = index + 1. */
  readonly commands: readonly CommandSpec[];
  readonly holding: readonly RegisterField[];
  readonly input: readonly RegisterField[];
  /** Registers in each table (the next free address). */
  readonly holdingSize: number;
  readonly inputSize: number;
}

export const COMMAND_REGISTER = 0;

function numberWords(max: number, resolution: number): number {
  return Math.round(max / resolution) > UINT16_MAX ? 2 : 1;
}

function parameterField(name: string, spec: ParameterSpec, address: number): RegisterField {
  switch (spec.type) {
    case 'number': {
      const resolution = spec.resolution ?? 1;
      return { name, address, words: numberWords(spec.max, resolution), kind: 'number', resolution };
    }
    case 'enum':
      return { name, address, words: 1, kind: 'enum', resolution: 1, values: spec.values };
    case 'boolean':
      return { name, address, words: 1, kind: 'boolean', resolution: 1 };
    case 'string':
      return { name, address, words: Math.ceil(Math.min(spec.maxLength, MODBUS_STRING_CHARS) / 2), kind: 'string', resolution: 1 };
  }
}

function telemetryField(name: string, spec: TelemetryFieldSpec, address: number): RegisterField {
  if (spec.type === 'number') {
    const resolution = spec.resolution ?? 1;
    // Telemetry has no declared maximum; volumes can pass 6,553.5 mL, so scaled values take two words.
    return { name, address, words: resolution < 1 ? 2 : 1, kind: 'number', resolution };
  }
  if (spec.type === 'boolean') return { name, address, words: 1, kind: 'boolean', resolution: 1 };
  return { name, address, words: MODBUS_STRING_CHARS / 2, kind: 'string', resolution: 1 };
}

function fitsModbus(command: CommandSpec): boolean {
  return Object.values(command.params).every((spec) => spec.type !== 'string' || spec.maxLength <= MODBUS_STRING_CHARS);
}

function buildMap(profile: DeviceProfile): ModbusMap {
  const commands = Object.values(profile.commands).filter(fitsModbus);
  const holding: RegisterField[] = [{ name: 'command', address: COMMAND_REGISTER, words: 1, kind: 'command', resolution: 1, values: commands.map((c) => c.name) }];
  let next = 1;
  const parameters = new Map<string, ParameterSpec>();
  for (const command of commands) {
    for (const [name, spec] of Object.entries(command.params)) if (!parameters.has(name)) parameters.set(name, spec);
  }
  // Short fields first, strings last: a master sets a command and its number in one
  // two-register write (command code, then the rate) without touching the names.
  const ordered = [...parameters].sort(([, a], [, b]) => Number(a.type === 'string') - Number(b.type === 'string'));
  for (const [name, spec] of ordered) {
    const field = parameterField(name, spec, next);
    holding.push(field);
    next += field.words;
  }
  const input: RegisterField[] = [];
  let nextInput = 0;
  for (const [name, spec] of Object.entries(profile.telemetry)) {
    const field = telemetryField(name, spec, nextInput);
    input.push(field);
    nextInput += field.words;
  }
  return { profile, commands, holding, input, holdingSize: next, inputSize: nextInput };
}

const MAPS = new Map<DeviceKind, ModbusMap>(Object.values(DEVICE_PROFILES).map((profile) => [profile.id, buildMap(profile)]));

export function modbusMapFor(kind: DeviceKind): ModbusMap {
  const map = MAPS.get(kind);
  if (map === undefined) throw new Error(`no Modbus map for ${kind}`);
  return map;
}

/** The registers that represent `value` in `field` (value off the wire is range-checked by the caller). */
export function encodeField(field: RegisterField, value: ParamValue | undefined): number[] {
  const words = new Array<number>(field.words).fill(0);
  if (value === undefined) return words;
  switch (field.kind) {
    case 'number':
    case 'command': {
      const raw = typeof value === 'number' ? Math.max(0, Math.round(value / field.resolution)) : 0;
      if (field.words === 2) {
        words[0] = Math.floor(raw / 0x1_0000) & 0xffff;
        words[1] = raw & 0xffff;
      } else {
        words[0] = Math.min(raw, UINT16_MAX);
      }
      return words;
    }
    case 'enum':
      words[0] = typeof value === 'string' ? (field.values?.indexOf(value) ?? -1) + 1 : 0;
      return words;
    case 'boolean':
      words[0] = value === true ? 1 : 0;
      return words;
    case 'string': {
      const text = String(value);
      for (let i = 0; i < field.words; i += 1) {
        const high = text.charCodeAt(2 * i);
        const low = text.charCodeAt(2 * i + 1);
        words[i] = ((Number.isNaN(high) ? 0 : high & 0x7f) << 8) | (Number.isNaN(low) ? 0 : low & 0x7f);
      }
      return words;
    }
  }
}

/** The value `field` holds in `registers` (a whole table, indexed by address); undefined when unset or not decodable. */
export function decodeField(field: RegisterField, registers: ArrayLike<number>): ParamValue | undefined {
  const word = (offset: number): number => registers[field.address + offset] ?? 0;
  switch (field.kind) {
    case 'number':
    case 'command': {
      const raw = field.words === 2 ? word(0) * 0x1_0000 + word(1) : word(0);
      // Round away binary fractions: 144 × 0.1 must read 14.4, not 14.400000000000002.
      return Number((raw * field.resolution).toFixed(6));
    }
    case 'enum': {
      const code = word(0);
      return code === 0 ? undefined : field.values?.[code - 1];
    }
    case 'boolean':
      return word(0) === 0 ? false : word(0) === 1 ? true : undefined;
    case 'string': {
      let text = '';
      for (let i = 0; i < field.words; i += 1) {
        const w = word(i);
        for (const code of [w >> 8, w & 0xff]) {
          if (code === 0) return text;
          text += String.fromCharCode(code);
        }
      }
      return text;
    }
  }
}

/** The command code register value for a command name; 0 when it is not bound to Modbus. */
export function commandCode(map: ModbusMap, command: string): number {
  return map.commands.findIndex((spec) => spec.name === command) + 1;
}

/** Fields whose registers overlap [address, address + quantity). */
export function fieldsInRange(fields: readonly RegisterField[], address: number, quantity: number): RegisterField[] {
  return fields.filter((field) => field.address < address + quantity && field.address + field.words > address);
}
