import { describe, expect, it } from 'vitest';
import { MbapFramer, decodeRequest, type FramerSink, type ModbusAdu, type ModbusAnomalyName } from '../../agent/src/protocol/modbus/index.ts';

/**
 * MBAP framing (Modbus Messaging on TCP/IP Implementation Guide v1.0b §3.1.3), one test
 * per anomaly, byte-annotated (DESIGN.md, principle 10).
 */

class Recorder implements FramerSink {
  readonly frames: ModbusAdu[] = [];
  readonly anomalies: { name: ModbusAnomalyName; detail: string }[] = [];
  frame(adu: ModbusAdu): void {
    this.frames.push(adu);
  }
  anomaly(name: ModbusAnomalyName, detail: string): void {
    this.anomalies.push({ name, detail });
  }
  get anomalyNames(): ModbusAnomalyName[] {
    return this.anomalies.map((a) => a.name);
  }
}

const bytes = (...values: number[]): Buffer => Buffer.from(values);

// Read holding registers, unit 1, transaction 0x0001: address 0x006B, quantity 3.
const READ_HOLDING = bytes(
  0x00, 0x01, // transaction id
  0x00, 0x00, // protocol id: Modbus
  0x00, 0x06, // length: unit id + 5 PDU bytes
  0x01, //       unit id
  0x03, //       FC 3 read holding registers
  0x00, 0x6b, // start address
  0x00, 0x03, // quantity
);

// Write single register, unit 7, transaction 0x0002: register 1 := 0x0096 (150).
const WRITE_SINGLE = bytes(
  0x00, 0x02, // transaction id
  0x00, 0x00, // protocol id
  0x00, 0x06, // length
  0x07, //       unit id
  0x06, //       FC 6 write single register
  0x00, 0x01, // register address
  0x00, 0x96, // value
);

function frameAll(...chunks: Buffer[]): { recorder: Recorder; framer: MbapFramer } {
  const framer = new MbapFramer();
  const recorder = new Recorder();
  for (const chunk of chunks) framer.push(chunk, recorder);
  return { recorder, framer };
}

describe('MBAP framing', () => {
  it('frames one ADU: header fields, PDU without the header', () => {
    const { recorder, framer } = frameAll(READ_HOLDING);
    expect(recorder.anomalies).toEqual([]);
    expect(recorder.frames).toHaveLength(1);
    const [adu] = recorder.frames as [ModbusAdu];
    expect(adu).toMatchObject({ transactionId: 1, protocolId: 0, length: 6, unitId: 1, functionCode: 3 });
    expect(adu.pdu).toEqual(bytes(0x03, 0x00, 0x6b, 0x00, 0x03));
    expect(decodeRequest(adu.pdu)).toMatchObject({ kind: 'read', address: 0x6b, quantity: 3 });
    expect(framer.buffered).toBe(0);
  });

  it('frames pipelined ADUs in one chunk without copying them', () => {
    const stream = Buffer.concat([READ_HOLDING, WRITE_SINGLE, READ_HOLDING]);
    const { recorder } = frameAll(stream);
    expect(recorder.frames.map((f) => [f.transactionId, f.unitId, f.functionCode])).toEqual([[1, 1, 3], [2, 7, 6], [1, 1, 3]]);
    // Zero copy on the hot path: the PDUs are views of the pushed chunk.
    for (const frame of recorder.frames) expect(frame.pdu.buffer).toBe(stream.buffer);
    expect(recorder.anomalies).toEqual([]);
  });

  it('frames one ADU split byte by byte', () => {
    const framer = new MbapFramer();
    const recorder = new Recorder();
    for (let i = 0; i < READ_HOLDING.length; i++) {
      expect(recorder.frames).toHaveLength(0);
      framer.push(READ_HOLDING.subarray(i, i + 1), recorder);
      // Carried: a partial header, then a partial ADU; nothing once it is whole.
      expect(framer.buffered).toBe(i + 1 === READ_HOLDING.length ? 0 : i + 1);
    }
    expect(recorder.frames).toHaveLength(1);
    expect(recorder.frames[0]?.pdu).toEqual(READ_HOLDING.subarray(7));
    expect(recorder.anomalies).toEqual([]);
  });

  it('frames a stream cut at every possible point', () => {
    const stream = Buffer.concat([READ_HOLDING, WRITE_SINGLE, READ_HOLDING]);
    for (let cut = 0; cut <= stream.length; cut++) {
      for (let cut2 = cut; cut2 <= stream.length; cut2++) {
        const { recorder, framer } = frameAll(stream.subarray(0, cut), stream.subarray(cut, cut2), stream.subarray(cut2));
        expect(recorder.frames.map((f) => f.transactionId)).toEqual([1, 2, 1]);
        expect(recorder.frames.map((f) => f.pdu.toString('hex'))).toEqual([READ_HOLDING, WRITE_SINGLE, READ_HOLDING].map((a) => a.subarray(7).toString('hex')));
        expect(recorder.anomalies).toEqual([]);
        expect(framer.buffered).toBe(0);
      }
    }
  });

  it('frames the smallest (8 bytes) and largest (260 bytes) ADUs', () => {
    const smallest = bytes(0x00, 0x09, 0x00, 0x00, 0x00, 0x02, 0x01, 0x07); // length 2: unit id + FC 7
    const largest = Buffer.alloc(260);
    largest.writeUInt16BE(0x0a, 0);
    largest.writeUInt16BE(254, 4); // unit id + 253-byte PDU (App Proto §4.1)
    largest[7] = 0x41; // an unknown function, 252 data bytes
    const { recorder } = frameAll(smallest, largest);
    expect(recorder.frames.map((f) => f.pdu.length)).toEqual([1, 253]);
    expect(recorder.anomalies).toEqual([]);
  });
});

