import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_MBAP_LENGTH,
  MbapFramer,
  decodeRequest,
  decodeResponse,
  type FramerSink,
  type ModbusAdu,
  type ModbusAnomalyName,
  type ModbusRequest,
  type ModbusResponse,
} from '../../agent/src/protocol/modbus/index.ts';

/**
 * Whatever bytes a Modbus flow carries, the framer and the decoders return normally
 * (DESIGN.md, principle 2), every byte pushed is accounted for (framed, carried or
 * dropped), and what is carried stays under the cap (principle 3).
 */

const KNOWN_CODES = [1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 15, 16, 17, 20, 21, 22, 23, 24, 43] as const;
const PDU_ANOMALIES = new Set<ModbusAnomalyName>(['length-mismatch', 'malformed-pdu', 'invalid-function-code']);

function adu(transactionId: number, unitId: number, pdu: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(7 + pdu.length);
  out.writeUInt16BE(transactionId, 0);
  out.writeUInt16BE(0, 2);
  out.writeUInt16BE(pdu.length + 1, 4);
  out[6] = unitId;
  out.set(pdu, 7);
  return out;
}

/** Framer output plus an accounting of every byte. */
class CountingSink implements FramerSink {
  frames = 0;
  framedBytes = 0;
  readonly anomalies: string[] = [];
  readonly pdus: string[] = [];
  constructor(private readonly keepPdus = false) {}
  frame(frame: ModbusAdu): void {
    this.frames += 1;
    this.framedBytes += 6 + frame.length;
    expect(frame.protocolId).toBe(0);
    expect(frame.pdu.length).toBe(frame.length - 1);
    expect(frame.pdu.length).toBeGreaterThanOrEqual(1);
    expect(frame.pdu.length).toBeLessThanOrEqual(MAX_MBAP_LENGTH - 1);
    checkDecoded(decodeRequest(frame.pdu));
    checkDecoded(decodeResponse(frame.pdu));
    if (this.keepPdus) this.pdus.push(`${frame.transactionId}/${frame.unitId}/${frame.pdu.toString('hex')}`);
  }
  anomaly(name: ModbusAnomalyName, detail: string): void {
    expect(['invalid-protocol-id', 'length-mismatch', 'oversize']).toContain(name);
    expect(detail.length).toBeGreaterThan(0);
    this.anomalies.push(name);
  }
}

function checkDecoded(decoded: ModbusRequest | ModbusResponse): void {
  expect(typeof decoded.kind).toBe('string');
  expect(Number.isInteger(decoded.functionCode)).toBe(true);
  expect(typeof decoded.function).toBe('string');
  if (decoded.kind === 'malformed') {
    expect(PDU_ANOMALIES.has(decoded.anomaly)).toBe(true);
    expect(decoded.reason.length).toBeGreaterThan(0);
  }
}

/** Pushes `stream` cut at `cuts`; checks the bound after every push and the accounting at the end. */
function frameInChunks(stream: Buffer, cuts: number[], maxBufferBytes?: number, keepPdus = false): CountingSink {
  const framer = new MbapFramer(maxBufferBytes === undefined ? {} : { maxBufferBytes });
  const sink = new CountingSink(keepPdus);
  const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const point of [...points, stream.length]) {
    framer.push(stream.subarray(from, point), sink);
    from = point;
    expect(framer.buffered).toBeLessThanOrEqual(maxBufferBytes ?? 8192);
    expect(framer.buffered).toBeLessThan(260);
  }
  // Every byte is framed, dropped, or still carried.
  expect(sink.framedBytes + framer.droppedBytes + framer.buffered).toBe(stream.length);
  return sink;
}

// --- arbitraries -------------------------------------------------------------------------

const word = fc.integer({ min: 0, max: 0xffff });
const byte = fc.integer({ min: 0, max: 0xff });
const bytesOf = (maxLength: number) => fc.uint8Array({ maxLength });

