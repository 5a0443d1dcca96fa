/**
 * Incremental reader of capture files and streams: classic pcap (draft-ietf-opsawg-pcap;
 * both byte orders, microsecond and nanosecond magic) and pcapng
 * (draft-ietf-opsawg-pcapng; sections of either byte order, IDB with `if_tsresol` and
 * `if_tsoffset`, EPB, SPB, the obsolete Packet Block; every other block skipped).
 *
 * Bytes arrive in chunks of any size (a file read at once, or a live `tcpdump -U -w -`
 * pipe), so the reader keeps at most one incomplete record: its buffer is bounded by
 * `maxRecordBytes` plus a header (DESIGN.md, principle 3). Bad input is reported as a
 * named anomaly and never thrown (principle 2).
 */

export type CaptureAnomalyName =
  | 'pcap-bad-magic'         // the stream starts with neither a pcap magic nor a pcapng SHB
  | 'pcap-truncated-record'  // the input ended inside a file header, record or block
  | 'pcap-record-too-large'  // a record's captured length is above the cap; it is skipped unread
  | 'pcapng-bad-block';      // a pcapng block whose framing or fields do not hold together

export interface CaptureRecord {
  /** LINKTYPE_* value of the interface (https://www.tcpdump.org/linktypes.html). */
  readonly linkType: number;
  /**
   * Capture time in whole microseconds since 1970-01-01 UTC. A pcapng Simple Packet
   * Block has no timestamp: it carries the time of the previous record of its section
   * (0 before the first).
   */
  readonly tsMicros: number;
  /**
   * The captured bytes. They may share memory with the chunk given to `push`; a consumer
   * that keeps them beyond the callback while the producer reuses its buffers must copy.
   */
  readonly data: Buffer;
  /** Length of the packet on the wire; more than `data.length` when the snaplen cut it. */
  readonly originalLength: number;
}

export interface CaptureReaderSink {
  record(record: CaptureRecord): void;
  anomaly(name: CaptureAnomalyName, detail: string): void;
}

export interface CaptureReaderOptions {
  /** Largest captured length delivered; a larger record is skipped and reported. */
  readonly maxRecordBytes?: number;
}

/** 256 KiB: tcpdump's default snaplen (262,144) still fits. */
export const DEFAULT_MAX_RECORD_BYTES = 256 * 1024;

export type CaptureFormat = 'pcap' | 'pcapng';

// Classic pcap magic numbers as read big-endian (draft-ietf-opsawg-pcap §4).
const PCAP_MICROS_BE = 0xa1b2c3d4;
const PCAP_MICROS_LE = 0xd4c3b2a1;
const PCAP_NANOS_BE = 0xa1b23c4d;
const PCAP_NANOS_LE = 0x4d3cb2a1;
const PCAP_FILE_HEADER_BYTES = 24;
const PCAP_RECORD_HEADER_BYTES = 16;

// pcapng block types (draft-ietf-opsawg-pcapng §4, §10.1).
const BLOCK_SHB = 0x0a0d0d0a;
const BLOCK_IDB = 0x00000001;
const BLOCK_OPB = 0x00000002; // obsolete Packet Block (Appendix A), still written by old tools
const BLOCK_SPB = 0x00000003;
const BLOCK_EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const SHB_MAGIC_BYTES = Buffer.from([0x0a, 0x0d, 0x0d, 0x0a]);
/** Block type, total length, byte-order magic: what it takes to frame an SHB. */
const SHB_PREFIX_BYTES = 12;
/** Room for a block's header, fixed fields and options around a record at the cap. */
const BLOCK_OVERHEAD_ALLOWANCE = 4096;

const OPT_END = 0;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;

/** Timestamp conversion of one pcapng interface. */
interface PcapngInterface {
  readonly linkType: number;
  readonly snapLength: number;
  /** Timestamp units per second (10^n or 2^n, `if_tsresol`, §4.2). */
  readonly unitsPerSecond: bigint;
  readonly microsPerUnit: number | null; // exact fast path when units are whole µs multiples
  readonly offsetMicros: number;
}

type State =
  | 'magic'          // first 4 bytes decide the format
  | 'pcap-header'    // 24-byte classic file header
  | 'pcap-record'    // 16-byte record header, then the data
  | 'pcapng-block'   // a block, framed by its total length
  | 'pcapng-resync'  // framing lost: look for the next Section Header Block
  | 'dead';          // not a capture: everything after is ignored

