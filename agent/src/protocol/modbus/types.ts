/**
 * The agent's view of Modbus/TCP (Modbus Application Protocol v1.1b3; Modbus Messaging
 * on TCP/IP Implementation Guide v1.0b). The parser reports; it never decides
 * (DESIGN.md, principle 1) and never throws on input (principle 2).
 */

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