/** PDUs shaped like each function's request or response, with values in and out of range. */
const structuredPdu: fc.Arbitrary<Buffer> = fc.oneof(
  fc.tuple(fc.constantFrom(1, 2, 3, 4, 5, 6, 15, 16, 22), word, word).map(([c, a, q]) => Buffer.from([c, a >> 8, a & 255, q >> 8, q & 255])),
  fc.tuple(fc.constantFrom(15, 16, 23), word, fc.integer({ min: 0, max: 130 }), fc.boolean()).map(([c, a, q, honest]) => {
    const count = c === 15 ? (q + 7) >> 3 : 2 * q;
    const head = c === 23 ? [c, a >> 8, a & 255, 0, 3, a >> 8, a & 255, q >> 8, q & 255] : [c, a >> 8, a & 255, q >> 8, q & 255];
    return Buffer.concat([Buffer.from([...head, honest ? count : (count + 1) & 255]), Buffer.alloc(Math.min(count, 240), 0xa5)]);
  }),
  fc.tuple(fc.constantFrom(1, 2, 3, 4, 12, 17, 20, 21, 23), bytesOf(60)).map(([c, data]) => Buffer.concat([Buffer.from([c, data.length]), data])),
  fc.tuple(word, bytesOf(6)).map(([sub, data]) => Buffer.concat([Buffer.from([8, sub >> 8, sub & 255]), data])),
  fc.tuple(fc.constantFrom(13, 14, 15), bytesOf(40)).map(([mei, data]) => Buffer.concat([Buffer.from([43, mei]), data])),
  fc.tuple(fc.integer({ min: 0, max: 40 }), bytesOf(80)).map(([n, data]) => Buffer.concat([Buffer.from([24, 0, 2 + 2 * n, 0, n]), data])),
  fc.tuple(fc.constantFrom(...KNOWN_CODES), byte).map(([c, e]) => Buffer.from([c | 0x80, e])),
  fc.tuple(fc.constantFrom(20, 21), fc.array(fc.tuple(fc.constantFrom(6, 6, 6, 7), word, word, fc.integer({ min: 0, max: 4 })), { maxLength: 5 })).map(([c, refs]) => {
    const body = refs.flatMap(([t, f, r, n]) => [t, f >> 8, f & 255, r >> 8, r & 255, 0, n, ...(c === 21 ? new Array<number>(2 * n).fill(1) : [])]);
    return Buffer.from([c, body.length, ...body]);
  }),
);

const anyPdu: fc.Arbitrary<Buffer> = fc.oneof(
  structuredPdu,
  fc.tuple(fc.constantFrom(...KNOWN_CODES), bytesOf(30)).map(([c, data]) => Buffer.concat([Buffer.from([c]), data])),
  fc.uint8Array({ minLength: 1, maxLength: 253 }).map((b) => Buffer.from(b)),
);

const validAdu = fc.tuple(word, byte, anyPdu).map(([tid, unit, pdu]) => adu(tid, unit, pdu.subarray(0, 253)));

type Mutation = { op: 'set' | 'insert' | 'delete'; at: number; value: number };
const mutations = fc.array(fc.record({ op: fc.constantFrom<Mutation['op']>('set', 'insert', 'delete'), at: fc.nat(), value: byte }), { maxLength: 6 });

function mutate(stream: Buffer, changes: Mutation[]): Buffer {
  const out = [...stream];
  for (const { op, at, value } of changes) {
    const i = out.length === 0 ? 0 : at % out.length;
    if (op === 'set' && out.length > 0) out[i] = value;
    else if (op === 'insert') out.splice(i, 0, value);
    else if (op === 'delete') out.splice(i, 1);
  }
  return Buffer.from(out);
}

/** A Modbus stream with damage: valid ADUs, garbage runs, then random edits. */
const damagedStream = fc
  .tuple(fc.array(fc.oneof({ weight: 4, arbitrary: validAdu }, { weight: 1, arbitrary: bytesOf(40).map((b) => Buffer.from(b)) }), { maxLength: 12 }), mutations)
  .map(([parts, changes]) => mutate(Buffer.concat(parts), changes));

const cuts = fc.array(fc.nat(), { maxLength: 12 });

// --- properties --------------------------------------------------------------------------

describe('Modbus parser under fuzzing', () => {
  it('random byte chunks never throw; every byte is framed, dropped or carried under the cap', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 10 }), fc.integer({ min: 8, max: 400 }), (chunks, cap) => {
        const stream = Buffer.concat(chunks.map((c) => Buffer.from(c)));
        let at = 0;
        const boundaries = chunks.map((c) => (at += c.length));
        frameInChunks(stream, boundaries, cap);
      }),
      { numRuns: 3_000 },
    );
  });

  it('valid ADUs with random mutations, cut anywhere, never throw and stay bounded', () => {
    fc.assert(
      fc.property(damagedStream, cuts, fc.integer({ min: 8, max: 300 }), (stream, points, cap) => {
        frameInChunks(stream, points, cap);
      }),
      { numRuns: 3_000 },
    );
  });

  it('framing does not depend on how the stream is cut (default cap)', () => {
    fc.assert(
      fc.property(damagedStream, cuts, (stream, points) => {
        const whole = frameInChunks(stream, [], undefined, true);
        const cut = frameInChunks(stream, points, undefined, true);
        expect(cut.pdus).toEqual(whole.pdus);
        expect(cut.anomalies).toEqual(whole.anomalies);
      }),
      { numRuns: 2_000 },
    );
  });

  it('undamaged streams frame every ADU and report nothing', () => {
    fc.assert(
      fc.property(fc.array(validAdu, { maxLength: 10 }), cuts, (adus, points) => {
        const sink = frameInChunks(Buffer.concat(adus), points, undefined, true);
        expect(sink.frames).toBe(adus.length);
        expect(sink.anomalies).toEqual([]);
      }),
      { numRuns: 2_000 },
    );
  });

  it('decoders never throw on any PDU, empty included', () => {
    fc.assert(
      fc.property(fc.oneof(anyPdu, fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b))), (pdu) => {
        checkDecoded(decodeRequest(pdu));
        checkDecoded(decodeResponse(pdu));
      }),
      { numRuns: 20_000 },
    );
  });
});

