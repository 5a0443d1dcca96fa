import type { FramerSink, ModbusAdu, ModbusAnomalyName } from './types.ts';

/**
 * Incremental MBAP framing of ONE direction of one TCP stream (Modbus Messaging on TCP/IP
 * Implementation Guide v1.0b §3.1.3). Bytes go in as they arrive, in chunks of any size;
 * each complete ADU comes out through `sink.frame`, bad input through `sink.anomaly`. It
 * never throws on input, never loops, and every byte pushed is either framed, carried
 * (a bounded partial header or ADU) or dropped (DESIGN.md, principles 2 and 3).
 *
 * MBAP header: transaction id (2), protocol id (2, always 0 for Modbus), length (2: the
 * bytes that follow it, unit id + PDU), unit id (1); big-endian (App Proto §4.2).
 *
 * Validity: protocol id 0 and length 2..254 (unit id + function code at least; the PDU
 * is at most 253 bytes, App Proto §4.1). Anything else is an anomaly, after which the
 * framer resynchronises: it drops bytes, one at a time and silently, until the next
 * plausible header (protocol id 0, valid length); one anomaly is reported per episode.
 *
 * Copies: an ADU lying wholly inside one chunk is handed out as a view of that chunk
 * (`pdu` is a `subarray`, no copy). Only an ADU split across chunks is assembled, in a
 * buffer of its own that is handed out as is. So the caller must not reuse or mutate a
 * chunk while it (or anything a sink kept from it) is in use; copy what you keep.
 *
 * Bounds: carried bytes are a partial header (≤ 5 bytes) or a partial ADU (< 260 bytes),
 * so a stream never needs more than 259 bytes of state. `maxBufferBytes` bounds that
 * further: a split ADU larger than it is refused with an `oversize` anomaly and its
 * remaining bytes, whose count the header gave, are discarded as they arrive; framing
 * resumes after them.
 *
 * Exceptions thrown by the sink propagate; the framer's state stays consistent (nothing
 * of the current chunk after the throwing frame is framed).
 */

/** transaction id + protocol id + length: the bytes before the part the length counts. */
const PREFIX_BYTES = 6;
/** The whole MBAP header, unit id included (Implementation Guide §3.1.3). */
export const MBAP_HEADER_BYTES = 7;
/** Unit id + function code. */
export const MIN_MBAP_LENGTH = 2;
/** Unit id + the largest PDU, 253 bytes (App Proto §4.1). */
export const MAX_MBAP_LENGTH = 254;
/** 260 bytes: the largest Modbus/TCP ADU (App Proto §4.1). */
export const MAX_ADU_BYTES = PREFIX_BYTES + MAX_MBAP_LENGTH;
export const DEFAULT_MAX_BUFFER_BYTES = 8 * 1024;

export interface MbapFramerOptions {
  /**
   * Most bytes one stream may hold between pushes (default 8 KiB, at least 8). A split
   * ADU larger than this is refused (`oversize`). Because an ADU is at most 260 bytes,
   * only a value below that ever refuses a well-formed ADU.
   */
  readonly maxBufferBytes?: number;
}

// Header verdicts: a plain number so the hot path allocates nothing.
const PLAUSIBLE = 0;
const BAD_PROTOCOL_ID = 1;
const LENGTH_TOO_LONG = 2;
const LENGTH_TOO_SHORT = 3;
type Verdict = typeof PLAUSIBLE | typeof BAD_PROTOCOL_ID | typeof LENGTH_TOO_LONG | typeof LENGTH_TOO_SHORT;

/**
 * Judges the first `available` (≤ 6) bytes of a header at `at`. A prefix is plausible when
 * every byte present can belong to a valid header, so a short tail is judged as soon as
 * it can be, not when the rest arrives.
 */
function headerVerdict(buf: Buffer, at: number, available: number): Verdict {
  // Protocol id, bytes 2–3: must be 0 (Implementation Guide §3.1.3).
  if (available > 2 && buf[at + 2] !== 0) return BAD_PROTOCOL_ID;
  if (available > 3 && buf[at + 3] !== 0) return BAD_PROTOCOL_ID;
  // Length, bytes 4–5: 2..254, so the high byte must be 0.
  if (available > 4 && buf[at + 4] !== 0) return LENGTH_TOO_LONG;
  if (available > 5) {
    const length = buf[at + 5] as number;
    if (length < MIN_MBAP_LENGTH) return LENGTH_TOO_SHORT;
    if (length > MAX_MBAP_LENGTH) return LENGTH_TOO_LONG;
  }
  return PLAUSIBLE;
}

function hex(buf: Buffer, from: number, to: number): string {
  return `0x${buf.toString('hex', from, to)}${to - from < 2 ? '..' : ''}`;
}

