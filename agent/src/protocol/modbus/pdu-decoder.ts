import {
  deviceIdObjectName,
  diagnosticSubFunctionName,
  exceptionName,
  functionName,
  meiTypeName,
  readDeviceIdCodeName,
} from './function-codes.ts';
import type {
  DeviceIdObject,
  Diagnostics,
  FileRecord,
  FileRecordData,
  FileRecordReference,
  MalformedPdu,
  ModbusRequest,
  ModbusResponse,
  PduAnomalyName,
  ReadFunctionCode,
} from './types.ts';

// The decoded shapes live in types.ts with the rest of the vocabulary; consumers may
// import them from here, next to the functions that produce them.
export type { ModbusRequest, ModbusResponse } from './types.ts';

/**
 * Decoding of Modbus PDUs (function code + data) as framed by the MBAP framer, following
 * the Modbus Application Protocol Specification v1.1b3 §6. Pure functions: no state, no
 * throw. Every field is read after an explicit length check; a PDU whose fields do not
 * decode comes back as `{ kind: 'malformed', anomaly, reason }` (DESIGN.md, principle 2):
 *
 * - `length-mismatch`: the PDU is shorter or longer than its function and its byte
 *   counts say (a truncated frame, trailing bytes, a byte count that overruns the PDU);
 * - `malformed-pdu`: the fields are there but break the specification's rules: a
 *   quantity out of range or a byte count that disagrees with it (the cases where a
 *   server answers exception 3, illegal data value), a coil value other than
 *   0x0000/0xFF00, a file reference type other than 6;
 * - `invalid-function-code`: function code 0, or ≥ 128 in a request (§4.1, §7).
 *
 * What the parser does NOT judge: addresses (a server answers out-of-range ones with
 * exception 2, illegal data address, and which are legal depends on the device), the
 * Read Device ID code and object id of FC 43/14 (kept and named `unknown-<n>`), diagnostic
 * data values. Those are questions for policy (principle 1).
 *
 * `data` buffers are views into `pdu` (principle 8).
 */

// Quantity limits (§6.1–§6.4, §6.11, §6.12, §6.17, §6.18).
const MAX_READ_BITS = 2000;          // 0x07D0, FC 1/2
const MAX_READ_REGISTERS = 125;      // 0x007D, FC 3/4/23 read
const MAX_WRITE_COILS = 1968;        // 0x07B0, FC 15
const MAX_WRITE_REGISTERS = 123;     // 0x007B, FC 16
const MAX_RW_WRITE_REGISTERS = 121;  // 0x0079, FC 23 write
const MAX_FIFO_COUNT = 31;           // FC 24
const MAX_COMM_EVENTS = 64;          // FC 12
const COIL_ON = 0xff00;              // FC 5 (§6.5)
const COIL_OFF = 0x0000;
const FILE_REFERENCE_TYPE = 6;       // FC 20/21 (§6.14, §6.15)
const MEI_READ_DEVICE_ID = 14;       // FC 43 (§6.21)
const FC_EXCEPTION_BIT = 0x80;       // §7
const DIAGNOSTIC_FORCE_LISTEN_ONLY = 4;

/** Big-endian 16-bit word (§4.2). Past the end it reads 0 rather than throwing; every caller checks lengths first. */
function u16(pdu: Buffer, at: number): number {
  return ((pdu[at] as number) << 8) | (pdu[at + 1] as number);
}

function words(pdu: Buffer, at: number, count: number): number[] {
  const values = new Array<number>(count);
  for (let i = 0; i < count; i++) values[i] = u16(pdu, at + 2 * i);
  return values;
}

/** Coils and discrete inputs: LSB of the first byte is the first bit (§6.1, §6.11). */
function bits(pdu: Buffer, at: number, count: number): boolean[] {
  const values = new Array<boolean>(count);
  for (let i = 0; i < count; i++) values[i] = (((pdu[at + (i >> 3)] as number) >> (i & 7)) & 1) === 1;
  return values;
}