// --- the million ---------------------------------------------------------------------------

/** xorshift32: a fixed seed gives the same million frames on every run. */
class Rng {
  constructor(private state: number) {}
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
  below(n: number): number {
    return this.next() % n;
  }
}

/** One random frame, mostly well-formed, into `out` at `at`; returns the new end. */
function writeRandomFrame(rng: Rng, out: Buffer, at: number): number {
  const start = at;
  const shape = rng.below(10);
  let pduLength: number;
  const pdu = start + 7;
  if (shape < 4) {
    // Fixed-size requests and echoes: FC, address, quantity or value.
    out[pdu] = KNOWN_CODES[rng.below(KNOWN_CODES.length)] as number;
    out.writeUInt16BE(rng.below(0x10000), pdu + 1);
    out.writeUInt16BE(rng.below(4) === 0 ? rng.below(0x10000) : 1 + rng.below(125), pdu + 3);
    pduLength = 5;
  } else if (shape < 7) {
    // Byte-count forms, honest most of the time.
    const fcode = [15, 16, 23, 1, 3, 12, 17, 20, 21][rng.below(9)] as number;
    const n = rng.below(60);
    out[pdu] = fcode;
    const headLength = fcode === 23 ? 9 : fcode === 15 || fcode === 16 ? 5 : 1;
    for (let i = 1; i < headLength; i++) out[pdu + i] = rng.below(256);
    if (fcode === 15 || fcode === 16 || fcode === 23) out.writeUInt16BE(Math.max(1, fcode === 15 ? n * 8 : n >> 1), pdu + headLength - 2);
    out[pdu + headLength] = rng.below(8) === 0 ? rng.below(256) : n;
    for (let i = 0; i < n; i++) out[pdu + headLength + 1 + i] = rng.below(256);
    pduLength = headLength + 1 + n;
  } else if (shape < 8) {
    out[pdu] = (KNOWN_CODES[rng.below(KNOWN_CODES.length)] as number) | 0x80;
    out[pdu + 1] = rng.below(12);
    pduLength = 2;
  } else {
    pduLength = 1 + rng.below(rng.below(8) === 0 ? 253 : 24);
    for (let i = 0; i < pduLength; i++) out[pdu + i] = rng.below(256);
  }
  out.writeUInt16BE(rng.below(0x10000), start);
  out.writeUInt16BE(0, start + 2);
  out.writeUInt16BE(pduLength + 1, start + 4);
  out[start + 6] = rng.below(4);
  let end = pdu + pduLength;
  // Damage one frame in twenty: a byte anywhere, header included, or a stray byte after it.
  if (rng.below(20) === 0) out[start + rng.below(end - start)] = rng.below(256);
  if (rng.below(50) === 0) out[end++] = rng.below(256);
  return end;
}

describe('a million fuzzed frames', () => {
  it('survives a million fuzzed frames without an exception', () => {
    const FRAMES = 1_000_000;
    const BATCH = 4_096;
    const rng = new Rng(0x5eed_1234);
    const framer = new MbapFramer();
    let framed = 0;
    let framedBytes = 0;
    let anomalies = 0;
    let malformed = 0;
    let pushed = 0;
    // A plain sink, not CountingSink: a million expect() calls would be the bench, not the parser.
    const sink: FramerSink = {
      frame(frame) {
        framed += 1;
        framedBytes += 6 + frame.length;
        if (decodeRequest(frame.pdu).kind === 'malformed') malformed += 1;
        if (decodeResponse(frame.pdu).kind === 'malformed') malformed += 1;
      },
      anomaly() {
        anomalies += 1;
      },
    };
    const batch = Buffer.alloc(BATCH * 262);
    const started = performance.now();
    for (let done = 0; done < FRAMES; done += BATCH) {
      let end = 0;
      const count = Math.min(BATCH, FRAMES - done);
      for (let i = 0; i < count; i++) end = writeRandomFrame(rng, batch, end);
      // Cut the batch as TCP might: segments of 1..1460 bytes.
      for (let at = 0; at < end; ) {
        const next = Math.min(end, at + 1 + rng.below(1460));
        framer.push(batch.subarray(at, next), sink);
        at = next;
        if (framer.buffered > 259) throw new Error(`carried ${framer.buffered} bytes`);
      }
      pushed += end;
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`1,000,000 fuzzed frames: ${framed} framed, ${anomalies} framing anomalies, ${malformed} malformed decodes, ${(pushed / 1e6).toFixed(1)} MB in ${seconds.toFixed(2)} s`);
    expect(framedBytes + framer.droppedBytes + framer.buffered).toBe(pushed);
    // Most frames survive their damage or resynchronisation.
    expect(framed).toBeGreaterThan(0.9 * FRAMES);
    expect(anomalies).toBeGreaterThan(0);
  });
});
