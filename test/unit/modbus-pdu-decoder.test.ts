import { describe, expect, it } from 'vitest';
import {
  decodeRequest,
  decodeResponse,
  deviceIdObjectName,
  diagnosticSubFunctionName,
  exceptionName,
  functionName,
} from '../../agent/src/protocol/modbus/index.ts';

/**
 * PDU decoding (Modbus App Proto v1.1b3 §6, §7): what pymodbus's vectors do not show,
 * byte-annotated, one case per way a PDU can be malformed (DESIGN.md, principle 10).
 */

const pdu = (...values: number[]): Buffer => Buffer.from(values);

describe('names', () => {
  it('names every public function code and calls the rest unknown-<n>', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 15, 16, 17, 20, 21, 22, 23, 24, 43].map(functionName)).toEqual([
      'read-coils', 'read-discrete-inputs', 'read-holding-registers', 'read-input-registers', 'write-single-coil',
      'write-single-register', 'read-exception-status', 'diagnostics', 'get-comm-event-counter', 'get-comm-event-log',
      'write-multiple-coils', 'write-multiple-registers', 'report-server-id', 'read-file-record', 'write-file-record',
      'mask-write-register', 'read-write-multiple-registers', 'read-fifo-queue', 'encapsulated-interface',
    ]);
    expect([0, 9, 90, 127, 131, 255, 256, -1].map(functionName)).toEqual([
      'unknown-0', 'unknown-9', 'unknown-90', 'unknown-127', 'unknown-131', 'unknown-255', 'unknown-256', 'unknown--1',
    ]);
  });

  it('names the exception codes of §7; 7, 9 and 12+ are unknown', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map(exceptionName)).toEqual([
      'illegal-function', 'illegal-data-address', 'illegal-data-value', 'server-device-failure', 'acknowledge',
      'server-device-busy', 'unknown-7', 'memory-parity-error', 'unknown-9', 'gateway-path-unavailable',
      'gateway-target-failed', 'unknown-12',
    ]);
  });

  it('names the diagnostics sub-functions of §6.8.1; reserved ones are unknown', () => {
    expect(diagnosticSubFunctionName(0)).toBe('return-query-data');
    expect(diagnosticSubFunctionName(1)).toBe('restart-communications');
    expect(diagnosticSubFunctionName(4)).toBe('force-listen-only-mode');
    expect(diagnosticSubFunctionName(10)).toBe('clear-counters');
    expect(diagnosticSubFunctionName(18)).toBe('return-bus-character-overrun-count');
    expect(diagnosticSubFunctionName(20)).toBe('clear-overrun-counter-and-flag');
    expect([5, 9, 19, 21, 9999, 65535].map(diagnosticSubFunctionName)).toEqual([
      'unknown-5', 'unknown-9', 'unknown-19', 'unknown-21', 'unknown-9999', 'unknown-65535',
    ]);
  });

  it('names device identification objects: defined, reserved, private', () => {
    expect([0, 4, 6, 7, 0x7f, 0x80, 0xff].map(deviceIdObjectName)).toEqual([
      'vendor-name', 'product-name', 'user-application-name', 'reserved-7', 'reserved-127', 'private-128', 'private-255',
    ]);
  });
});