function malformed(functionCode: number, anomaly: PduAnomalyName, reason: string): MalformedPdu {
  return { kind: 'malformed', functionCode, function: functionName(functionCode), anomaly, reason };
}

function wrongLength(functionCode: number, expected: string, actual: number): MalformedPdu {
  return malformed(functionCode, 'length-mismatch', `${functionName(functionCode)} PDU must be ${expected} bytes, got ${actual}`);
}

function outOfRange(functionCode: number, field: string, value: number, min: number, max: number): MalformedPdu {
  return malformed(functionCode, 'malformed-pdu', `${field} ${value} is outside ${min}..${max}`);
}

/**
 * Checks the one-byte byte count at `at` against the PDU's length; returns the malformed
 * result, or null when `pdu.length === at + 1 + byteCount`.
 */
function byteCountMismatch(pdu: Buffer, functionCode: number, at: number): MalformedPdu | null {
  if (pdu.length < at + 1) return wrongLength(functionCode, `at least ${at + 1}`, pdu.length);
  const byteCount = pdu[at] as number;
  if (pdu.length !== at + 1 + byteCount) {
    return malformed(functionCode, 'length-mismatch', `byte count ${byteCount} disagrees with the ${pdu.length - at - 1} data bytes present`);
  }
  return null;
}

function coilValue(pdu: Buffer, functionCode: 5): { address: number; value: boolean } | MalformedPdu {
  if (pdu.length !== 5) return wrongLength(functionCode, '5', pdu.length);
  const raw = u16(pdu, 3);
  // §6.5: 0xFF00 requests ON, 0x0000 OFF; "all other values are illegal".
  if (raw !== COIL_ON && raw !== COIL_OFF) {
    return malformed(functionCode, 'malformed-pdu', `coil value 0x${raw.toString(16).padStart(4, '0')} is neither 0xFF00 nor 0x0000`);
  }
  return { address: u16(pdu, 1), value: raw === COIL_ON };
}

/** FC 5 and FC 6 (§6.5, §6.6): address and value, the same in a request and its echo. */
function decodeSingleWrite(pdu: Buffer, functionCode: 5 | 6) {
  if (functionCode === 6) {
    if (pdu.length !== 5) return wrongLength(6, '5', pdu.length);
    return { kind: 'write-single-register', functionCode: 6, function: functionName(6), address: u16(pdu, 1), value: u16(pdu, 3) } as const;
  }
  const coil = coilValue(pdu, 5);
  if ('kind' in coil) return coil;
  return { kind: 'write-single-coil', functionCode: 5, function: functionName(5), address: coil.address, value: coil.value } as const;
}

/**
 * FC 8 (§6.8). Each named sub-function other than 0 carries a 2-byte data field
 * (§6.8.1); return-query-data echoes any data; reserved sub-functions are kept opaque.
 * In a response, force-listen-only-mode may come without data: the specification says a
 * server returns nothing at all, and pymodbus answers with the sub-function alone.
 */
function diagnostics(pdu: Buffer, isResponse: boolean): Diagnostics | MalformedPdu {
  if (pdu.length < 3) return wrongLength(8, 'at least 3', pdu.length);
  const subFunction = u16(pdu, 1);
  const name = diagnosticSubFunctionName(subFunction);
  const dataLength = pdu.length - 3;
  const fixedTwoBytes = subFunction !== 0 && !name.startsWith('unknown-');
  if (fixedTwoBytes && dataLength !== 2 && !(isResponse && subFunction === DIAGNOSTIC_FORCE_LISTEN_ONLY && dataLength === 0)) {
    return malformed(8, 'length-mismatch', `diagnostics sub-function ${subFunction} (${name}) takes 2 data bytes, got ${dataLength}`);
  }
  return { kind: 'diagnostics', functionCode: 8, function: functionName(8), subFunction, subFunctionName: name, data: pdu.subarray(3) };
}

