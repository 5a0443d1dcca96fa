import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeRequest, decodeResponse, functionName, type ModbusRequest, type ModbusResponse } from '../../agent/src/protocol/modbus/index.ts';

/**
 * Every PDU that pymodbus's own message tests encode (shared/fixtures/vectors, pymodbus
 * licence alongside) decodes byte by byte: the function code, and each field the vector's
 * constructor arguments (`kwargs_src`, Python source) give, compared with what the
 * decoder returns; none of them is malformed (DESIGN.md, principle 10: real artifacts).
 */

interface Vector {
  readonly class: string;
  readonly kwargs_src: string;
  readonly pdu_hex: string;
  readonly function_code: number;
}

const fixture = fileURLToPath(new URL('../../../shared/fixtures/vectors/pymodbus-pdu-vectors.json', import.meta.url));
const present = existsSync(fixture);
if (!present) {
  if (process.env.CI === 'true') throw new Error(`pymodbus vectors missing at ${fixture}: CI must have the shared fixtures`);
  console.warn(`skipping the pymodbus vectors: ${fixture} is missing (the shared fixtures folder is not checked out here)`);
}
const vectors: { requests: Vector[]; responses: Vector[] } = present ? JSON.parse(readFileSync(fixture, 'utf8')) : { requests: [], responses: [] };

// ---------------------------------------------------------------------------------------
// A reader for the small part of Python the vectors' `kwargs_src` uses: dicts, lists,
// ints (decimal and hex), True/False/None, bytes literals with \x escapes, `list + list`,
// `list * int`, and dotted names with an optional call (`ModbusStatus.ON`,
// `file_msg.FileRecord()`), which come back as { name } for the checks below to interpret.
// ---------------------------------------------------------------------------------------

type Py = number | boolean | null | string | Buffer | Py[] | { readonly name: string } | { readonly [key: string]: Py };

function parsePython(source: string): Py {
  let at = 0;
  const skip = (): void => {
    while (at < source.length && /\s/.test(source[at] as string)) at += 1;
  };
  const expect = (text: string): void => {
    skip();
    if (!source.startsWith(text, at)) throw new Error(`expected ${text} at ${at} in ${source}`);
    at += text.length;
  };
  const peek = (): string => {
    skip();
    return source[at] ?? '';
  };
  const quoted = (): string => {
    const quote = source[at] as string;
    at += 1;
    let text = '';
    while (source[at] !== quote) {
      if (at >= source.length) throw new Error(`unterminated string in ${source}`);
      if (source[at] === '\\') {
        const escape = source[at + 1];
        if (escape === 'x') {
          text += String.fromCharCode(Number.parseInt(source.slice(at + 2, at + 4), 16));
          at += 4;
          continue;
        }
        text += escape === 'n' ? '\n' : (escape as string);
        at += 2;
        continue;
      }
      text += source[at];
      at += 1;
    }
    at += 1;
    return text;
  };
  const atom = (): Py => {
    const c = peek();
    if (c === '{') {
      at += 1;
      const dict: Record<string, Py> = {};
      while (peek() !== '}') {
        const key = value();
        if (typeof key !== 'string') throw new Error(`dict key ${String(key)} is not a string`);
        expect(':');
        dict[key] = value();
        if (peek() === ',') at += 1;
      }
      at += 1;
      return dict;
    }
    if (c === '[') {
      at += 1;
      const list: Py[] = [];
      while (peek() !== ']') {
        list.push(value());
        if (peek() === ',') at += 1;
      }
      at += 1;
      return list;
    }
    if (c === 'b' && (source[at + 1] === "'" || source[at + 1] === '"')) {
      at += 1;
      return Buffer.from(quoted(), 'latin1');
    }
    if (c === "'" || c === '"') return quoted();
    const number = /^0[xX][0-9a-fA-F]+|^\d+/.exec(source.slice(at));
    if (number !== null) {
      at += number[0].length;
      return Number(number[0]);
    }
    const name = /^[A-Za-z_][\w.]*/.exec(source.slice(at));
    if (name === null) throw new Error(`cannot read ${source.slice(at)}`);
    at += name[0].length;
    if (name[0] === 'True') return true;
    if (name[0] === 'False') return false;
    if (name[0] === 'None') return null;
    if (source.startsWith('()', at)) {
      at += 2;
      return { name: `${name[0]}()` };
    }
    return { name: name[0] };
  };
  // `*` binds tighter than `+`, as in Python.
  const term = (): Py => {
    let left = atom();
    while (peek() === '*') {
      at += 1;
      const count = atom();
      if (!Array.isArray(left) || typeof count !== 'number') throw new Error(`unsupported * in ${source}`);
      const list: Py[] = left;
      left = Array.from({ length: count }, () => list).flat();
    }
    return left;
  };
  const value = (): Py => {
    let left = term();
    while (peek() === '+') {
      at += 1;
      const right = term();
      if (!Array.isArray(left) || !Array.isArray(right)) throw new Error(`unsupported + in ${source}`);
      left = [...left, ...right];
    }
    return left;
  };
  const result = value();
  skip();
  if (at !== source.length) throw new Error(`trailing text in ${source}`);
  return result;
}