/**
 * Reads records from pushed chunks and hands each to `sink.record`, synchronously and in
 * file order. Call `end()` once the input is complete so that a truncated tail is
 * reported.
 */
export class CaptureReader {
  private state: State = 'magic';
  private formatValue: CaptureFormat | null = null;
  private readonly maxRecordBytes: number;

  /** Held bytes of an incomplete header, record or block (always fewer than `need`). */
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** Bytes the current step needs from the start of `pending` before it can progress. */
  private need = 4;
  /** Bytes of an oversized record or uninteresting block still to be passed over. */
  private skip = 0;
  private skipIsRecord = false;

  // Classic pcap section state.
  private littleEndian = true;
  private nanoseconds = false;
  private pcapLinkType = 0;

  // pcapng section state.
  private interfaces: PcapngInterface[] = [];
  private lastTsMicros = 0;

  /** Records delivered so far. */
  records = 0;
  /** Bytes consumed so far (delivered, skipped or discarded). */
  bytesRead = 0;

  constructor(
    private readonly sink: CaptureReaderSink,
    options: CaptureReaderOptions = {},
  ) {
    this.maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  }

  /** The format of the stream, once its first bytes are known. */
  get format(): CaptureFormat | null {
    return this.formatValue;
  }

  /** Bytes held waiting for the rest of a record. */
  get bufferedBytes(): number {
    return this.pendingLength;
  }

