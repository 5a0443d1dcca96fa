/**
 * The agent's view of Modbus/TCP (Modbus Application Protocol v1.1b3; Modbus Messaging
 * on TCP/IP Implementation Guide v1.0b). The parser reports; it never decides
 * (DESIGN.md, principle 1) and never throws on input (principle 2).
 */

import type {
  DeviceIdObjectName,
  DiagnosticSubFunctionName,
  MeiTypeName,
  ModbusExceptionName,
  ModbusFunctionName,
  ReadDeviceIdCodeName,
} from './function-codes.ts';

/** Named anomalies a Modbus/TCP stream can show; counted, never thrown. */
export type ModbusAnomalyName =
  | 'invalid-protocol-id'      // MBAP protocol identifier ≠ 0 (Implementation Guide §3.1.3)
  | 'length-mismatch'          // MBAP length inconsistent with the PDU, or a PDU shorter than its function needs
  | 'invalid-function-code'    // function code 0 or ≥ 128 in a request
  | 'unsolicited-response'     // a response whose transaction id matches no pending request
  | 'pending-request-flood'    // more pending requests than the cap on one flow
  | 'oversize'                 // MBAP length above 254 (PDU ≤ 253 bytes, App Proto §4.1) or buffer cap reached
  | 'malformed-pdu';           // a known function whose fields do not decode

export type Direction = 'request' | 'response';

/** One Modbus/TCP application data unit as framed from a stream. */
export interface ModbusAdu {
  readonly transactionId: number;
  readonly protocolId: number;
  /** MBAP length field: unit id + PDU bytes. */
  readonly length: number;
  readonly unitId: number;
  /** First PDU byte (with the exception bit when set). */
  readonly functionCode: number;
  /** Function code and data. */
  readonly pdu: Buffer;
}

export interface FramerSink {
  frame(adu: ModbusAdu): void;
  anomaly(name: ModbusAnomalyName, detail: string): void;
}

// ---------------------------------------------------------------------------------------
// Decoded PDUs (pdu-decoder.ts). Every variant carries the function code and its name so
// that a log line or a rule needs nothing else. Buffers (`data`) are views into the PDU,
// not copies: copy them if you keep them past the chunk the framer was given.
// ---------------------------------------------------------------------------------------

export type ReadFunctionCode = 1 | 2 | 3 | 4;

/** The anomaly a `malformed` result stands for (a subset of ModbusAnomalyName). */
export type PduAnomalyName = Extract<ModbusAnomalyName, 'length-mismatch' | 'malformed-pdu' | 'invalid-function-code'>;

/** FC 1–4 request: start address and quantity (§6.1–§6.4). */
export interface ReadRequest {
  readonly kind: 'read';
  readonly functionCode: ReadFunctionCode;
  readonly function: ModbusFunctionName;
  readonly address: number;
  readonly quantity: number;
}

/** FC 5 request or its echo (§6.5): 0xFF00 is on, 0x0000 off; anything else is malformed. */
export interface WriteSingleCoil {
  readonly kind: 'write-single-coil';
  readonly functionCode: 5;
  readonly function: ModbusFunctionName;
  readonly address: number;
  readonly value: boolean;
}

/** FC 6 request or its echo (§6.6). */
export interface WriteSingleRegister {
  readonly kind: 'write-single-register';
  readonly functionCode: 6;
  readonly function: ModbusFunctionName;
  readonly address: number;
  readonly value: number;
}

/** FC 15 request (§6.11); `bits` has exactly `quantity` entries, the padding dropped. */
export interface WriteMultipleCoilsRequest {
  readonly kind: 'write-multiple-coils';
  readonly functionCode: 15;
  readonly function: ModbusFunctionName;
  readonly address: number;
  readonly quantity: number;
  readonly bits: boolean[];
}

/** FC 16 request (§6.12). */
export interface WriteMultipleRegistersRequest {
  readonly kind: 'write-multiple-registers';
  readonly functionCode: 16;
  readonly function: ModbusFunctionName;
  readonly address: number;
  readonly quantity: number;
  readonly values: number[];
}

/** FC 22 request or its echo (§6.16): result = (current AND andMask) OR (orMask AND NOT andMask). */
export interface MaskWriteRegister {
  readonly kind: 'mask-write-register';
  readonly functionCode: 22;
  readonly function: ModbusFunctionName;
  readonly address: number;
  readonly andMask: number;
  readonly orMask: number;
}

