/**
 * IP fragment reassembly for passive capture (RFC 791 §3.2 for IPv4, RFC 8200 §4.5 for
 * IPv6). Without it a Modbus write or an MQTT command sent in IP fragments would pass the
 * monitor unseen while the device, whose stack reassembles, obeys it: fragmenting is the
 * oldest way to slip past a network monitor (Ptacek and Newsham, "Insertion, Evasion, and
 * Denial of Service", 1998; RFC 1858 on overlapping fragments).
 *
 * - Overlaps: fragments may repeat bytes (a frame captured twice on a mirror port); bytes
 *   that overlap with different content are an attack on monitors, since hosts differ in
 *   which copy they keep (RFC 1858 §4, the overlapping-fragment attack). The monitor cannot
 *   know which copy the device keeps, so the datagram is dropped and reported as
 *   `ip-fragment-overlap`, never guessed at. IPv6 forbids every overlap (RFC 5722 §4) and
 *   receivers drop those datagrams; here an identical repeat is still taken, as for IPv4.
 * - Bounded (DESIGN.md, principle 3): at most `maxDatagrams` in progress and `maxBytes`
 *   held in all (the oldest datagram is dropped and counted as `ip-fragment-overflow`), at
 *   most `maxFragmentsPerDatagram` pieces each, and a datagram longer than IP allows is
 *   `ip-fragment-oversize` (the "ping of death" shape).
 * - Time is capture time: a datagram not complete `timeoutMicros` after its first fragment
 *   (30 s for IPv4, as Linux's ipfrag_time; 60 s for IPv6, RFC 8200 §4.5) is dropped and
 *   counted as `ip-fragment-incomplete`.
 * - A datagram dropped for an overlap stays dropped until its timeout: its later fragments
 *   are swallowed, so one attack is one anomaly and never a half datagram.
 */

export type IpDefragAnomalyName =
  | 'ip-fragment-overlap'     // overlapping fragments with different bytes: dropped, not guessed at
  | 'ip-fragment-oversize'    // fragments reaching past the largest datagram IP can carry
  | 'ip-fragment-incomplete'  // a datagram not complete within its timeout
  | 'ip-fragment-overflow'    // an unfinished datagram dropped because the caps were reached
  | 'ip-fragment-nested';     // a reassembled IPv6 datagram that is itself a fragment (RFC 8200 §4.1: one Fragment header)

/** One fragment as ip-tcp.ts decodes it. */
export interface IpFragment {
  readonly ipVersion: 4 | 6;
  /** Source, destination, protocol (IPv4 only: RFC 791 §3.2) and identification: what makes fragments one datagram. */
  readonly key: string;
  /** Byte offset of `data` in the datagram's fragmentable part. */
  readonly offset: number;
  /** More fragments follow (MF / M flag). */
  readonly more: boolean;
  /**
   * The whole datagram's header with the fragment fields cleared, ready to prefix the
   * reassembled data: IPv4's header with its options; IPv6's unfragmentable part with the
   * Fragment header's next header put in its place. Taken from the first fragment.
   */
  readonly header: Buffer;
  readonly data: Buffer;
}

export interface IpDefragOptions {
  readonly maxDatagrams?: number;
  readonly maxBytes?: number;
  readonly maxFragmentsPerDatagram?: number;
  readonly timeoutMicrosV4?: number;
  readonly timeoutMicrosV6?: number;
}

export const DEFAULT_MAX_DATAGRAMS = 256;
/** 4 MiB: 64 datagrams of the largest size at once, far more than any ward's device traffic fragments. */
export const DEFAULT_MAX_FRAGMENT_BYTES = 4 * 1024 * 1024;
/** 64 KiB in 1280-byte IPv6 minimum-MTU pieces is 52; smaller pieces than that are an attack. */
export const DEFAULT_MAX_FRAGMENTS_PER_DATAGRAM = 64;
const SECOND_MICROS = 1_000_000;
/** IPv4 total length and IPv6 payload length are 16 bits (RFC 791 §3.1, RFC 8200 §3). */
const MAX_DATAGRAM_BYTES = 65_535;

interface Piece {
  readonly offset: number;
  readonly data: Buffer;
}

interface Datagram {
  readonly ipVersion: 4 | 6;
  readonly firstSeenMicros: number;
  /** The first fragment's header (offset 0), once seen. */
  header: Buffer | null;
  /** Sorted by offset, no overlap between pieces (identical repeats are not stored twice). */
  readonly pieces: Piece[];
  /** Length of the fragmentable part, once the last fragment (more = false) is seen. */
  end: number | null;
  bytes: number;
  /** Dropped for an overlap: later fragments are swallowed until the timeout. */
  discarded: boolean;
}

export type DefragResult =
  | { readonly kind: 'pending' }
  | { readonly kind: 'complete'; readonly packet: Buffer }
  | { readonly kind: 'dropped' };

