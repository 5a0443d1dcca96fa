/**
 * Names for Modbus function codes, exception codes, diagnostics sub-functions and MEI
 * types (Modbus Application Protocol Specification v1.1b3). A code the specification does
 * not define keeps a name, `unknown-<n>`, as Zeek's `consts.zeek` does, so that a scan
 * for vendor or reserved codes stays visible in logs and rules (DESIGN.md, principle 2).
 *
 * Every name is built once at module load: looking one up on the hot path is an array
 * read and allocates nothing (principle 8).
 */

/** Public function codes (Modbus App Proto v1.1b3 §5.1, table in §6). */
export const FUNCTION_CODES = {
  1: 'read-coils',                       // §6.1
  2: 'read-discrete-inputs',             // §6.2
  3: 'read-holding-registers',           // §6.3
  4: 'read-input-registers',             // §6.4
  5: 'write-single-coil',                // §6.5
  6: 'write-single-register',            // §6.6
  7: 'read-exception-status',            // §6.7 (serial line only)
  8: 'diagnostics',                      // §6.8 (serial line only)
  11: 'get-comm-event-counter',          // §6.9 (serial line only)
  12: 'get-comm-event-log',              // §6.10 (serial line only)
  15: 'write-multiple-coils',            // §6.11
  16: 'write-multiple-registers',        // §6.12
  17: 'report-server-id',                // §6.13 (serial line only)
  20: 'read-file-record',                // §6.14
  21: 'write-file-record',               // §6.15
  22: 'mask-write-register',             // §6.16
  23: 'read-write-multiple-registers',   // §6.17
  24: 'read-fifo-queue',                 // §6.18
  43: 'encapsulated-interface',          // §6.19 (MEI transport: 13 CANopen, 14 device identification)
} as const;

export type KnownFunctionName = (typeof FUNCTION_CODES)[keyof typeof FUNCTION_CODES];
/** A function name; codes outside the public table are `unknown-<n>` (Zeek consts.zeek). */
export type ModbusFunctionName = KnownFunctionName | `unknown-${number}`;

/** Exception codes (Modbus App Proto v1.1b3 §7). 7 and 9 are not defined there. */
export const EXCEPTION_CODES = {
  1: 'illegal-function',
  2: 'illegal-data-address',
  3: 'illegal-data-value',
  4: 'server-device-failure',
  5: 'acknowledge',
  6: 'server-device-busy',
  8: 'memory-parity-error',
  10: 'gateway-path-unavailable',
  11: 'gateway-target-failed',
} as const;

export type ModbusExceptionName = (typeof EXCEPTION_CODES)[keyof typeof EXCEPTION_CODES] | `unknown-${number}`;

/**
 * Diagnostics (FC 8) sub-function codes (Modbus App Proto v1.1b3 §6.8.1). 5–9, 19 and
 * 21–65535 are reserved there. Older Modicon documents (and pymodbus) call 19 "return IOP
 * overrun count" and 21 "get/clear Modbus Plus statistics"; v1.1b3 does not, so they are
 * `unknown-19` and `unknown-21` here.
 */
export const DIAGNOSTIC_SUB_FUNCTIONS = {
  0: 'return-query-data',
  1: 'restart-communications',           // "Restart Communications Option"
  2: 'return-diagnostic-register',
  3: 'change-ascii-input-delimiter',
  4: 'force-listen-only-mode',
  10: 'clear-counters',                  // "Clear Counters and Diagnostic Register"
  11: 'return-bus-message-count',
  12: 'return-bus-communication-error-count',
  13: 'return-bus-exception-error-count',
  14: 'return-server-message-count',
  15: 'return-server-no-response-count',
  16: 'return-server-nak-count',
  17: 'return-server-busy-count',
  18: 'return-bus-character-overrun-count',
  20: 'clear-overrun-counter-and-flag',
} as const;

export type DiagnosticSubFunctionName =
  | (typeof DIAGNOSTIC_SUB_FUNCTIONS)[keyof typeof DIAGNOSTIC_SUB_FUNCTIONS]
  | `unknown-${number}`;

/** MEI types carried by FC 43 (Modbus App Proto v1.1b3 §6.19); 0–12 and 15–255 are reserved. */
export const MEI_TYPES = {
  13: 'canopen-general-reference',       // §6.20
  14: 'read-device-identification',      // §6.21
} as const;

export type MeiTypeName = (typeof MEI_TYPES)[keyof typeof MEI_TYPES] | `unknown-${number}`;