/** FC 20 request (§6.14): sub-requests of 7 bytes, reference type 6. */
function readFileRecordRequest(pdu: Buffer): FileRecord | MalformedPdu {
  const mismatch = byteCountMismatch(pdu, 20, 1);
  if (mismatch !== null) return mismatch;
  const byteCount = pdu[1] as number;
  // §6.14: byte count 0x07..0xF5, whole 7-byte sub-requests.
  if (byteCount < 7 || byteCount > 0xf5 || byteCount % 7 !== 0) {
    return malformed(20, 'malformed-pdu', `byte count ${byteCount} is not a whole number (1..35) of 7-byte sub-requests`);
  }
  const records: FileRecordReference[] = [];
  for (let at = 2; at < pdu.length; at += 7) {
    const referenceType = pdu[at] as number;
    if (referenceType !== FILE_REFERENCE_TYPE) return malformed(20, 'malformed-pdu', `reference type ${referenceType} is not 6`);
    records.push({ referenceType, fileNumber: u16(pdu, at + 1), recordNumber: u16(pdu, at + 3), recordLength: u16(pdu, at + 5), values: [] });
  }
  return { kind: 'file-record', functionCode: 20, function: functionName(20), records };
}

/** FC 21 request and its echo response (§6.15): 7-byte sub-request headers, then the record data. */
function writeFileRecord(pdu: Buffer): FileRecord | MalformedPdu {
  const mismatch = byteCountMismatch(pdu, 21, 1);
  if (mismatch !== null) return mismatch;
  if (pdu.length < 2 + 7) return malformed(21, 'length-mismatch', 'no sub-request: byte count below 7');
  const records: FileRecordReference[] = [];
  let at = 2;
  while (at < pdu.length) {
    if (pdu.length - at < 7) return malformed(21, 'length-mismatch', `sub-request at PDU byte ${at} is truncated`);
    const referenceType = pdu[at] as number;
    if (referenceType !== FILE_REFERENCE_TYPE) return malformed(21, 'malformed-pdu', `reference type ${referenceType} is not 6`);
    const recordLength = u16(pdu, at + 5);
    const dataEnd = at + 7 + 2 * recordLength;
    if (dataEnd > pdu.length) return malformed(21, 'length-mismatch', `record length ${recordLength} overruns the PDU`);
    records.push({ referenceType, fileNumber: u16(pdu, at + 1), recordNumber: u16(pdu, at + 3), recordLength, values: words(pdu, at + 7, recordLength) });
    at = dataEnd;
  }
  return { kind: 'file-record', functionCode: 21, function: functionName(21), records };
}