// ---------------------------------------------------------------------------------------
// pymodbus vocabulary → the decoder's.
// ---------------------------------------------------------------------------------------

/** pymodbus ModbusStatus constants (pymodbus/constants.py). */
const MODBUS_STATUS: Record<string, number> = { 'ModbusStatus.ON': 0xff00, 'ModbusStatus.OFF': 0x0000, 'ModbusStatus.READY': 0x0000, 'ModbusStatus.WAITING': 0xffff };

/** A diagnostics `message` argument as the bytes pymodbus puts in the data field. */
function diagnosticData(message: Py | undefined): Buffer {
  if (message === undefined || message === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(message)) return message;
  if (typeof message === 'number') return Buffer.from([message >> 8, message & 0xff]);
  if (typeof message === 'object' && 'name' in message && typeof message.name === 'string') {
    const word = MODBUS_STATUS[message.name];
    if (word === undefined) throw new Error(`unknown pymodbus constant ${message.name}`);
    return Buffer.from([word >> 8, word & 0xff]);
  }
  throw new Error(`unexpected diagnostics message ${String(message)}`);
}

function numbers(value: Py | undefined): number[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'number')) throw new Error(`expected a list of ints, got ${String(value)}`);
  return value as number[];
}

function booleans(value: Py | undefined): boolean[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'boolean')) throw new Error(`expected a list of bools, got ${String(value)}`);
  return value as boolean[];
}

/** `file_msg.FileRecord()` with no arguments: pymodbus's defaults, all zero and no data. */
function isDefaultFileRecord(value: Py): boolean {
  return typeof value === 'object' && value !== null && 'name' in value && value.name === 'file_msg.FileRecord()';
}

type Decoded = ModbusRequest | ModbusResponse;
type Check = (decoded: Decoded, kwargs: Record<string, Py>, vector: Vector) => void;

/** The fields of `decoded`, read without narrowing: the checks state which ones they expect. */
function field(decoded: Decoded, name: string): unknown {
  return (decoded as unknown as Record<string, unknown>)[name];
}

/**
 * One check per pymodbus class name (without the module). Each compares every argument
 * the vector gives; where an argument does not travel in the PDU, the comment says so.
 */