/** Read Device ID codes of FC 43 / MEI 14 (Modbus App Proto v1.1b3 §6.21). */
export const READ_DEVICE_ID_CODES = {
  1: 'basic-stream',
  2: 'regular-stream',
  3: 'extended-stream',
  4: 'individual-object',
} as const;

export type ReadDeviceIdCodeName = (typeof READ_DEVICE_ID_CODES)[keyof typeof READ_DEVICE_ID_CODES] | `unknown-${number}`;

/**
 * Device identification object ids (Modbus App Proto v1.1b3 §6.21): 0x00–0x06 defined,
 * 0x07–0x7F reserved, 0x80–0xFF private (device dependent).
 */
export const DEVICE_ID_OBJECTS = {
  0: 'vendor-name',
  1: 'product-code',
  2: 'major-minor-revision',
  3: 'vendor-url',
  4: 'product-name',
  5: 'model-name',
  6: 'user-application-name',
} as const;

export type DeviceIdObjectName =
  | (typeof DEVICE_ID_OBJECTS)[keyof typeof DEVICE_ID_OBJECTS]
  | `reserved-${number}`
  | `private-${number}`;

/** A 256-entry name table: every byte value has a precomputed name. */
function byteTable<N extends string>(known: Readonly<Record<number, N>>, fallback: (code: number) => N): readonly N[] {
  const names: N[] = [];
  for (let code = 0; code < 256; code++) names.push(known[code] ?? fallback(code));
  return names;
}

const unknown = <N extends string>(code: number): N => `unknown-${code}` as N;

const FUNCTION_NAMES = byteTable<ModbusFunctionName>(FUNCTION_CODES, unknown);
const EXCEPTION_NAMES = byteTable<ModbusExceptionName>(EXCEPTION_CODES, unknown);
const MEI_NAMES = byteTable<MeiTypeName>(MEI_TYPES, unknown);
const READ_DEVICE_ID_NAMES = byteTable<ReadDeviceIdCodeName>(READ_DEVICE_ID_CODES, unknown);
const DEVICE_ID_OBJECT_NAMES = byteTable<DeviceIdObjectName>(DEVICE_ID_OBJECTS, (code) =>
  code >= 0x80 ? `private-${code}` : `reserved-${code}`,
);
// Sub-functions are 16 bits; only 0–20 have names, so the table stops there and the
// rare other value gets its name built when asked.
const DIAGNOSTIC_NAMES: readonly DiagnosticSubFunctionName[] = Array.from(
  { length: 21 },
  (_, n) => (DIAGNOSTIC_SUB_FUNCTIONS as Readonly<Record<number, DiagnosticSubFunctionName>>)[n] ?? unknown<DiagnosticSubFunctionName>(n),
);

function inByteRange(code: number): boolean {
  return Number.isInteger(code) && code >= 0 && code <= 255;
}

/**
 * Name of a function code as sent (0–255). Exception responses carry the code with bit 7
 * set (§7); strip it first (`code & 0x7f`) to name the function that failed.
 */
export function functionName(code: number): ModbusFunctionName {
  return inByteRange(code) ? (FUNCTION_NAMES[code] as ModbusFunctionName) : unknown(code);
}

/** Name of an exception code (§7), `unknown-<n>` outside the defined ones. */
export function exceptionName(code: number): ModbusExceptionName {
  return inByteRange(code) ? (EXCEPTION_NAMES[code] as ModbusExceptionName) : unknown(code);
}

/** Name of a diagnostics sub-function (§6.8.1), `unknown-<n>` for reserved ones. */
export function diagnosticSubFunctionName(n: number): DiagnosticSubFunctionName {
  return DIAGNOSTIC_NAMES[n] ?? unknown(n);
}

/** Name of an FC 43 MEI type (§6.19). */
export function meiTypeName(type: number): MeiTypeName {
  return inByteRange(type) ? (MEI_NAMES[type] as MeiTypeName) : unknown(type);
}

/** Name of an FC 43 / MEI 14 Read Device ID code (§6.21). */
export function readDeviceIdCodeName(code: number): ReadDeviceIdCodeName {
  return inByteRange(code) ? (READ_DEVICE_ID_NAMES[code] as ReadDeviceIdCodeName) : unknown(code);
}

/** Name of a device identification object id (§6.21). */
export function deviceIdObjectName(id: number): DeviceIdObjectName {
  return inByteRange(id) ? (DEVICE_ID_OBJECT_NAMES[id] as DeviceIdObjectName) : `reserved-${id}`;
}