describe('requests', () => {
  it('write-multiple-registers: the FrostyGoop-style FC 16', () => {
    expect(decodeRequest(pdu(
      0x10, //       FC 16
      0x00, 0x01, // start address 1
      0x00, 0x02, // quantity 2
      0x04, //       byte count 4
      0x00, 0x0a, 0x01, 0x02, // values 10, 258
    ))).toEqual({ kind: 'write-multiple-registers', functionCode: 16, function: 'write-multiple-registers', address: 1, quantity: 2, values: [10, 258] });
  });

  it('write-multiple-coils keeps exactly `quantity` bits, LSB first (§6.11)', () => {
    expect(decodeRequest(pdu(0x0f, 0x00, 0x13, 0x00, 0x0a, 0x02, 0xcd, 0x01))).toMatchObject({
      kind: 'write-multiple-coils', address: 0x13, quantity: 10,
      // 0xCD = 1100 1101 → coils 20..27 = 1,0,1,1,0,0,1,1; 0x01 → coils 28, 29 = 1, 0
      bits: [true, false, true, true, false, false, true, true, true, false],
    });
  });

  it('diagnostics force-listen-only-mode, the FC 8 attack, is named', () => {
    expect(decodeRequest(pdu(0x08, 0x00, 0x04, 0x00, 0x00))).toMatchObject({ kind: 'diagnostics', subFunction: 4, subFunctionName: 'force-listen-only-mode' });
  });

  it('an unknown function keeps its code, name and data', () => {
    const decoded = decodeRequest(pdu(0x5a, 0x00, 0x01, 0x02)); // 90: Schneider UMAS, not public
    expect(decoded).toEqual({ kind: 'unknown', functionCode: 90, function: 'unknown-90', data: pdu(0x00, 0x01, 0x02) });
  });

  it('CANopen general reference (MEI 13) and reserved MEI types are kept opaque', () => {
    expect(decodeRequest(pdu(0x2b, 0x0d, 0x01, 0x02))).toMatchObject({ kind: 'encapsulated-interface', meiType: 13, meiName: 'canopen-general-reference', data: pdu(0x01, 0x02) });
    expect(decodeRequest(pdu(0x2b, 0x07))).toMatchObject({ kind: 'encapsulated-interface', meiType: 7, meiName: 'unknown-7' });
  });

  it.each([
    ['truncated read: 4 of 5 bytes', pdu(0x03, 0x00, 0x00, 0x00), 'length-mismatch'],
    ['read with a trailing byte', pdu(0x03, 0x00, 0x00, 0x00, 0x01, 0xff), 'length-mismatch'],
    ['read coils quantity 0 (§6.1: 1..2000)', pdu(0x01, 0x00, 0x00, 0x00, 0x00), 'malformed-pdu'],
    ['read coils quantity 2001', pdu(0x01, 0x00, 0x00, 0x07, 0xd1), 'malformed-pdu'],
    ['read holding registers quantity 126 (§6.3: 1..125)', pdu(0x03, 0x00, 0x00, 0x00, 0x7e), 'malformed-pdu'],
    ['write single coil value 0x1234 (§6.5: 0xFF00 or 0x0000)', pdu(0x05, 0x00, 0x01, 0x12, 0x34), 'malformed-pdu'],
    ['write multiple registers byte count 4 for quantity 1', pdu(0x10, 0x00, 0x00, 0x00, 0x01, 0x04, 0, 1, 0, 2), 'malformed-pdu'],
    ['write multiple registers byte count past the end', pdu(0x10, 0x00, 0x00, 0x00, 0x02, 0x04, 0, 1), 'length-mismatch'],
    ['write multiple registers quantity 124 (§6.12: 1..123)', Buffer.concat([pdu(0x10, 0, 0, 0, 124, 248), Buffer.alloc(248)]), 'malformed-pdu'],
    ['write multiple coils byte count 1 for 10 coils', pdu(0x0f, 0, 0, 0, 10, 1, 0xff), 'malformed-pdu'],
    ['read/write registers write quantity 0', pdu(0x17, 0, 0, 0, 1, 0, 0, 0, 0, 0), 'malformed-pdu'],
    ['mask write register, 6 of 7 bytes', pdu(0x16, 0, 4, 0xff, 0xf2, 0x00), 'length-mismatch'],
    ['read exception status with data', pdu(0x07, 0x00), 'length-mismatch'],
    ['diagnostics without a sub-function', pdu(0x08, 0x00), 'length-mismatch'],
    ['diagnostics restart-communications with 3 data bytes', pdu(0x08, 0x00, 0x01, 0xff, 0x00, 0x00), 'length-mismatch'],
    ['read file record, a 6-byte sub-request', pdu(0x14, 0x06, 0x06, 0, 1, 0, 0, 0), 'malformed-pdu'],
    ['read file record, reference type 7', pdu(0x14, 0x07, 0x07, 0, 1, 0, 0, 0, 1), 'malformed-pdu'],
    ['write file record, record data past the end', pdu(0x15, 0x09, 0x06, 0, 1, 0, 0, 0, 2, 0, 1), 'length-mismatch'],
    ['read FIFO with 3 address bytes', pdu(0x18, 0, 0, 0), 'length-mismatch'],
    ['read device identification without object id', pdu(0x2b, 0x0e, 0x01), 'length-mismatch'],
    ['function code 0 (§4.1)', pdu(0x00, 0x01), 'invalid-function-code'],
    ['an exception code in a request (0x83)', pdu(0x83, 0x02), 'invalid-function-code'],
    ['empty PDU', pdu(), 'length-mismatch'],
  ])('malformed request: %s', (_, bytes, anomaly) => {
    const decoded = decodeRequest(bytes);
    expect(decoded.kind).toBe('malformed');
    if (decoded.kind === 'malformed') {
      expect(decoded.anomaly).toBe(anomaly);
      expect(decoded.function).toBe(functionName(bytes[0] ?? 0));
    }
  });
});