const REQUEST_CHECKS: Record<string, Check> = {
  ReadCoilsRequest: readRequest,
  ReadDiscreteInputsRequest: readRequest,
  ReadHoldingRegistersRequest: readRequest,
  ReadInputRegistersRequest: readRequest,
  WriteSingleCoilRequest: (d, kw) => {
    expect(d.kind).toBe('write-single-coil');
    expect(field(d, 'address')).toBe(kw.address);
    expect(field(d, 'value')).toBe(booleans(kw.bits)[0]);
  },
  WriteMultipleCoilsRequest: (d, kw) => {
    expect(d.kind).toBe('write-multiple-coils');
    expect(field(d, 'address')).toBe(kw.address);
    expect(field(d, 'quantity')).toBe(booleans(kw.bits).length);
    expect(field(d, 'bits')).toEqual(kw.bits);
  },
  WriteSingleRegisterRequest: (d, kw) => {
    expect(d.kind).toBe('write-single-register');
    expect(field(d, 'address')).toBe(kw.address);
    expect(field(d, 'value')).toBe(numbers(kw.registers)[0]);
  },
  WriteMultipleRegistersRequest: (d, kw) => {
    expect(d.kind).toBe('write-multiple-registers');
    expect(field(d, 'address')).toBe(kw.address);
    expect(field(d, 'quantity')).toBe(numbers(kw.registers).length);
    expect(field(d, 'values')).toEqual(kw.registers);
  },
  MaskWriteRegisterRequest: maskWrite,
  ReadWriteMultipleRegistersRequest: (d, kw) => {
    expect(d.kind).toBe('read-write-multiple-registers');
    expect(field(d, 'readAddress')).toBe(kw.read_address);
    expect(field(d, 'readQuantity')).toBe(kw.read_count);
    expect(field(d, 'writeAddress')).toBe(kw.write_address);
    expect(field(d, 'writeQuantity')).toBe(numbers(kw.write_registers).length);
    expect(field(d, 'values')).toEqual(kw.write_registers);
  },
  ReadFileRecordRequest: fileRecords,
  WriteFileRecordRequest: fileRecords,
  ReadFifoQueueRequest: (d, kw) => {
    expect(d.kind).toBe('read-fifo');
    expect(field(d, 'address')).toBe(kw.address);
  },
  ReadDeviceInformationRequest: (d, kw) => {
    // read_code 0x17 is outside the specification's 1..4 (§6.21); a server answers it with
    // exception 3. The decoder keeps it and names it rather than calling the frame malformed.
    expect(d.kind).toBe('read-device-identification');
    expect(field(d, 'meiType')).toBe(14);
    expect(field(d, 'readDeviceIdCode')).toBe(kw.read_code);
    expect(field(d, 'readDeviceIdName')).toBe(`unknown-${String(kw.read_code)}`);
    expect(field(d, 'objectId')).toBe(kw.object_id);
  },
  ReadExceptionStatusRequest: noData,
  GetCommEventCounterRequest: noData,
  GetCommEventLogRequest: noData,
  ReportDeviceIdRequest: noData,
};

const RESPONSE_CHECKS: Record<string, Check> = {
  ReadCoilsResponse: readBits,
  ReadDiscreteInputsResponse: readBits,
  ReadHoldingRegistersResponse: readRegisters('read-registers'),
  ReadInputRegistersResponse: readRegisters('read-registers'),
  ReadWriteMultipleRegistersResponse: readRegisters('read-write-multiple-registers'),
  WriteSingleCoilResponse: REQUEST_CHECKS.WriteSingleCoilRequest as Check,
  WriteSingleRegisterResponse: REQUEST_CHECKS.WriteSingleRegisterRequest as Check,
  WriteMultipleCoilsResponse: writeMultipleEcho('write-multiple-coils'),
  WriteMultipleRegistersResponse: writeMultipleEcho('write-multiple-registers'),
  MaskWriteRegisterResponse: maskWrite,
  ReadFileRecordResponse: (d, kw) => {
    // Each default FileRecord() answers as an empty sub-response of reference type 6.
    expect(d.kind).toBe('file-record-data');
    const records = field(d, 'records') as { referenceType: number; values: number[] }[];
    const expected = kw.records as Py[];
    expect(records).toHaveLength(expected.length);
    for (const [i, record] of records.entries()) {
      expect(isDefaultFileRecord(expected[i] as Py)).toBe(true);
      expect(record).toEqual({ referenceType: 6, values: [] });
    }
  },
  WriteFileRecordResponse: fileRecords,
  ReadFifoQueueResponse: (d, kw) => {
    expect(d.kind).toBe('read-fifo');
    expect(field(d, 'fifoCount')).toBe(numbers(kw.values).length);
    expect(field(d, 'values')).toEqual(kw.values);
  },
  ReadDeviceInformationResponse: (d, kw) => {
    // Only read_code is given; pymodbus's defaults send conformity 0x83, no more, no objects.
    expect(d.kind).toBe('read-device-identification');
    expect(field(d, 'readDeviceIdCode')).toBe(kw.read_code);
    expect(field(d, 'conformityLevel')).toBe(0x83);
    expect(field(d, 'moreFollows')).toBe(false);
    expect(field(d, 'objects')).toEqual([]);
  },
  ReadExceptionStatusResponse: (d, kw) => {
    expect(d.kind).toBe('exception-status');
    expect(field(d, 'status')).toBe(kw.status);
  },
  GetCommEventCounterResponse: (d, kw) => {
    // pymodbus encodes status True as ModbusStatus.READY (0x0000, "not busy", §6.9).
    expect(d.kind).toBe('comm-event-counter');
    expect(field(d, 'eventCount')).toBe(kw.count);
    expect(field(d, 'status')).toBe(0x0000);
  },
  GetCommEventLogResponse: (d, kw) => {
    expect(d.kind).toBe('comm-event-log');
    expect(field(d, 'status')).toBe(kw.status === true ? 0x0000 : 0xffff);
    expect(field(d, 'messageCount')).toBe(kw.message_count);
    expect(field(d, 'eventCount')).toBe(kw.event_count);
    expect(field(d, 'events')).toEqual(kw.events);
  },
  ReportDeviceIdResponse: (d, kw) => {
    const identifier = kw.identifier as Buffer;
    expect(d.kind).toBe('server-id');
    expect(field(d, 'serverId')).toBe(identifier[0]);
    expect(field(d, 'runIndicator')).toBe(kw.status === true ? 'on' : 'off');
    expect((field(d, 'data') as Buffer).subarray(0, identifier.length)).toEqual(identifier);
  },
};