/** Decodes a request PDU (client → server). Never throws. */
export function decodeRequest(pdu: Buffer): ModbusRequest {
  if (pdu.length === 0) return malformed(0, 'length-mismatch', 'empty PDU: no function code');
  const functionCode = pdu[0] as number;
  switch (functionCode) {
    case 1:
    case 2:
    case 3:
    case 4: {
      // §6.1–§6.4: start address, quantity.
      if (pdu.length !== 5) return wrongLength(functionCode, '5', pdu.length);
      const quantity = u16(pdu, 3);
      const max = functionCode <= 2 ? MAX_READ_BITS : MAX_READ_REGISTERS;
      if (quantity < 1 || quantity > max) return outOfRange(functionCode, 'quantity', quantity, 1, max);
      return { kind: 'read', functionCode: functionCode as ReadFunctionCode, function: functionName(functionCode), address: u16(pdu, 1), quantity };
    }
    case 5:
    case 6:
      return decodeSingleWrite(pdu, functionCode);
    case 7:
    case 11:
    case 12:
    case 17:
      // §6.7, §6.9, §6.10, §6.13: the function code alone.
      if (pdu.length !== 1) return wrongLength(functionCode, '1', pdu.length);
      return { kind: 'no-data', functionCode, function: functionName(functionCode) };
    case 8:
      return diagnostics(pdu, false);
    case 15: {
      // §6.11: start address, quantity 1..0x07B0, byte count = ⌈quantity / 8⌉, coil bytes.
      const mismatch = byteCountMismatch(pdu, 15, 5);
      if (mismatch !== null) return mismatch;
      const quantity = u16(pdu, 3);
      if (quantity < 1 || quantity > MAX_WRITE_COILS) return outOfRange(15, 'quantity', quantity, 1, MAX_WRITE_COILS);
      const byteCount = pdu[5] as number;
      if (byteCount !== (quantity + 7) >> 3) return malformed(15, 'malformed-pdu', `byte count ${byteCount} does not hold quantity ${quantity} (needs ${(quantity + 7) >> 3})`);
      return { kind: 'write-multiple-coils', functionCode: 15, function: functionName(15), address: u16(pdu, 1), quantity, bits: bits(pdu, 6, quantity) };
    }
    case 16: {
      // §6.12: start address, quantity 1..0x007B, byte count = 2 × quantity, values.
      const mismatch = byteCountMismatch(pdu, 16, 5);
      if (mismatch !== null) return mismatch;
      const quantity = u16(pdu, 3);
      if (quantity < 1 || quantity > MAX_WRITE_REGISTERS) return outOfRange(16, 'quantity', quantity, 1, MAX_WRITE_REGISTERS);
      const byteCount = pdu[5] as number;
      if (byteCount !== 2 * quantity) return malformed(16, 'malformed-pdu', `byte count ${byteCount} is not 2 × quantity ${quantity}`);
      return { kind: 'write-multiple-registers', functionCode: 16, function: functionName(16), address: u16(pdu, 1), quantity, values: words(pdu, 6, quantity) };
    }
    case 20:
      return readFileRecordRequest(pdu);
    case 21:
      return writeFileRecord(pdu);
    case 22:
      // §6.16: reference address, AND mask, OR mask.
      if (pdu.length !== 7) return wrongLength(22, '7', pdu.length);
      return { kind: 'mask-write-register', functionCode: 22, function: functionName(22), address: u16(pdu, 1), andMask: u16(pdu, 3), orMask: u16(pdu, 5) };
    case 23: {
      // §6.17: read address, read quantity 1..0x7D, write address, write quantity
      // 1..0x79, write byte count = 2 × write quantity, values.
      const mismatch = byteCountMismatch(pdu, 23, 9);
      if (mismatch !== null) return mismatch;
      const readQuantity = u16(pdu, 3);
      if (readQuantity < 1 || readQuantity > MAX_READ_REGISTERS) return outOfRange(23, 'read quantity', readQuantity, 1, MAX_READ_REGISTERS);
      const writeQuantity = u16(pdu, 7);
      if (writeQuantity < 1 || writeQuantity > MAX_RW_WRITE_REGISTERS) return outOfRange(23, 'write quantity', writeQuantity, 1, MAX_RW_WRITE_REGISTERS);
      const byteCount = pdu[9] as number;
      if (byteCount !== 2 * writeQuantity) return malformed(23, 'malformed-pdu', `write byte count ${byteCount} is not 2 × write quantity ${writeQuantity}`);
      return {
        kind: 'read-write-multiple-registers', functionCode: 23, function: functionName(23),
        readAddress: u16(pdu, 1), readQuantity, writeAddress: u16(pdu, 5), writeQuantity, values: words(pdu, 10, writeQuantity),
      };
    }
    case 24:
      // §6.18: FIFO pointer address.
      if (pdu.length !== 3) return wrongLength(24, '3', pdu.length);
      return { kind: 'read-fifo', functionCode: 24, function: functionName(24), address: u16(pdu, 1) };
    case 43: {
      // §6.19: MEI type, then MEI-specific data.
      if (pdu.length < 2) return wrongLength(43, 'at least 2', pdu.length);
      const meiType = pdu[1] as number;
      if (meiType === MEI_READ_DEVICE_ID) {
        // §6.21: Read Device ID code, object id.
        if (pdu.length !== 4) return wrongLength(43, '4 (read device identification)', pdu.length);
        const readDeviceIdCode = pdu[2] as number;
        return {
          kind: 'read-device-identification', functionCode: 43, function: functionName(43), meiType: MEI_READ_DEVICE_ID,
          readDeviceIdCode, readDeviceIdName: readDeviceIdCodeName(readDeviceIdCode), objectId: pdu[3] as number,
        };
      }
      return { kind: 'encapsulated-interface', functionCode: 43, function: functionName(43), meiType, meiName: meiTypeName(meiType), data: pdu.subarray(2) };
    }
    default:
      // §4.1: code 0 is not valid; 128–255 are reserved for exception responses (§7).
      if (functionCode === 0 || functionCode >= FC_EXCEPTION_BIT) {
        return malformed(functionCode, 'invalid-function-code', `function code ${functionCode} is not valid in a request (0 and 128–255 are not, App Proto §4.1)`);
      }
      return { kind: 'unknown', functionCode, function: functionName(functionCode), data: pdu.subarray(1) };
  }
}