/** The anomaly name and a sentence for the engineer; built only when an episode starts. */
function describe(verdict: Verdict, buf: Buffer, at: number, available: number, streamByte: number): [ModbusAnomalyName, string] {
  const where = `at stream byte ${streamByte}`;
  switch (verdict) {
    case BAD_PROTOCOL_ID:
      return ['invalid-protocol-id', `MBAP protocol id ${hex(buf, at + 2, at + Math.min(available, 4))} ${where}, expected 0 (Implementation Guide §3.1.3); resynchronising`];
    case LENGTH_TOO_LONG: {
      const length = available > 5 ? String(buf.readUInt16BE(at + 4)) : '≥ 256';
      return ['oversize', `MBAP length ${length} ${where} is above ${MAX_MBAP_LENGTH} (PDU ≤ 253 bytes, App Proto §4.1); resynchronising`];
    }
    default:
      return ['length-mismatch', `MBAP length ${buf[at + 5] ?? '?'} ${where} is below ${MIN_MBAP_LENGTH} (unit id + function code); resynchronising`];
  }
}

export class MbapFramer {
  readonly #maxBufferBytes: number;
  /** A plausible partial header (1–5 bytes) carried to the next push. */
  readonly #head = Buffer.alloc(PREFIX_BYTES);
  #headLength = 0;
  /** A split ADU whose header is known, assembled in its own buffer, and its fill. */
  #frame: Buffer | null = null;
  #frameFill = 0;
  /** Bytes of a refused ADU still to discard. */
  #skip = 0;
  /** Inside a resynchronisation episode: bad headers are dropped without a new report. */
  #resyncing = false;
  /** Stream offset of the next chunk's first byte, for anomaly details. */
  #streamOffset = 0;
  #droppedBytes = 0;

  constructor(options: MbapFramerOptions = {}) {
    const max = options.maxBufferBytes ?? DEFAULT_MAX_BUFFER_BYTES;
    if (!Number.isInteger(max) || max < PREFIX_BYTES + MIN_MBAP_LENGTH) {
      throw new RangeError(`maxBufferBytes must be an integer ≥ ${PREFIX_BYTES + MIN_MBAP_LENGTH} (the smallest ADU), got ${max}`);
    }
    this.#maxBufferBytes = max;
  }

  /** Bytes held until the next push (a partial header or ADU); never above maxBufferBytes. */
  get buffered(): number {
    return this.#frame !== null ? this.#frameFill : this.#headLength;
  }

  /** Bytes dropped so far: resynchronisation and refused ADUs. For health counters. */
  get droppedBytes(): number {
    return this.#droppedBytes;
  }

  /** Forgets everything: for a new stream, or after a gap in the capture. */
  reset(): void {
    this.#headLength = 0;
    this.#frame = null;
    this.#frameFill = 0;
    this.#skip = 0;
    this.#resyncing = false;
    this.#streamOffset = 0;
    this.#droppedBytes = 0;
  }

