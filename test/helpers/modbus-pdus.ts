import { COMMAND_REGISTER, commandCode, encodeField, modbusMapFor } from '../../agent/src/model/modbus-map.ts';
import type { DeviceKind } from '../../agent/src/model/device-profile.ts';
import type { ParamValue } from '../../agent/src/model/wire.ts';

/** FC16 write-multiple-registers PDU (Modbus App Proto v1.1b3 §6.12). */
export function writeMultipleRegistersPdu(address: number, values: readonly number[]): Buffer {
  const pdu = Buffer.alloc(6 + 2 * values.length);
  pdu.writeUInt8(16, 0);
  pdu.writeUInt16BE(address, 1);
  pdu.writeUInt16BE(values.length, 3);
  pdu.writeUInt8(2 * values.length, 5);
  values.forEach((value, index) => pdu.writeUInt16BE(value, 6 + 2 * index));
  return pdu;
}

/** The whole holding image for a command, code at register 0, as a station writes it in one FC16. */
export function commandImage(kind: DeviceKind, command: string, params: Readonly<Record<string, ParamValue>>): number[] {
  const map = modbusMapFor(kind);
  const image = new Array<number>(map.holdingSize).fill(0);
  image[COMMAND_REGISTER] = commandCode(map, command);
  for (const field of map.holding) {
    if (field.kind === 'command' || params[field.name] === undefined) continue;
    encodeField(field, params[field.name]).forEach((word, offset) => {
      image[field.address + offset] = word;
    });
  }
  return image;
}

export function commandPdu(kind: DeviceKind, command: string, params: Readonly<Record<string, ParamValue>>): Buffer {
  return writeMultipleRegistersPdu(0, commandImage(kind, command, params));
}
