/**
 * Modbus/TCP parsing for the agent: MBAP framing, PDU decoding, names, and request /
 * response pairing (DESIGN.md, "protocol/"). Pure and incremental; reports, never decides.
 */
export type * from './types.ts';
export * from './function-codes.ts';
export {
  DEFAULT_MAX_BUFFER_BYTES,
  MAX_ADU_BYTES,
  MAX_MBAP_LENGTH,
  MBAP_HEADER_BYTES,
  MIN_MBAP_LENGTH,
  MbapFramer,
  type MbapFramerOptions,
} from './mbap-framer.ts';
export { decodeRequest, decodeResponse } from './pdu-decoder.ts';
export {
  DEFAULT_MAX_PENDING,
  TransactionPairer,
  type PairedTransaction,
  type PairingResult,
  type RequestResult,
  type TransactionPairerOptions,
} from './transaction-pairer.ts';