describe('MBAP anomalies and resynchronisation', () => {
  it('invalid-protocol-id: protocol id 0x0001 is not Modbus', () => {
    const { recorder } = frameAll(bytes(
      0x00, 0x01, // transaction id
      0x00, 0x01, // protocol id 1: not Modbus (must be 0)
      0x00, 0x06, 0x01, 0x03, 0x00, 0x6b, 0x00, 0x03,
    ));
    expect(recorder.anomalyNames).toEqual(['invalid-protocol-id']);
    expect(recorder.anomalies[0]?.detail).toContain('0x0001');
    expect(recorder.anomalies[0]?.detail).toContain('stream byte 0');
    expect(recorder.frames).toEqual([]);
  });

  it('length-mismatch: MBAP length 1 leaves no room for a function code', () => {
    const { recorder } = frameAll(bytes(
      0x00, 0x01, 0x00, 0x00,
      0x00, 0x01, // length 1: the unit id alone
      0x01,
    ));
    expect(recorder.anomalyNames).toEqual(['length-mismatch']);
    expect(recorder.frames).toEqual([]);
  });

  it('length-mismatch: MBAP length 0', () => {
    const { recorder } = frameAll(bytes(0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03));
    expect(recorder.anomalyNames).toEqual(['length-mismatch']);
  });

  it('oversize: MBAP length 255 is above the 254 a 253-byte PDU needs', () => {
    const { recorder } = frameAll(bytes(
      0x00, 0x01, 0x00, 0x00,
      0x00, 0xff, // length 255
      0x01, 0x10,
    ));
    expect(recorder.anomalyNames).toEqual(['oversize']);
    expect(recorder.anomalies[0]?.detail).toContain('255');
  });

  it('oversize: MBAP length 0x0100 is caught on its high byte, before the low byte arrives', () => {
    const framer = new MbapFramer();
    const recorder = new Recorder();
    framer.push(bytes(0x00, 0x01, 0x00, 0x00, 0x01), recorder); // length high byte 1: ≥ 256
    expect(recorder.anomalyNames).toEqual(['oversize']);
    expect(framer.buffered).toBeLessThan(5);
  });

  it('oversize: a split ADU larger than the buffer cap is refused, and the next ADU still framed', () => {
    const framer = new MbapFramer({ maxBufferBytes: 16 });
    const recorder = new Recorder();
    // Write multiple registers, 10 registers: 6 + 1 + 1 + 4 + 1 + 20 = 33 bytes > 16.
    const pdu = Buffer.concat([bytes(0x10, 0x00, 0x00, 0x00, 0x0a, 0x14), Buffer.alloc(20, 0x11)]);
    const big = Buffer.concat([bytes(0x00, 0x05, 0x00, 0x00, 0x00, pdu.length + 1, 0x01), pdu]);
    framer.push(big.subarray(0, 10), recorder); // header known, ADU incomplete: refused
    expect(recorder.anomalyNames).toEqual(['oversize']);
    expect(recorder.anomalies[0]?.detail).toContain('16-byte buffer cap');
    expect(framer.buffered).toBe(0);
    framer.push(big.subarray(10, 20), recorder); // its remaining bytes are discarded as they come
    expect(framer.buffered).toBe(0);
    framer.push(Buffer.concat([big.subarray(20), READ_HOLDING]), recorder);
    expect(recorder.frames.map((f) => f.transactionId)).toEqual([1]);
    expect(recorder.anomalyNames).toEqual(['oversize']);
    expect(framer.droppedBytes).toBe(big.length);
    // Whole in one chunk, the same ADU needs no buffering and is framed.
    framer.push(big, recorder);
    expect(recorder.frames.map((f) => f.transactionId)).toEqual([1, 5]);
  });

  it('resynchronises after garbage: one anomaly, then the next good ADU is framed', () => {
    const garbage = bytes(0xde, 0xad, 0xbe, 0xef, 0x13, 0x37, 0x42);
    const { recorder, framer } = frameAll(Buffer.concat([READ_HOLDING, garbage, WRITE_SINGLE, READ_HOLDING]));
    expect(recorder.anomalyNames).toEqual(['invalid-protocol-id']);
    expect(recorder.anomalies[0]?.detail).toContain(`stream byte ${READ_HOLDING.length}`);
    expect(recorder.frames.map((f) => f.transactionId)).toEqual([1, 2, 1]);
    expect(framer.droppedBytes).toBe(garbage.length);
  });

  it('resynchronises across chunk boundaries, garbage split byte by byte', () => {
    // No window of this garbage, nor of garbage + the next header, reads as protocol id 0
    // with a valid length (garbage ending 00 00 would: `00 00 | 00 02` is "protocol 0,
    // length 2", a false sync a resynchronising framer cannot tell from a real one).
    const stream = Buffer.concat([bytes(0xff, 0x00, 0x00, 0xff, 0x01, 0x02, 0x03), WRITE_SINGLE, READ_HOLDING]);
    const framer = new MbapFramer();
    const recorder = new Recorder();
    for (let i = 0; i < stream.length; i++) framer.push(stream.subarray(i, i + 1), recorder);
    expect(recorder.frames.map((f) => f.transactionId)).toEqual([2, 1]);
    expect(recorder.anomalies).toHaveLength(1);
    expect(framer.buffered).toBe(0);
  });

  it('reports a new anomaly for a new episode, not for every dropped byte', () => {
    const garbage = Buffer.alloc(100, 0xee);
    const { recorder } = frameAll(Buffer.concat([garbage, READ_HOLDING, garbage, READ_HOLDING]));
    expect(recorder.anomalyNames).toEqual(['invalid-protocol-id', 'invalid-protocol-id']);
    expect(recorder.frames).toHaveLength(2);
  });

  it('a bad header inside carried bytes is caught when the next chunk completes it', () => {
    const framer = new MbapFramer();
    const recorder = new Recorder();
    framer.push(bytes(0x00, 0x01, 0x00), recorder); // plausible so far: carried
    expect(framer.buffered).toBe(3);
    framer.push(Buffer.concat([bytes(0x02 /* protocol id 0x0002 */, 0x00, 0x06), READ_HOLDING]), recorder);
    expect(recorder.anomalyNames).toEqual(['invalid-protocol-id']);
    expect(recorder.frames.map((f) => f.transactionId)).toEqual([1]);
  });

  it('reset forgets a partial ADU', () => {
    const framer = new MbapFramer();
    const recorder = new Recorder();
    framer.push(READ_HOLDING.subarray(0, 9), recorder);
    expect(framer.buffered).toBe(9);
    framer.reset();
    expect(framer.buffered).toBe(0);
    framer.push(WRITE_SINGLE, recorder);
    expect(recorder.frames.map((f) => f.transactionId)).toEqual([2]);
    expect(recorder.anomalies).toEqual([]);
  });

  it('refuses a buffer cap smaller than the smallest ADU', () => {
    expect(() => new MbapFramer({ maxBufferBytes: 4 })).toThrow(RangeError);
  });
});