describe('responses', () => {
  it('exception: function code without bit 7, both names', () => {
    expect(decodeResponse(pdu(0x90, 0x02))).toEqual({ kind: 'exception', functionCode: 16, function: 'write-multiple-registers', exceptionCode: 2, exception: 'illegal-data-address' });
    expect(decodeResponse(pdu(0xda, 0x0c))).toEqual({ kind: 'exception', functionCode: 90, function: 'unknown-90', exceptionCode: 12, exception: 'unknown-12' });
  });

  it('read device identification objects, values as latin1 (§6.21)', () => {
    expect(decodeResponse(pdu(
      0x2b, 0x0e, // FC 43, MEI 14
      0x01, //       read device id code: basic
      0x01, //       conformity level
      0x00, //       more follows: no
      0x00, //       next object id
      0x03, //       3 objects
      0x00, 0x04, 0x41, 0x63, 0x6d, 0x65, // vendor name "Acme"
      0x01, 0x02, 0x50, 0xe9, //             product code "Pé" (latin1)
      0x02, 0x04, 0x31, 0x2e, 0x32, 0x33, // revision "1.23"
    ))).toEqual({
      kind: 'read-device-identification', functionCode: 43, function: 'encapsulated-interface', meiType: 14,
      readDeviceIdCode: 1, readDeviceIdName: 'basic-stream', conformityLevel: 1, moreFollows: false, nextObjectId: 0,
      objects: [
        { id: 0, name: 'vendor-name', value: 'Acme' },
        { id: 1, name: 'product-code', value: 'Pé' },
        { id: 2, name: 'major-minor-revision', value: '1.23' },
      ],
    });
  });

  it('read coils returns whole bytes of bits (the quantity is in the request)', () => {
    expect(decodeResponse(pdu(0x01, 0x01, 0x05))).toMatchObject({ kind: 'read-bits', byteCount: 1, bits: [true, false, true, false, false, false, false, false] });
  });

  it('force-listen-only-mode may be answered without data', () => {
    expect(decodeResponse(pdu(0x08, 0x00, 0x04))).toMatchObject({ kind: 'diagnostics', subFunctionName: 'force-listen-only-mode', data: pdu() });
    expect(decodeRequest(pdu(0x08, 0x00, 0x04)).kind).toBe('malformed'); // but a request needs its 0x0000
  });

  it.each([
    ['exception of 3 bytes', pdu(0x83, 0x02, 0x00), 'length-mismatch'],
    ['exception without its code', pdu(0x83), 'length-mismatch'],
    ['read registers, odd byte count', pdu(0x03, 0x03, 0, 1, 2), 'malformed-pdu'],
    ['read registers, byte count past the end', pdu(0x03, 0x04, 0, 1), 'length-mismatch'],
    ['read registers, byte count 0', pdu(0x03, 0x00), 'malformed-pdu'],
    ['read coils, byte count 0', pdu(0x01, 0x00), 'malformed-pdu'],
    ['write multiple coils echo, quantity 0', pdu(0x0f, 0, 0, 0, 0), 'malformed-pdu'],
    ['write single coil echo, value 0x0001', pdu(0x05, 0, 0, 0, 1), 'malformed-pdu'],
    ['comm event log, byte count 5 (below 6)', pdu(0x0c, 0x05, 0, 0, 0, 0, 0), 'malformed-pdu'],
    ['read FIFO, FIFO count 32 (§6.18: ≤ 31)', Buffer.concat([pdu(0x18, 0, 66, 0, 32), Buffer.alloc(64)]), 'malformed-pdu'],
    ['read FIFO, byte count disagrees with FIFO count', pdu(0x18, 0, 4, 0, 2, 0, 1), 'malformed-pdu'],
    ['read file record, odd register data', pdu(0x14, 0x03, 0x02, 0x06, 0x00), 'malformed-pdu'],
    ['device identification, object past the end', pdu(0x2b, 0x0e, 1, 1, 0, 0, 1, 0x00, 0x05, 0x41), 'length-mismatch'],
    ['device identification, one object fewer than announced', pdu(0x2b, 0x0e, 1, 1, 0, 0, 2, 0x00, 0x01, 0x41), 'length-mismatch'],
    ['device identification, bytes after the objects', pdu(0x2b, 0x0e, 1, 1, 0, 0, 1, 0x00, 0x01, 0x41, 0x42), 'length-mismatch'],
    ['function code 0', pdu(0x00), 'invalid-function-code'],
  ])('malformed response: %s', (_, bytes, anomaly) => {
    const decoded = decodeResponse(bytes);
    expect(decoded.kind).toBe('malformed');
    if (decoded.kind === 'malformed') expect(decoded.anomaly).toBe(anomaly);
  });

  it('data buffers are views into the PDU, not copies', () => {
    const bytes = pdu(0x41, 1, 2, 3);
    const decoded = decodeResponse(bytes);
    expect(decoded.kind === 'unknown' && decoded.data.buffer === bytes.buffer).toBe(true);
  });
});