export type DefragAnomalySink = (name: IpDefragAnomalyName, detail: string) => void;

export class IpDefragmenter {
  /** Insertion order is the order of first fragments: the oldest is evicted and timed out first. */
  private readonly datagrams = new Map<string, Datagram>();
  private heldBytes = 0;
  private latestMicros = 0;
  private readonly maxDatagrams: number;
  private readonly maxBytes: number;
  private readonly maxFragments: number;
  private readonly timeoutV4: number;
  private readonly timeoutV6: number;

  constructor(private readonly anomaly: DefragAnomalySink, options: IpDefragOptions = {}) {
    this.maxDatagrams = options.maxDatagrams ?? DEFAULT_MAX_DATAGRAMS;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_FRAGMENT_BYTES;
    this.maxFragments = options.maxFragmentsPerDatagram ?? DEFAULT_MAX_FRAGMENTS_PER_DATAGRAM;
    this.timeoutV4 = options.timeoutMicrosV4 ?? 30 * SECOND_MICROS;
    this.timeoutV6 = options.timeoutMicrosV6 ?? 60 * SECOND_MICROS;
  }

  /** Datagrams in progress (or held as dropped until their timeout). */
  get pending(): number {
    return this.datagrams.size;
  }

  /** Bytes of fragment data held now. */
  get bytesHeld(): number {
    return this.heldBytes;
  }

  /** Takes one fragment captured at `tsMicros`; returns the whole IP packet when this fragment completed it. */
  push(fragment: IpFragment, tsMicros: number): DefragResult {
    this.latestMicros = Math.max(this.latestMicros, tsMicros);
    this.expire();
    const fragmentEnd = fragment.offset + fragment.data.length;
    if (fragmentEnd + fragment.header.length > MAX_DATAGRAM_BYTES + (fragment.ipVersion === 6 ? 40 : 0)) {
      this.drop(fragment.key, 'ip-fragment-oversize', `IPv${fragment.ipVersion} fragment at offset ${fragment.offset} of ${fragment.data.length} bytes reaches past ${MAX_DATAGRAM_BYTES} bytes`);
      return { kind: 'dropped' };
    }
    let datagram = this.datagrams.get(fragment.key);
    if (datagram === undefined) {
      datagram = { ipVersion: fragment.ipVersion, firstSeenMicros: this.latestMicros, header: null, pieces: [], end: null, bytes: 0, discarded: false };
      this.datagrams.set(fragment.key, datagram);
      this.evictBeyondCaps(fragment.key);
    }
    if (datagram.discarded) return { kind: 'dropped' };
    if (!fragment.more) {
      // Two different last fragments, or data past the end, are overlaps by another name.
      if ((datagram.end !== null && datagram.end !== fragmentEnd) || (datagram.pieces.at(-1)?.offset ?? 0) + (datagram.pieces.at(-1)?.data.length ?? 0) > fragmentEnd) {
        return this.discard(datagram, `IPv${fragment.ipVersion} datagram given two different ends`);
      }
      datagram.end = fragmentEnd;
    } else if (datagram.end !== null && fragmentEnd > datagram.end) {
      return this.discard(datagram, `IPv${fragment.ipVersion} fragment at offset ${fragment.offset} runs past the datagram's end ${datagram.end}`);
    }
    if (fragment.offset === 0) datagram.header ??= Buffer.from(fragment.header);
    const placed = this.place(datagram, fragment);
    if (placed === 'conflict') return this.discard(datagram, `IPv${fragment.ipVersion} fragments overlap at offset ${fragment.offset} with different bytes`);
    if (placed === 'too-many') {
      this.drop(fragment.key, 'ip-fragment-overflow', `IPv${fragment.ipVersion} datagram in more than ${this.maxFragments} fragments`);
      return { kind: 'dropped' };
    }
    this.evictBeyondCaps(fragment.key);
    if (!this.datagrams.has(fragment.key)) return { kind: 'dropped' };
    const whole = this.complete(datagram);
    if (whole === null) return { kind: 'pending' };
    this.forget(fragment.key, datagram);
    return { kind: 'complete', packet: whole };
  }

  /** The capture ended: whatever is unfinished is incomplete. */
  flush(): void {
    for (const [key, datagram] of [...this.datagrams]) {
      if (!datagram.discarded) this.anomaly('ip-fragment-incomplete', `IPv${datagram.ipVersion} datagram unfinished at the end of the capture (${datagram.bytes} bytes in ${datagram.pieces.length} fragments)`);
      this.forget(key, datagram);
    }
  }