/** FC 20 response (§6.14): sub-responses of file response length, reference type 6, registers. */
function readFileRecordResponse(pdu: Buffer): ModbusResponse {
  const mismatch = byteCountMismatch(pdu, 20, 1);
  if (mismatch !== null) return mismatch;
  // The specification gives 0x07..0xF5 for the response data length, but a single record
  // of one register takes 4 bytes (and pymodbus sends 2-byte empty ones), so only the
  // structure is checked: whole sub-responses, reference type 6, whole registers.
  if (pdu.length === 2) return malformed(20, 'length-mismatch', 'no sub-response: response data length 0');
  const records: FileRecordData[] = [];
  let at = 2;
  while (at < pdu.length) {
    if (pdu.length - at < 2) return malformed(20, 'length-mismatch', `sub-response at PDU byte ${at} is truncated`);
    const fileResponseLength = pdu[at] as number; // reference type + data
    const referenceType = pdu[at + 1] as number;
    if (referenceType !== FILE_REFERENCE_TYPE) return malformed(20, 'malformed-pdu', `reference type ${referenceType} is not 6`);
    const dataLength = fileResponseLength - 1;
    if (dataLength < 0 || dataLength % 2 !== 0) return malformed(20, 'malformed-pdu', `file response length ${fileResponseLength} is not 1 + whole registers`);
    const end = at + 2 + dataLength;
    if (end > pdu.length) return malformed(20, 'length-mismatch', `file response length ${fileResponseLength} overruns the PDU`);
    records.push({ referenceType, values: words(pdu, at + 2, dataLength / 2) });
    at = end;
  }
  return { kind: 'file-record-data', functionCode: 20, function: functionName(20), records };
}

/** FC 43 / MEI 14 response (§6.21). */
function readDeviceIdentificationResponse(pdu: Buffer): ModbusResponse {
  if (pdu.length < 7) return wrongLength(43, 'at least 7 (read device identification)', pdu.length);
  const readDeviceIdCode = pdu[2] as number;
  const objectCount = pdu[6] as number;
  const objects: DeviceIdObject[] = [];
  let at = 7;
  for (let i = 0; i < objectCount; i++) {
    if (pdu.length - at < 2) return malformed(43, 'length-mismatch', `object ${i + 1} of ${objectCount} is missing or truncated`);
    const id = pdu[at] as number;
    const valueLength = pdu[at + 1] as number;
    const end = at + 2 + valueLength;
    if (end > pdu.length) return malformed(43, 'length-mismatch', `object 0x${id.toString(16)} length ${valueLength} overruns the PDU`);
    objects.push({ id, name: deviceIdObjectName(id), value: pdu.toString('latin1', at + 2, end) });
    at = end;
  }
  if (at !== pdu.length) return malformed(43, 'length-mismatch', `${pdu.length - at} bytes follow the ${objectCount} objects announced`);
  return {
    kind: 'read-device-identification', functionCode: 43, function: functionName(43), meiType: MEI_READ_DEVICE_ID,
    readDeviceIdCode, readDeviceIdName: readDeviceIdCodeName(readDeviceIdCode),
    conformityLevel: pdu[3] as number, moreFollows: pdu[4] === 0xff, nextObjectId: pdu[5] as number, objects,
  };
}