/** FC 23 request (§6.17); the write is performed before the read. */
export interface ReadWriteMultipleRegistersRequest {
  readonly kind: 'read-write-multiple-registers';
  readonly functionCode: 23;
  readonly function: ModbusFunctionName;
  readonly readAddress: number;
  readonly readQuantity: number;
  readonly writeAddress: number;
  readonly writeQuantity: number;
  readonly values: number[];
}

/** FC 8 request or response (§6.8); `data` is the raw data field after the sub-function. */
export interface Diagnostics {
  readonly kind: 'diagnostics';
  readonly functionCode: 8;
  readonly function: ModbusFunctionName;
  readonly subFunction: number;
  readonly subFunctionName: DiagnosticSubFunctionName;
  readonly data: Buffer;
}

/** FC 43 / MEI 14 request (§6.21). An out-of-range code is kept and named `unknown-<n>`. */
export interface ReadDeviceIdentificationRequest {
  readonly kind: 'read-device-identification';
  readonly functionCode: 43;
  readonly function: ModbusFunctionName;
  readonly meiType: 14;
  readonly readDeviceIdCode: number;
  readonly readDeviceIdName: ReadDeviceIdCodeName;
  readonly objectId: number;
}

/** FC 43 with any MEI type other than 14 (13 CANopen, §6.20, or reserved): opaque data. */
export interface EncapsulatedInterface {
  readonly kind: 'encapsulated-interface';
  readonly functionCode: 43;
  readonly function: ModbusFunctionName;
  readonly meiType: number;
  readonly meiName: MeiTypeName;
  readonly data: Buffer;
}

/** One sub-request of FC 20 / FC 21 (§6.14, §6.15); `values` is empty for a read. */
export interface FileRecordReference {
  readonly referenceType: number;
  readonly fileNumber: number;
  readonly recordNumber: number;
  readonly recordLength: number;
  readonly values: number[];
}

/** FC 20 request, FC 21 request, and FC 21's echo response. */
export interface FileRecord {
  readonly kind: 'file-record';
  readonly functionCode: 20 | 21;
  readonly function: ModbusFunctionName;
  readonly records: FileRecordReference[];
}

/** FC 7, 11, 12, 17 requests: the function code alone (§6.7, §6.9, §6.10, §6.13). */
export interface NoDataRequest {
  readonly kind: 'no-data';
  readonly functionCode: 7 | 11 | 12 | 17;
  readonly function: ModbusFunctionName;
}

/** FC 24 request (§6.18): the FIFO pointer address. */
export interface ReadFifoRequest {
  readonly kind: 'read-fifo';
  readonly functionCode: 24;
  readonly function: ModbusFunctionName;
  readonly address: number;
}

/** A function code outside the public table: kept with its data, named `unknown-<n>`. */
export interface UnknownPdu {
  readonly kind: 'unknown';
  readonly functionCode: number;
  readonly function: ModbusFunctionName;
  readonly data: Buffer;
}

/** A PDU whose fields do not decode: truncated, wrong byte count, quantity out of range. */
export interface MalformedPdu {
  readonly kind: 'malformed';
  readonly functionCode: number;
  readonly function: ModbusFunctionName;
  readonly anomaly: PduAnomalyName;
  readonly reason: string;
}

export type ModbusRequest =
  | ReadRequest
  | WriteSingleCoil
  | WriteSingleRegister
  | WriteMultipleCoilsRequest
  | WriteMultipleRegistersRequest
  | MaskWriteRegister
  | ReadWriteMultipleRegistersRequest
  | Diagnostics
  | ReadDeviceIdentificationRequest
  | EncapsulatedInterface
  | FileRecord
  | NoDataRequest
  | ReadFifoRequest
  | UnknownPdu
  | MalformedPdu;

/**
 * FC 1/2 response (§6.1, §6.2). The response does not carry the quantity asked for, so
 * `bits` has `byteCount × 8` entries, the padding of the last byte included; trim it to
 * the paired request's quantity.
 */
export interface ReadBitsResponse {
  readonly kind: 'read-bits';
  readonly functionCode: 1 | 2;
  readonly function: ModbusFunctionName;
  readonly byteCount: number;
  readonly bits: boolean[];
}

/** FC 3/4 response (§6.3, §6.4). */
export interface ReadRegistersResponse {
  readonly kind: 'read-registers';
  readonly functionCode: 3 | 4;
  readonly function: ModbusFunctionName;
  readonly byteCount: number;
  readonly values: number[];
}