  push(chunk: Buffer): void {
    if (this.state === 'dead' || chunk.length === 0) return;
    let data: Buffer;
    if (this.pendingLength === 0) {
      data = chunk;
    } else if (this.skip === 0 && this.pendingLength + chunk.length < this.need) {
      // Still short: hold the chunk without copying so many tiny pushes cost O(n), not O(n²).
      this.pending.push(Buffer.from(chunk));
      this.pendingLength += chunk.length;
      return;
    } else {
      this.pending.push(chunk);
      data = Buffer.concat(this.pending, this.pendingLength + chunk.length);
      this.pending = [];
      this.pendingLength = 0;
    }

    let offset = 0;
    while (offset < data.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, data.length - offset);
        this.skip -= n;
        offset += n;
        continue;
      }
      const consumed = this.step(data, offset);
      if (consumed < 0) break;
      offset += consumed;
      // `step` may have changed the state; TypeScript still narrows it from the check above.
      if ((this.state as State) === 'dead') {
        offset = data.length;
        break;
      }
    }
    this.bytesRead += offset;
    if (offset < data.length) {
      // Copy the tail: it is bounded by one record, while `data` may be a large chunk.
      const rest = Buffer.from(data.subarray(offset));
      this.pending = [rest];
      this.pendingLength = rest.length;
    }
  }

  /** The input is complete: report a record, block or header left unfinished. */
  end(): void {
    if (this.state === 'dead' || this.state === 'pcapng-resync') return;
    if (this.skip > 0) {
      this.sink.anomaly('pcap-truncated-record', `input ended ${this.skip} bytes before the end of a skipped ${this.skipIsRecord ? 'record' : 'block'}`);
    } else if (this.pendingLength > 0) {
      const what = this.state === 'magic' || this.state === 'pcap-header' ? 'file header' : this.state === 'pcap-record' ? 'record' : 'block';
      this.sink.anomaly('pcap-truncated-record', `input ended inside a ${what}: ${this.pendingLength} of ${this.need} bytes`);
    }
    this.pending = [];
    this.pendingLength = 0;
    this.skip = 0;
  }

  /**
   * One parsing step at `offset`: returns the bytes consumed (0 when only the state
   * changed), or -1 after setting `need` when more bytes are required.
   */
  private step(data: Buffer, offset: number): number {
    switch (this.state) {
      case 'magic': return this.readMagic(data, offset);
      case 'pcap-header': return this.readPcapHeader(data, offset);
      case 'pcap-record': return this.readPcapRecord(data, offset);
      case 'pcapng-block': return this.readBlock(data, offset);
      case 'pcapng-resync': return this.resync(data, offset);
      case 'dead': return data.length - offset;
    }
  }

  private needMore(bytes: number): number {
    this.need = bytes;
    return -1;
  }

  private readMagic(data: Buffer, offset: number): number {
    if (data.length - offset < 4) return this.needMore(4);
    const magic = data.readUInt32BE(offset);
    switch (magic) {
      case PCAP_MICROS_BE: case PCAP_MICROS_LE: case PCAP_NANOS_BE: case PCAP_NANOS_LE:
        this.formatValue = 'pcap';
        this.littleEndian = magic === PCAP_MICROS_LE || magic === PCAP_NANOS_LE;
        this.nanoseconds = magic === PCAP_NANOS_BE || magic === PCAP_NANOS_LE;
        this.state = 'pcap-header';
        return 0;
      case BLOCK_SHB:
        this.formatValue = 'pcapng';
        this.state = 'pcapng-block';
        return 0;
      default:
        this.sink.anomaly('pcap-bad-magic', `first bytes 0x${magic.toString(16).padStart(8, '0')} are neither a pcap magic nor a pcapng Section Header Block`);
        this.state = 'dead';
        return 0;
    }
  }

  private u32(data: Buffer, offset: number): number {
    return this.littleEndian ? data.readUInt32LE(offset) : data.readUInt32BE(offset);
  }

  private u16(data: Buffer, offset: number): number {
    return this.littleEndian ? data.readUInt16LE(offset) : data.readUInt16BE(offset);
  }

  // ---- classic pcap -------------------------------------------------------------------

  private readPcapHeader(data: Buffer, offset: number): number {
    if (data.length - offset < PCAP_FILE_HEADER_BYTES) return this.needMore(PCAP_FILE_HEADER_BYTES);
    // magic(4) version(2+2) thiszone(4) sigfigs(4) snaplen(4) linktype(4). The upper bits
    // of the link-type field carry FCS information (§4); libpcap masks them the same way
    // (LT_LINKTYPE in pcap-common.h).
    this.pcapLinkType = this.u32(data, offset + 20) & 0x03ff_ffff;
    this.state = 'pcap-record';
    return PCAP_FILE_HEADER_BYTES;
  }

  private readPcapRecord(data: Buffer, offset: number): number {
    const available = data.length - offset;
    if (available < PCAP_RECORD_HEADER_BYTES) return this.needMore(PCAP_RECORD_HEADER_BYTES);
    const capturedLength = this.u32(data, offset + 8);
    if (capturedLength > this.maxRecordBytes) {
      // A length this large is either a record above the cap or a corrupt header; in both
      // cases the record is passed over without being buffered.
      this.sink.anomaly('pcap-record-too-large', `record ${this.records + 1}: captured length ${capturedLength} above the cap of ${this.maxRecordBytes}`);
      this.skip = capturedLength;
      this.skipIsRecord = true;
      return PCAP_RECORD_HEADER_BYTES;
    }
    const total = PCAP_RECORD_HEADER_BYTES + capturedLength;
    if (available < total) return this.needMore(total);
    const seconds = this.u32(data, offset);
    const fraction = this.u32(data, offset + 4);
    const tsMicros = seconds * 1_000_000 + (this.nanoseconds ? Math.floor(fraction / 1000) : fraction);
    this.emit(this.pcapLinkType, tsMicros, data.subarray(offset + PCAP_RECORD_HEADER_BYTES, offset + total), this.u32(data, offset + 12));
    return total;
  }

  private emit(linkType: number, tsMicros: number, bytes: Buffer, originalLength: number): void {
    this.records += 1;
    this.lastTsMicros = tsMicros;
    this.sink.record({ linkType, tsMicros, data: bytes, originalLength });
  }

  // ---- pcapng -------------------------------------------------------------------------

  private badBlock(detail: string, resync: boolean): void {
    this.sink.anomaly('pcapng-bad-block', detail);
    if (resync) {
      this.state = 'pcapng-resync';
      this.interfaces = [];
    }
  }

  private readBlock(data: Buffer, offset: number): number {
    const available = data.length - offset;
    if (available < 8) return this.needMore(8);
    const type = data.readUInt32BE(offset); // the SHB type reads the same in both orders
    if (type === BLOCK_SHB) {
      if (available < SHB_PREFIX_BYTES) return this.needMore(SHB_PREFIX_BYTES);
      // The byte-order magic sets the order of everything in the section (§4.1).
      if (data.readUInt32LE(offset + 8) === BYTE_ORDER_MAGIC) this.littleEndian = true;
      else if (data.readUInt32BE(offset + 8) === BYTE_ORDER_MAGIC) this.littleEndian = false;
      else {
        this.badBlock('Section Header Block without a valid byte-order magic', true);
        return 1; // this was not an SHB after all: search on from the next byte
      }
    }
    const blockType = type === BLOCK_SHB ? type : this.u32(data, offset);
    const totalLength = this.u32(data, offset + 4);
    // §3.1: a block is at least 12 bytes and its length a multiple of 4; an SHB at least 28.
    if (totalLength < 12 || totalLength % 4 !== 0 || (blockType === BLOCK_SHB && totalLength < 28)) {
      this.badBlock(`block type 0x${blockType.toString(16)} with total length ${totalLength}`, true);
      return blockType === BLOCK_SHB ? 1 : 0;
    }
    const isPacket = blockType === BLOCK_EPB || blockType === BLOCK_SPB || blockType === BLOCK_OPB;
    const needed = blockType === BLOCK_SHB || blockType === BLOCK_IDB || isPacket;
    if (!needed) {
      // Name resolution, statistics, secrets, custom and unknown blocks: passed over
      // unread, whatever their size (§3.1: a reader skips blocks it does not know).
      this.skip = totalLength - 8;
      this.skipIsRecord = false;
      return 8;
    }
    if (totalLength > this.maxRecordBytes + BLOCK_OVERHEAD_ALLOWANCE) {
      if (isPacket) {
        this.sink.anomaly('pcap-record-too-large', `block type ${blockType} of ${totalLength} bytes above the cap of ${this.maxRecordBytes}`);
      } else {
        this.sink.anomaly('pcapng-bad-block', `${blockType === BLOCK_SHB ? 'section' : 'interface'} header block of ${totalLength} bytes`);
        // Its packets cannot be read without it; they are reported as they come.
        if (blockType === BLOCK_SHB) this.interfaces = [];
      }
      this.skip = totalLength - 8;
      this.skipIsRecord = isPacket;
      return 8;
    }
    if (available < totalLength) return this.needMore(totalLength);
    if (this.u32(data, offset + totalLength - 4) !== totalLength) {
      this.badBlock(`block type 0x${blockType.toString(16)}: trailing length ${this.u32(data, offset + totalLength - 4)} ≠ leading length ${totalLength}`, true);
      return blockType === BLOCK_SHB ? 1 : 0;
    }
    const body = data.subarray(offset + 8, offset + totalLength - 4);
    switch (blockType) {
      case BLOCK_SHB: this.readSectionHeader(body); break;
      case BLOCK_IDB: this.readInterface(body); break;
      case BLOCK_EPB: this.readEnhancedPacket(body); break;
      case BLOCK_SPB: this.readSimplePacket(body); break;
      default: this.readObsoletePacket(body); break;
    }
    // The framing held, so the next block starts after this one even when its content
    // was bad (an unknown section version resynchronises from here).
    return totalLength;
  }

  private readSectionHeader(body: Buffer): void {
    // byte-order magic(4) major(2) minor(2) section length(8) options
    const major = this.u16(body, 4);
    this.interfaces = [];
    this.lastTsMicros = 0;
    if (major !== 1) {
      // §4.1: a reader must not read a section whose major version it does not know.
      this.badBlock(`section of unknown major version ${major}: skipped up to the next section`, true);
    }
  }

  private readInterface(body: Buffer): void {
    if (body.length < 8) {
      this.badBlock(`Interface Description Block body of ${body.length} bytes`, false);
      return;
    }
    const linkType = this.u16(body, 0);
    const snapLength = this.u32(body, 4);
    let unitsPerSecond = 1_000_000n;
    let offsetMicros = 0;
    // Options (§3.5): code(2) length(2) value padded to 32 bits, up to opt_endofopt.
    let at = 8;
    while (at + 4 <= body.length) {
      const code = this.u16(body, at);
      const length = this.u16(body, at + 2);
      if (code === OPT_END) break;
      const value = at + 4;
      if (value + length > body.length) {
        this.sink.anomaly('pcapng-bad-block', `interface ${this.interfaces.length}: option ${code} runs past the block`);
        break;
      }
      if (code === OPT_IF_TSRESOL && length >= 1) {
        const resolution = body[value] ?? 6;
        // §4.2 if_tsresol: high bit clear → 10^-n s, set → 2^-n s.
        const exponent = BigInt(resolution & 0x7f);
        unitsPerSecond = (resolution & 0x80) === 0 ? 10n ** exponent : 2n ** exponent;
      } else if (code === OPT_IF_TSOFFSET && length >= 8) {
        const seconds = this.littleEndian ? body.readBigInt64LE(value) : body.readBigInt64BE(value);
        offsetMicros = Number(seconds) * 1_000_000;
      }
      at = value + length + ((4 - (length % 4)) % 4);
    }
    const microsPerUnit = 1_000_000n % unitsPerSecond === 0n ? Number(1_000_000n / unitsPerSecond) : null;
    this.interfaces.push({ linkType, snapLength, unitsPerSecond, microsPerUnit, offsetMicros });
  }

  private timestamp(iface: PcapngInterface, high: number, low: number): number {
    // The 64-bit count of units since 1970 (§4.3). Whole-µs units stay exact as doubles;
    // finer units (ns: ~1.7e18) exceed 2^53 and go through BigInt.
    if (iface.microsPerUnit !== null && high < 0x20_0000) {
      return (high * 0x1_0000_0000 + low) * iface.microsPerUnit + iface.offsetMicros;
    }
    const units = (BigInt(high) << 32n) | BigInt(low);
    return Number((units * 1_000_000n) / iface.unitsPerSecond) + iface.offsetMicros;
  }

  private readEnhancedPacket(body: Buffer): void {
    // interface id(4) timestamp high(4) low(4) captured length(4) original length(4) data
    if (body.length < 20) {
      this.badBlock(`Enhanced Packet Block body of ${body.length} bytes`, false);
      return;
    }
    this.packet(this.u32(body, 0), this.u32(body, 4), this.u32(body, 8), this.u32(body, 12), this.u32(body, 16), body, 20, 'Enhanced Packet Block');
  }

  private readObsoletePacket(body: Buffer): void {
    // interface id(2) drops count(2) timestamp high(4) low(4) captured length(4) length(4) data
    if (body.length < 20) {
      this.badBlock(`Packet Block body of ${body.length} bytes`, false);
      return;
    }
    this.packet(this.u16(body, 0), this.u32(body, 4), this.u32(body, 8), this.u32(body, 12), this.u32(body, 16), body, 20, 'Packet Block');
  }

  private packet(interfaceId: number, high: number, low: number, capturedLength: number, originalLength: number, body: Buffer, dataOffset: number, what: string): void {
    const iface = this.interfaces[interfaceId];
    if (iface === undefined) {
      this.badBlock(`${what} for interface ${interfaceId}, which no Interface Description Block of this section declares`, false);
      return;
    }
    if (capturedLength > body.length - dataOffset) {
      this.badBlock(`${what}: captured length ${capturedLength} exceeds the block`, false);
      return;
    }
    if (capturedLength > this.maxRecordBytes) {
      this.sink.anomaly('pcap-record-too-large', `${what}: captured length ${capturedLength} above the cap of ${this.maxRecordBytes}`);
      return;
    }
    const tsMicros = this.timestamp(iface, high, low);
    this.emit(iface.linkType, tsMicros, body.subarray(dataOffset, dataOffset + capturedLength), originalLength);
  }

  private readSimplePacket(body: Buffer): void {
    // original length(4) data; the captured length is implied (§4.4)
    const iface = this.interfaces[0];
    if (iface === undefined || body.length < 4) {
      this.badBlock(iface === undefined ? 'Simple Packet Block without an interface 0' : `Simple Packet Block body of ${body.length} bytes`, false);
      return;
    }
    const originalLength = this.u32(body, 0);
    let capturedLength = Math.min(originalLength, body.length - 4);
    if (iface.snapLength > 0) capturedLength = Math.min(capturedLength, iface.snapLength);
    if (capturedLength > this.maxRecordBytes) {
      this.sink.anomaly('pcap-record-too-large', `Simple Packet Block: captured length ${capturedLength} above the cap of ${this.maxRecordBytes}`);
      return;
    }
    this.emit(iface.linkType, this.lastTsMicros, body.subarray(4, 4 + capturedLength), originalLength);
  }

  /** After a framing error: discard bytes up to the next SHB with a valid byte-order magic. */
  private resync(data: Buffer, offset: number): number {
    const available = data.length - offset;
    if (available < SHB_PREFIX_BYTES) return this.needMore(SHB_PREFIX_BYTES);
    const found = data.indexOf(SHB_MAGIC_BYTES, offset);
    if (found < 0 || found + SHB_PREFIX_BYTES > data.length) {
      // Keep the last 11 bytes: a section header may begin there.
      const keepFrom = found < 0 ? data.length - (SHB_PREFIX_BYTES - 1) : found;
      if (keepFrom > offset) return keepFrom - offset;
      return this.needMore(SHB_PREFIX_BYTES);
    }
    if (found > offset) return found - offset;
    const bom = data.readUInt32LE(offset + 8);
    if (bom === BYTE_ORDER_MAGIC || data.readUInt32BE(offset + 8) === BYTE_ORDER_MAGIC) {
      this.state = 'pcapng-block';
      return 0;
    }
    return 1;
  }
}