function readRequest(d: Decoded, kw: Record<string, Py>, vector: Vector): void {
  expect(d.kind).toBe('read');
  expect(field(d, 'function')).toBe(functionName(vector.function_code));
  expect(field(d, 'address')).toBe(kw.address);
  expect(field(d, 'quantity')).toBe(kw.count);
}

function readBits(d: Decoded, kw: Record<string, Py>): void {
  // The response carries no address (§6.1): kwargs `address` cannot be checked. It carries
  // whole bytes, so the decoded bits are the vector's padded with false to a multiple of 8.
  const expected = booleans(kw.bits);
  const padded = [...expected, ...Array.from({ length: (8 - (expected.length % 8)) % 8 }, () => false)];
  expect(d.kind).toBe('read-bits');
  expect(field(d, 'bits')).toEqual(padded);
}

function readRegisters(kind: 'read-registers' | 'read-write-multiple-registers'): Check {
  return (d, kw) => {
    expect(d.kind).toBe(kind);
    expect(field(d, 'values')).toEqual(kw.registers);
  };
}

function writeMultipleEcho(kind: 'write-multiple-coils' | 'write-multiple-registers'): Check {
  return (d, kw) => {
    expect(d.kind).toBe(kind);
    expect(field(d, 'address')).toBe(kw.address);
    expect(field(d, 'quantity')).toBe(kw.count);
  };
}

function maskWrite(d: Decoded, kw: Record<string, Py>): void {
  expect(d.kind).toBe('mask-write-register');
  expect(field(d, 'address')).toBe(kw.address);
  expect(field(d, 'andMask')).toBe(kw.and_mask);
  expect(field(d, 'orMask')).toBe(kw.or_mask);
}

function fileRecords(d: Decoded, kw: Record<string, Py>): void {
  // FileRecord() defaults: file 0, record 0, length 0, no data; pymodbus sends reference
  // type 6 for each. File number 0 is outside §6.14's 1..0xFFFF but is an address
  // question (exception 2), not a malformed frame.
  expect(d.kind).toBe('file-record');
  const records = field(d, 'records') as unknown[];
  const expected = kw.records as Py[];
  expect(records).toHaveLength(expected.length);
  for (const [i, record] of records.entries()) {
    expect(isDefaultFileRecord(expected[i] as Py)).toBe(true);
    expect(record).toEqual({ referenceType: 6, fileNumber: 0, recordNumber: 0, recordLength: 0, values: [] });
  }
}

function noData(d: Decoded): void {
  expect(d.kind).toBe('no-data');
}

/**
 * Diagnostics: every class shares one shape, the sub-function (from the PDU, since the
 * class fixes it) and the `message` argument as the data field. DiagnosticBase's default
 * sub-function is pymodbus's placeholder 9999 (0x270F), reserved in §6.8.1.
 */