/** FC 23 response (§6.17): the registers read. */
export interface ReadWriteMultipleRegistersResponse {
  readonly kind: 'read-write-multiple-registers';
  readonly functionCode: 23;
  readonly function: ModbusFunctionName;
  readonly byteCount: number;
  readonly values: number[];
}

/** FC 15 / FC 16 response (§6.11, §6.12): the start address and the quantity written. */
export interface WriteMultipleResponse {
  readonly kind: 'write-multiple-coils' | 'write-multiple-registers';
  readonly functionCode: 15 | 16;
  readonly function: ModbusFunctionName;
  readonly address: number;
  readonly quantity: number;
}

/** FC 7 response (§6.7): the eight exception status outputs as one byte. */
export interface ExceptionStatusResponse {
  readonly kind: 'exception-status';
  readonly functionCode: 7;
  readonly function: ModbusFunctionName;
  readonly status: number;
}

/** FC 11 response (§6.9): status 0xFFFF while a previous command is still being processed, else 0. */
export interface CommEventCounterResponse {
  readonly kind: 'comm-event-counter';
  readonly functionCode: 11;
  readonly function: ModbusFunctionName;
  readonly status: number;
  readonly eventCount: number;
}

/** FC 12 response (§6.10): the event bytes, most recent first. */
export interface CommEventLogResponse {
  readonly kind: 'comm-event-log';
  readonly functionCode: 12;
  readonly function: ModbusFunctionName;
  readonly byteCount: number;
  readonly status: number;
  readonly eventCount: number;
  readonly messageCount: number;
  readonly events: number[];
}

/**
 * FC 17 response (§6.13). The server id's length is device specific, so `data` keeps every
 * byte; `serverId` and `runIndicator` read it the way most devices (and pymodbus) send it:
 * a one-byte id, then the run indicator (0x00 off, 0xFF on), then additional data.
 */
export interface ServerIdResponse {
  readonly kind: 'server-id';
  readonly functionCode: 17;
  readonly function: ModbusFunctionName;
  readonly byteCount: number;
  readonly data: Buffer;
  readonly serverId: number | undefined;
  readonly runIndicator: 'on' | 'off' | 'unknown';
}

/** One sub-response of FC 20 (§6.14). */
export interface FileRecordData {
  readonly referenceType: number;
  readonly values: number[];
}

/** FC 20 response (§6.14). */
export interface FileRecordDataResponse {
  readonly kind: 'file-record-data';
  readonly functionCode: 20;
  readonly function: ModbusFunctionName;
  readonly records: FileRecordData[];
}

/** FC 24 response (§6.18): at most 31 queued registers. */
export interface ReadFifoResponse {
  readonly kind: 'read-fifo';
  readonly functionCode: 24;
  readonly function: ModbusFunctionName;
  readonly fifoCount: number;
  readonly values: number[];
}

/** One device identification object (§6.21); the value is read as latin1. */
export interface DeviceIdObject {
  readonly id: number;
  readonly name: DeviceIdObjectName;
  readonly value: string;
}

/** FC 43 / MEI 14 response (§6.21). */
export interface ReadDeviceIdentificationResponse {
  readonly kind: 'read-device-identification';
  readonly functionCode: 43;
  readonly function: ModbusFunctionName;
  readonly meiType: 14;
  readonly readDeviceIdCode: number;
  readonly readDeviceIdName: ReadDeviceIdCodeName;
  readonly conformityLevel: number;
  readonly moreFollows: boolean;
  readonly nextObjectId: number;
  readonly objects: DeviceIdObject[];
}

/** An exception response (§7): `functionCode` is the function that failed, bit 7 cleared. */
export interface ExceptionResponse {
  readonly kind: 'exception';
  readonly functionCode: number;
  readonly function: ModbusFunctionName;
  readonly exceptionCode: number;
  readonly exception: ModbusExceptionName;
}

export type ModbusResponse =
  | ReadBitsResponse
  | ReadRegistersResponse
  | ReadWriteMultipleRegistersResponse
  | WriteSingleCoil
  | WriteSingleRegister
  | WriteMultipleResponse
  | MaskWriteRegister
  | Diagnostics
  | ExceptionStatusResponse
  | CommEventCounterResponse
  | CommEventLogResponse
  | ServerIdResponse
  | FileRecord
  | FileRecordDataResponse
  | ReadFifoResponse
  | ReadDeviceIdentificationResponse
  | EncapsulatedInterface
  | ExceptionResponse
  | UnknownPdu
  | MalformedPdu;