  push(chunk: Buffer, sink: FramerSink): void {
    const length = chunk.length;
    const base = this.#streamOffset;
    this.#streamOffset += length;
    let at = 0;
    if (this.#skip > 0) {
      at = Math.min(this.#skip, length);
      this.#skip -= at;
      this.#droppedBytes += at;
      if (this.#skip > 0) return;
    }
    if (this.#frame !== null) {
      at = this.#fillFrame(chunk, at, sink);
      if (this.#frame !== null) return; // still incomplete: the whole chunk went into it
    } else if (this.#headLength > 0) {
      at = this.#finishHead(chunk, at, base, sink);
      if (at < 0) return; // the whole chunk was carried
    }
    this.#scan(chunk, at, base, sink);
  }

  /** Frames `chunk` from `at` without copying; carries a partial tail. */
  #scan(chunk: Buffer, at: number, base: number, sink: FramerSink): void {
    const end = chunk.length;
    while (at < end) {
      const available = end - at >= PREFIX_BYTES ? PREFIX_BYTES : end - at;
      const verdict = headerVerdict(chunk, at, available);
      if (verdict !== PLAUSIBLE) {
        this.#drop(verdict, chunk, at, available, base + at, sink);
        at += 1;
        continue;
      }
      if (available < PREFIX_BYTES) {
        chunk.copy(this.#head, 0, at, end);
        this.#headLength = end - at;
        return;
      }
      this.#resyncing = false;
      const frameEnd = at + PREFIX_BYTES + (chunk[at + 5] as number);
      if (frameEnd > end) {
        this.#carry(chunk, at, end, null, 0, frameEnd - at, base + at, sink);
        return;
      }
      this.#emit(chunk, at, frameEnd, sink);
      at = frameEnd;
    }
  }

  /**
   * Completes the carried partial header with up to 6 bytes of `chunk` and looks for the
   * first plausible header starting inside the carried bytes. Returns where framing of
   * `chunk` resumes, or -1 when the whole chunk was carried.
   */
  #finishHead(chunk: Buffer, at: number, base: number, sink: FramerSink): number {
    const headLength = this.#headLength;
    const take = Math.min(PREFIX_BYTES, chunk.length - at);
    // At most 11 bytes: every start inside the carried bytes gets a whole header window.
    const joined = Buffer.allocUnsafe(headLength + take);
    this.#head.copy(joined, 0, 0, headLength);
    chunk.copy(joined, headLength, at, at + take);
    this.#headLength = 0;
    const joinedBase = base + at - headLength;
    for (let start = 0; start < headLength; start++) {
      const available = Math.min(PREFIX_BYTES, joined.length - start);
      const verdict = headerVerdict(joined, start, available);
      if (verdict !== PLAUSIBLE) {
        this.#drop(verdict, joined, start, available, joinedBase + start, sink);
        continue;
      }
      if (available < PREFIX_BYTES) {
        // The chunk ran out before the header did: carry the plausible prefix on.
        joined.copy(this.#head, 0, start);
        this.#headLength = joined.length - start;
        return -1;
      }
      this.#resyncing = false;
      const frameLength = PREFIX_BYTES + (joined[start + 5] as number);
      const carried = headLength - start;
      if (carried + chunk.length - at >= frameLength) {
        const frame = Buffer.allocUnsafe(frameLength);
        joined.copy(frame, 0, start, headLength);
        const fromChunk = frameLength - carried;
        chunk.copy(frame, carried, at, at + fromChunk);
        this.#emit(frame, 0, frameLength, sink);
        return at + fromChunk;
      }
      this.#carry(joined, start, headLength, chunk, at, frameLength, joinedBase + start, sink);
      return -1;
    }
    return at; // no plausible header starts in the carried bytes: they are dropped
  }

  /** Adds `chunk` bytes from `at` to the split ADU; emits it when complete. */
  #fillFrame(chunk: Buffer, at: number, sink: FramerSink): number {
    const frame = this.#frame as Buffer;
    const take = Math.min(frame.length - this.#frameFill, chunk.length - at);
    chunk.copy(frame, this.#frameFill, at, at + take);
    this.#frameFill += take;
    if (this.#frameFill === frame.length) {
      this.#frame = null;
      this.#frameFill = 0;
      this.#emit(frame, 0, frame.length, sink);
    }
    return at + take;
  }

  /**
   * Starts assembling a split ADU of `frameLength` bytes from `first[firstStart,
   * firstEnd)` followed by `rest[restStart..]` (the rest of the chunk, when the ADU began
   * in carried bytes), or refuses it when it exceeds the buffer cap.
   */
  #carry(
    first: Buffer, firstStart: number, firstEnd: number,
    rest: Buffer | null, restStart: number,
    frameLength: number, streamByte: number, sink: FramerSink,
  ): void {
    const fromFirst = firstEnd - firstStart;
    const have = fromFirst + (rest === null ? 0 : rest.length - restStart);
    if (frameLength > this.#maxBufferBytes) {
      this.#skip = frameLength - have;
      this.#droppedBytes += have;
      sink.anomaly(
        'oversize',
        `ADU of ${frameLength} bytes at stream byte ${streamByte} is split across segments and exceeds the ${this.#maxBufferBytes}-byte buffer cap; it is discarded`,
      );
      return;
    }
    const frame = Buffer.allocUnsafe(frameLength);
    first.copy(frame, 0, firstStart, firstEnd);
    if (rest !== null) rest.copy(frame, fromFirst, restStart);
    this.#frame = frame;
    this.#frameFill = have;
  }

  /** Drops one byte under a bad header; reports only the first of an episode. */
  #drop(verdict: Verdict, buf: Buffer, at: number, available: number, streamByte: number, sink: FramerSink): void {
    this.#droppedBytes += 1;
    if (this.#resyncing) return;
    this.#resyncing = true;
    const [name, detail] = describe(verdict, buf, at, available, streamByte);
    sink.anomaly(name, detail);
  }

  #emit(buf: Buffer, start: number, end: number, sink: FramerSink): void {
    const adu: ModbusAdu = {
      transactionId: ((buf[start] as number) << 8) | (buf[start + 1] as number),
      protocolId: 0,
      length: buf[start + 5] as number,
      unitId: buf[start + 6] as number,
      functionCode: buf[start + 7] as number,
      pdu: buf.subarray(start + MBAP_HEADER_BYTES, end),
    };
    sink.frame(adu);
  }
}