const DIAGNOSTIC_SUB_FUNCTIONS: Record<string, number> = {
  DiagnosticBase: 9999, ReturnQueryData: 0, RestartCommunicationsOption: 1, ReturnDiagnosticRegister: 2,
  ChangeAsciiInputDelimiter: 3, ForceListenOnlyMode: 4, ClearCounters: 10, ReturnBusMessageCount: 11,
  ReturnBusCommunicationErrorCount: 12, ReturnBusExceptionErrorCount: 13, ReturnDeviceMessageCount: 14,
  ReturnDeviceNoResponseCount: 15, ReturnDeviceNAKCount: 16, ReturnDeviceBusyCount: 17,
  ReturnDeviceBusCharacterOverrunCount: 18, ReturnIopOverrunCount: 19, ClearOverrunCount: 20, GetClearModbusPlus: 21,
};

function diagnosticsCheck(base: string, isResponse: boolean): Check {
  return (d, kw) => {
    const subFunction = DIAGNOSTIC_SUB_FUNCTIONS[base];
    expect(subFunction, `sub-function of ${base}`).toBeDefined();
    expect(d.kind).toBe('diagnostics');
    expect(field(d, 'subFunction')).toBe(subFunction);
    if (base === 'ForceListenOnlyMode') {
      // No message argument: the request sends the spec's 0x0000 (§6.8.1); the response
      // comes without data (the spec says a server sends none at all).
      expect(field(d, 'data')).toEqual(isResponse ? Buffer.alloc(0) : Buffer.from([0, 0]));
      expect(field(d, 'subFunctionName')).toBe('force-listen-only-mode');
      return;
    }
    expect(field(d, 'data')).toEqual(diagnosticData(kw.message));
  };
}

function checkFor(vector: Vector, isResponse: boolean): Check {
  const base = vector.class.split('.').pop() as string;
  if (vector.class.startsWith('diag_msg.')) return diagnosticsCheck(base.replace(/(Request|Response)$/, ''), isResponse);
  const check = (isResponse ? RESPONSE_CHECKS : REQUEST_CHECKS)[base];
  if (check === undefined) throw new Error(`no check for ${vector.class}: add one`);
  return check;
}

function runVector(vector: Vector, isResponse: boolean): void {
  const pdu = Buffer.from(vector.pdu_hex, 'hex');
  const decoded = isResponse ? decodeResponse(pdu) : decodeRequest(pdu);
  expect(decoded.kind, decoded.kind === 'malformed' ? decoded.reason : '').not.toBe('malformed');
  expect(decoded.functionCode).toBe(vector.function_code);
  expect(decoded.function).toBe(functionName(vector.function_code));
  const kwargs = parsePython(vector.kwargs_src);
  if (typeof kwargs !== 'object' || kwargs === null || Array.isArray(kwargs) || Buffer.isBuffer(kwargs)) throw new Error(`kwargs of ${vector.class} is not a dict`);
  checkFor(vector, isResponse)(decoded, kwargs as Record<string, Py>, vector);
}

describe.skipIf(!present)('pymodbus PDU vectors', () => {
  it('has both directions', () => {
    expect(vectors.requests.length).toBeGreaterThan(30);
    expect(vectors.responses.length).toBeGreaterThan(30);
  });

  describe('requests', () => {
    it.each(vectors.requests.map((v) => [`${v.class} ${v.pdu_hex}`, v] as const))('%s', (_, vector) => runVector(vector, false));
  });

  describe('responses', () => {
    it.each(vectors.responses.map((v) => [`${v.class} ${v.pdu_hex}`, v] as const))('%s', (_, vector) => runVector(vector, true));
  });

  it('the exception form of every vector function names the function and the exception', () => {
    for (const vector of vectors.responses) {
      const decoded = decodeResponse(Buffer.from([vector.function_code | 0x80, 0x02]));
      expect(decoded).toEqual({
        kind: 'exception', functionCode: vector.function_code, function: functionName(vector.function_code),
        exceptionCode: 2, exception: 'illegal-data-address',
      });
    }
  });
});

describe('the kwargs reader', () => {
  it('reads the Python forms the vectors use', () => {
    expect(parsePython(`{"bits": [True, True] + [False] * 6, "address": 17}`)).toEqual({ bits: [true, true, false, false, false, false, false, false], address: 17 });
    expect(parsePython(`{"message": b'\\x10\\x01', "x": 0xE1D2, "s": ModbusStatus.ON, "r": [file_msg.FileRecord()], "n": None}`)).toEqual({
      message: Buffer.from([0x10, 0x01]), x: 0xe1d2, s: { name: 'ModbusStatus.ON' }, r: [{ name: 'file_msg.FileRecord()' }], n: null,
    });
  });
});
