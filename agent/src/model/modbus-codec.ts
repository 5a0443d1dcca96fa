import type { DeviceKind } from './device-profile.ts';
import { COMMAND_REGISTER, commandCode, encodeField, modbusMapFor, type ModbusMap } from './modbus-map.ts';
import type { ParamValue } from './wire.ts';

/**
 * Building Modbus/TCP requests (the encoding side; the agent's parser in
 * protocol/modbus/ is the decoding side): the gateway's exception answers, the scenario
 * actors, the tests and the benchmark all make their bytes here.
 */

/** MBAP header + PDU (Modbus Messaging on TCP/IP Implementation Guide v1.0b §3.1.3). */
export function encodeAdu(transactionId: number, unitId: number, pdu: Buffer): Buffer {
  const adu = Buffer.allocUnsafe(7 + pdu.length);
  adu.writeUInt16BE(transactionId & 0xffff, 0);
  adu.writeUInt16BE(0, 2);
  adu.writeUInt16BE(pdu.length + 1, 4);
  adu.writeUInt8(unitId & 0xff, 6);
  pdu.copy(adu, 7);
  return adu;
}

/** FC3 or FC4 (Modbus App Proto v1.1b3 §6.3, §6.4). */
export function readRegistersPdu(functionCode: 3 | 4, address: number, quantity: number): Buffer {
  const pdu = Buffer.alloc(5);
  pdu.writeUInt8(functionCode, 0);
  pdu.writeUInt16BE(address, 1);
  pdu.writeUInt16BE(quantity, 3);
  return pdu;
}

/** FC6 (§6.6). */
export function writeSingleRegisterPdu(address: number, value: number): Buffer {
  const pdu = Buffer.alloc(5);
  pdu.writeUInt8(6, 0);
  pdu.writeUInt16BE(address, 1);
  pdu.writeUInt16BE(value, 3);
  return pdu;
}

/** FC16 (§6.12). */
export function writeMultipleRegistersPdu(address: number, values: readonly number[]): Buffer {
  const pdu = Buffer.alloc(6 + 2 * values.length);
  pdu.writeUInt8(16, 0);
  pdu.writeUInt16BE(address, 1);
  pdu.writeUInt16BE(values.length, 3);
  pdu.writeUInt8(2 * values.length, 5);
  values.forEach((value, index) => pdu.writeUInt16BE(value, 6 + 2 * index));
  return pdu;
}

/**
 * The whole holding image of a command, its code at register 0, as a station writes it in
 * one FC16; null when the command is not bound to Modbus (model/modbus-map.ts).
 */
export function commandWrite(map: ModbusMap, command: string, params: Readonly<Record<string, ParamValue>>): number[] | null {
  const code = commandCode(map, command);
  if (code === 0) return null;
  const image = new Array<number>(map.holdingSize).fill(0);
  image[COMMAND_REGISTER] = code;
  for (const field of map.holding) {
    if (field.kind === 'command' || !Object.hasOwn(params, field.name)) continue;
    const words = encodeField(field, params[field.name]);
    for (let i = 0; i < words.length; i += 1) image[field.address + i] = words[i] ?? 0;
  }
  return image;
}

/** commandWrite for a device kind; a command not bound to Modbus is a programming error here. */
export function commandImage(kind: DeviceKind, command: string, params: Readonly<Record<string, ParamValue>>): number[] {
  const image = commandWrite(modbusMapFor(kind), command, params);
  if (image === null) throw new Error(`${command} is not a Modbus command of ${kind}`);
  return image;
}

export function commandPdu(kind: DeviceKind, command: string, params: Readonly<Record<string, ParamValue>>): Buffer {
  return writeMultipleRegistersPdu(COMMAND_REGISTER, commandImage(kind, command, params));
}

/** An exception response PDU: the function code with the high bit set, then the code (§7). */
export function exceptionPdu(functionCode: number, exceptionCode: number): Buffer {
  return Buffer.from([(functionCode | 0x80) & 0xff, exceptionCode & 0xff]);
}