  /**
   * Inserts the fragment's bytes where no piece holds them yet; bytes some piece already
   * holds must be equal. Pieces stay sorted and disjoint.
   */
  private place(datagram: Datagram, fragment: IpFragment): 'ok' | 'conflict' | 'too-many' {
    const start = fragment.offset;
    const end = start + fragment.data.length;
    const gaps: Piece[] = [];
    let cursor = start;
    for (const piece of datagram.pieces) {
      const pieceEnd = piece.offset + piece.data.length;
      if (pieceEnd <= cursor) continue;
      if (piece.offset >= end) break;
      const from = Math.max(cursor, piece.offset);
      const to = Math.min(end, pieceEnd);
      if (!fragment.data.subarray(from - start, to - start).equals(piece.data.subarray(from - piece.offset, to - piece.offset))) return 'conflict';
      if (piece.offset > cursor) gaps.push({ offset: cursor, data: fragment.data.subarray(cursor - start, piece.offset - start) });
      cursor = to;
    }
    if (cursor < end) gaps.push({ offset: cursor, data: fragment.data.subarray(cursor - start) });
    if (gaps.length === 0) return 'ok';
    if (datagram.pieces.length + gaps.length > this.maxFragments) return 'too-many';
    for (const gap of gaps) {
      // Copied: the capture reader's record buffer is reused for the next record.
      const piece = { offset: gap.offset, data: Buffer.from(gap.data) };
      const at = datagram.pieces.findIndex((existing) => existing.offset > piece.offset);
      if (at < 0) datagram.pieces.push(piece);
      else datagram.pieces.splice(at, 0, piece);
      datagram.bytes += piece.data.length;
      this.heldBytes += piece.data.length;
    }
    return 'ok';
  }

  /** The whole packet when the first and last fragments are in and no byte is missing, else null. */
  private complete(datagram: Datagram): Buffer | null {
    if (datagram.header === null || datagram.end === null) return null;
    let covered = 0;
    for (const piece of datagram.pieces) {
      if (piece.offset !== covered) return null;
      covered += piece.data.length;
    }
    if (covered !== datagram.end) return null;
    const header = Buffer.from(datagram.header);
    const packet = Buffer.concat([header, ...datagram.pieces.map((piece) => piece.data)]);
    // IPv4 total length counts the header (RFC 791 §3.1); IPv6 payload length counts what follows the 40-byte header (RFC 8200 §3).
    if (datagram.ipVersion === 4) packet.writeUInt16BE(packet.length, 2);
    else packet.writeUInt16BE(packet.length - 40, 4);
    return packet;
  }

  private discard(datagram: Datagram, detail: string): DefragResult {
    this.anomaly('ip-fragment-overlap', detail);
    this.heldBytes -= datagram.bytes;
    datagram.pieces.length = 0;
    datagram.bytes = 0;
    // Kept, holding no bytes, as a tombstone until its timeout.
    datagram.discarded = true;
    return { kind: 'dropped' };
  }

  private drop(key: string, name: IpDefragAnomalyName, detail: string): void {
    this.anomaly(name, detail);
    const datagram = this.datagrams.get(key);
    if (datagram !== undefined) this.forget(key, datagram);
  }

  private forget(key: string, datagram: Datagram): void {
    this.heldBytes -= datagram.bytes;
    this.datagrams.delete(key);
  }

  private expire(): void {
    for (const [key, datagram] of this.datagrams) {
      const timeout = datagram.ipVersion === 4 ? this.timeoutV4 : this.timeoutV6;
      // Oldest first; a datagram of the other IP version with a longer timeout may hold the line a little, which only delays the check.
      if (this.latestMicros - datagram.firstSeenMicros < Math.min(this.timeoutV4, this.timeoutV6)) break;
      if (this.latestMicros - datagram.firstSeenMicros < timeout) continue;
      if (!datagram.discarded) this.anomaly('ip-fragment-incomplete', `IPv${datagram.ipVersion} datagram not complete after ${timeout / SECOND_MICROS} s (${datagram.bytes} bytes in ${datagram.pieces.length} fragments)`);
      this.forget(key, datagram);
    }
  }

  /** Drops the oldest datagrams other than `keep` while a cap is exceeded. */
  private evictBeyondCaps(keep: string): void {
    for (const [key, datagram] of this.datagrams) {
      if (this.datagrams.size <= this.maxDatagrams && this.heldBytes <= this.maxBytes) return;
      if (key === keep) continue;
      if (!datagram.discarded) this.anomaly('ip-fragment-overflow', `IPv${datagram.ipVersion} datagram dropped unfinished: more than ${this.maxDatagrams} datagrams or ${this.maxBytes} bytes of fragments held`);
      this.forget(key, datagram);
    }
    // Only `keep` is left and it alone exceeds the byte cap.
    const kept = this.datagrams.get(keep);
    if (this.heldBytes > this.maxBytes && kept !== undefined) this.drop(keep, 'ip-fragment-overflow', `IPv${kept.ipVersion} datagram alone holds more than ${this.maxBytes} bytes of fragments`);
  }
}