/** Decodes a response PDU (server → client). Never throws. */
export function decodeResponse(pdu: Buffer): ModbusResponse {
  if (pdu.length === 0) return malformed(0, 'length-mismatch', 'empty PDU: no function code');
  const rawCode = pdu[0] as number;
  if (rawCode >= FC_EXCEPTION_BIT) {
    // §7: function code | 0x80, exception code.
    const functionCode = rawCode & 0x7f;
    if (pdu.length !== 2) {
      return malformed(functionCode, 'length-mismatch', `exception response (function code 0x${rawCode.toString(16)}) must be 2 bytes, got ${pdu.length}`);
    }
    const exceptionCode = pdu[1] as number;
    return { kind: 'exception', functionCode, function: functionName(functionCode), exceptionCode, exception: exceptionName(exceptionCode) };
  }
  const functionCode = rawCode;
  switch (functionCode) {
    case 1:
    case 2: {
      // §6.1, §6.2: byte count N = ⌈quantity / 8⌉ (1..250), coil/input status bytes.
      const mismatch = byteCountMismatch(pdu, functionCode, 1);
      if (mismatch !== null) return mismatch;
      const byteCount = pdu[1] as number;
      if (byteCount < 1 || byteCount > MAX_READ_BITS / 8) return outOfRange(functionCode, 'byte count', byteCount, 1, MAX_READ_BITS / 8);
      return { kind: 'read-bits', functionCode: functionCode as 1 | 2, function: functionName(functionCode), byteCount, bits: bits(pdu, 2, byteCount * 8) };
    }
    case 3:
    case 4:
    case 23: {
      // §6.3, §6.4, §6.17: byte count 2 × N (N ≤ 125), register values.
      const mismatch = byteCountMismatch(pdu, functionCode, 1);
      if (mismatch !== null) return mismatch;
      const byteCount = pdu[1] as number;
      if (byteCount < 2 || byteCount > 2 * MAX_READ_REGISTERS || byteCount % 2 !== 0) {
        return malformed(functionCode, 'malformed-pdu', `byte count ${byteCount} is not 2 × N registers, N in 1..${MAX_READ_REGISTERS}`);
      }
      const values = words(pdu, 2, byteCount / 2);
      if (functionCode === 23) return { kind: 'read-write-multiple-registers', functionCode: 23, function: functionName(23), byteCount, values };
      return { kind: 'read-registers', functionCode: functionCode as 3 | 4, function: functionName(functionCode), byteCount, values };
    }
    case 5:
    case 6:
      // §6.5, §6.6: the response is the echo of the request.
      return decodeSingleWrite(pdu, functionCode);
    case 7:
      // §6.7: one byte of output data.
      if (pdu.length !== 2) return wrongLength(7, '2', pdu.length);
      return { kind: 'exception-status', functionCode: 7, function: functionName(7), status: pdu[1] as number };
    case 8:
      return diagnostics(pdu, true);
    case 11:
      // §6.9: status word, event count.
      if (pdu.length !== 5) return wrongLength(11, '5', pdu.length);
      return { kind: 'comm-event-counter', functionCode: 11, function: functionName(11), status: u16(pdu, 1), eventCount: u16(pdu, 3) };
    case 12: {
      // §6.10: byte count, status, event count, message count, 0–64 event bytes.
      const mismatch = byteCountMismatch(pdu, 12, 1);
      if (mismatch !== null) return mismatch;
      const byteCount = pdu[1] as number;
      if (byteCount < 6 || byteCount > 6 + MAX_COMM_EVENTS) return outOfRange(12, 'byte count', byteCount, 6, 6 + MAX_COMM_EVENTS);
      return {
        kind: 'comm-event-log', functionCode: 12, function: functionName(12), byteCount,
        status: u16(pdu, 2), eventCount: u16(pdu, 4), messageCount: u16(pdu, 6), events: Array.from(pdu.subarray(8)),
      };
    }
    case 15:
    case 16: {
      // §6.11, §6.12: start address, quantity written.
      if (pdu.length !== 5) return wrongLength(functionCode, '5', pdu.length);
      const quantity = u16(pdu, 3);
      const max = functionCode === 15 ? MAX_WRITE_COILS : MAX_WRITE_REGISTERS;
      if (quantity < 1 || quantity > max) return outOfRange(functionCode, 'quantity', quantity, 1, max);
      return {
        kind: functionCode === 15 ? 'write-multiple-coils' : 'write-multiple-registers',
        functionCode: functionCode as 15 | 16, function: functionName(functionCode), address: u16(pdu, 1), quantity,
      };
    }
    case 17: {
      // §6.13: byte count, server id (device specific), run indicator, additional data.
      const mismatch = byteCountMismatch(pdu, 17, 1);
      if (mismatch !== null) return mismatch;
      const indicator = pdu[3];
      return {
        kind: 'server-id', functionCode: 17, function: functionName(17), byteCount: pdu[1] as number, data: pdu.subarray(2),
        serverId: pdu[2], runIndicator: indicator === 0xff ? 'on' : indicator === 0x00 ? 'off' : 'unknown',
      };
    }
    case 20:
      return readFileRecordResponse(pdu);
    case 21:
      return writeFileRecord(pdu);
    case 22:
      if (pdu.length !== 7) return wrongLength(22, '7', pdu.length);
      return { kind: 'mask-write-register', functionCode: 22, function: functionName(22), address: u16(pdu, 1), andMask: u16(pdu, 3), orMask: u16(pdu, 5) };
    case 24: {
      // §6.18: byte count (2 bytes, = 2 + 2 × FIFO count), FIFO count ≤ 31, values.
      if (pdu.length < 5) return wrongLength(24, 'at least 5', pdu.length);
      const byteCount = u16(pdu, 1);
      if (pdu.length !== 3 + byteCount) return malformed(24, 'length-mismatch', `byte count ${byteCount} disagrees with the ${pdu.length - 3} bytes present`);
      const fifoCount = u16(pdu, 3);
      if (fifoCount > MAX_FIFO_COUNT) return outOfRange(24, 'FIFO count', fifoCount, 0, MAX_FIFO_COUNT);
      if (byteCount !== 2 + 2 * fifoCount) return malformed(24, 'malformed-pdu', `byte count ${byteCount} is not 2 + 2 × FIFO count ${fifoCount}`);
      return { kind: 'read-fifo', functionCode: 24, function: functionName(24), fifoCount, values: words(pdu, 5, fifoCount) };
    }
    case 43: {
      if (pdu.length < 2) return wrongLength(43, 'at least 2', pdu.length);
      const meiType = pdu[1] as number;
      if (meiType === MEI_READ_DEVICE_ID) return readDeviceIdentificationResponse(pdu);
      return { kind: 'encapsulated-interface', functionCode: 43, function: functionName(43), meiType, meiName: meiTypeName(meiType), data: pdu.subarray(2) };
    }
    default:
      if (functionCode === 0) return malformed(0, 'invalid-function-code', 'function code 0 is not valid (App Proto §4.1)');
      return { kind: 'unknown', functionCode, function: functionName(functionCode), data: pdu.subarray(1) };
  }
}
