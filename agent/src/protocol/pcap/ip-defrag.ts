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
 *   `ip-fragment-overlap`, never guessed at. Later fragments under the same key start a new
 *   datagram, as Linux (since 4.19) does after it drops a queue for an overlap, so a real
 *   datagram sent after a decoy is still judged. IPv6 forbids every overlap (RFC 5722 §4);
 *   here an identical repeat is still taken, as for IPv4. Known difference: Linux drops a
 *   queue on an identical partial overlap too, so the monitor may judge a datagram that
 *   host never took (an alert too many, never one too few).
 * - A fragment that is not the last must carry a multiple of 8 bytes (RFC 791 §3.2, RFC
 *   8200 §4.5); one that does not is dropped as `ip-fragment-misaligned`.
 * - Tiny fragments cost little: pieces are kept sorted and found by binary search, and a
 *   datagram is complete when its bytes equal its length (the pieces never overlap), so a
 *   datagram cut into 8-byte pieces (up to 8,192) is reassembled, not given up.
 * - Bounded (DESIGN.md, principle 3) by one memory budget, `maxBytes`, which charges each
 *   datagram and each piece a fixed overhead besides its bytes; past it the oldest
 *   unfinished datagram is dropped (`ip-fragment-overflow`), which is also what a flood of
 *   decoy datagrams meant to push a real one out looks like, so it is reported, not quiet.
 *   A datagram longer than IP allows is `ip-fragment-oversize` (the "ping of death" shape).
 * - Time is capture time: a datagram not complete `timeoutMicros` after its first fragment
 *   (30 s for IPv4, as Linux's ipfrag_time; 60 s for IPv6, RFC 8200 §4.5) is dropped and
 *   reported as `ip-fragment-incomplete`.
 */

export type IpDefragAnomalyName =
  | 'ip-fragment-overlap'     // overlapping fragments with different bytes: dropped, not guessed at
  | 'ip-fragment-misaligned'  // a fragment with more to follow whose length is not a multiple of 8
  | 'ip-fragment-oversize'    // fragments reaching past the largest datagram IP can carry
  | 'ip-fragment-incomplete'  // a datagram not complete within its timeout, or at the end of the capture
  | 'ip-fragment-overflow'    // an unfinished datagram dropped because the memory budget was spent
  | 'ip-fragment-nested';     // a reassembled IPv6 datagram that is itself a fragment (RFC 8200 §4.1: one Fragment header)

/** One fragment as ip-tcp.ts decodes it. */
export interface IpFragment {
  readonly ipVersion: 4 | 6;
  readonly source: string;
  readonly destination: string;
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
  readonly maxBytes?: number;
  readonly timeoutMicrosV4?: number;
  readonly timeoutMicrosV6?: number;
}

/**
 * 8 MiB: 128 datagrams of the largest size, or about 13,000 one-fragment decoys, at once;
 * far more than a ward's device traffic ever fragments, and small beside the agent's budget.
 */
export const DEFAULT_MAX_FRAGMENT_BYTES = 8 * 1024 * 1024;
/** What a datagram costs besides its bytes: its entry, key and header. */
export const DATAGRAM_OVERHEAD_BYTES = 512;
/** What a piece costs besides its bytes: the Buffer and its slot. */
export const PIECE_OVERHEAD_BYTES = 128;
const SECOND_MICROS = 1_000_000;
/** IPv4 total length and IPv6 payload length are 16 bits (RFC 791 §3.1, RFC 8200 §3). */
const MAX_DATAGRAM_BYTES = 65_535;

interface Piece {
  readonly offset: number;
  readonly data: Buffer;
}

interface Datagram {
  readonly ipVersion: 4 | 6;
  readonly source: string;
  readonly destination: string;
  readonly firstSeenMicros: number;
  /** The first fragment's header (offset 0), once seen. */
  header: Buffer | null;
  /** Sorted by offset, never overlapping (identical repeats are not stored twice). */
  readonly pieces: Piece[];
  /** Length of the fragmentable part, once the last fragment (more = false) is seen. */
  end: number | null;
  /** Bytes held in `pieces`. */
  bytes: number;
  /** What it is charged against the budget: bytes and overheads. */
  cost: number;
}

export type DefragResult =
  | { readonly kind: 'pending' }
  | { readonly kind: 'complete'; readonly packet: Buffer }
  | { readonly kind: 'dropped' };

/** Where an anomaly came from: the datagram's addresses, for the alert that names the sender. */
export interface FragmentEndpoints {
  readonly source: string;
  readonly destination: string;
}

export type DefragAnomalySink = (name: IpDefragAnomalyName, detail: string, endpoints: FragmentEndpoints) => void;

export class IpDefragmenter {
  /** Insertion order is the order of first fragments: the oldest is evicted and timed out first. */
  private readonly datagrams = new Map<string, Datagram>();
  private spent = 0;
  private latestMicros = 0;
  private readonly maxBytes: number;
  private readonly timeoutV4: number;
  private readonly timeoutV6: number;

  constructor(private readonly anomaly: DefragAnomalySink, options: IpDefragOptions = {}) {
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_FRAGMENT_BYTES;
    this.timeoutV4 = options.timeoutMicrosV4 ?? 30 * SECOND_MICROS;
    this.timeoutV6 = options.timeoutMicrosV6 ?? 60 * SECOND_MICROS;
  }

  /** Datagrams in progress. */
  get pending(): number {
    return this.datagrams.size;
  }

  /** What the datagrams in progress are charged now (bytes and overheads), at most `maxBytes`. */
  get budgetSpent(): number {
    return this.spent;
  }

  /** Takes one fragment captured at `tsMicros`; returns the whole IP packet when this fragment completed it. */
  push(fragment: IpFragment, tsMicros: number): DefragResult {
    this.latestMicros = Math.max(this.latestMicros, tsMicros);
    this.expire();
    const version = `IPv${fragment.ipVersion}`;
    const fragmentEnd = fragment.offset + fragment.data.length;
    if (fragment.more && fragment.data.length % 8 !== 0) {
      this.anomaly('ip-fragment-misaligned', `${version} fragment at offset ${fragment.offset} of ${fragment.data.length} bytes, not a multiple of 8, with more to follow`, fragment);
      return { kind: 'dropped' };
    }
    if (fragmentEnd + fragment.header.length > MAX_DATAGRAM_BYTES + (fragment.ipVersion === 6 ? 40 : 0)) {
      this.drop(fragment.key, 'ip-fragment-oversize', `${version} fragment at offset ${fragment.offset} of ${fragment.data.length} bytes reaches past ${MAX_DATAGRAM_BYTES} bytes`, fragment);
      return { kind: 'dropped' };
    }
    let datagram = this.datagrams.get(fragment.key);
    if (datagram === undefined) {
      datagram = { ipVersion: fragment.ipVersion, source: fragment.source, destination: fragment.destination, firstSeenMicros: this.latestMicros, header: null, pieces: [], end: null, bytes: 0, cost: DATAGRAM_OVERHEAD_BYTES };
      this.datagrams.set(fragment.key, datagram);
      this.spent += datagram.cost;
    }
    if (!fragment.more) {
      // Two different last fragments, or data past the end, are overlaps by another name.
      const last = datagram.pieces.at(-1);
      if ((datagram.end !== null && datagram.end !== fragmentEnd) || (last !== undefined && last.offset + last.data.length > fragmentEnd)) {
        return this.overlap(fragment.key, `${version} datagram given two different ends`, datagram);
      }
      datagram.end = fragmentEnd;
    } else if (datagram.end !== null && fragmentEnd > datagram.end) {
      return this.overlap(fragment.key, `${version} fragment at offset ${fragment.offset} runs past the datagram's end ${datagram.end}`, datagram);
    }
    if (!this.place(datagram, fragment)) return this.overlap(fragment.key, `${version} fragments overlap at offset ${fragment.offset} with different bytes`, datagram);
    if (fragment.offset === 0) datagram.header ??= Buffer.from(fragment.header);
    this.evictBeyondBudget(fragment.key);
    if (!this.datagrams.has(fragment.key)) return { kind: 'dropped' };
    if (datagram.header === null || datagram.end === null || datagram.bytes !== datagram.end) return { kind: 'pending' };
    this.forget(fragment.key, datagram);
    return { kind: 'complete', packet: this.assemble(datagram, datagram.header) };
  }

  /** The capture ended: whatever is unfinished is incomplete. */
  flush(): void {
    for (const [key, datagram] of [...this.datagrams]) {
      this.anomaly('ip-fragment-incomplete', `IPv${datagram.ipVersion} datagram unfinished at the end of the capture (${datagram.bytes} bytes in ${datagram.pieces.length} fragments)`, datagram);
      this.forget(key, datagram);
    }
  }

  /**
   * Inserts the fragment's bytes where no piece holds them yet; bytes a piece already holds
   * must be equal (false when they are not, and nothing is inserted). Pieces stay sorted
   * and disjoint. Only the pieces the fragment overlaps are visited.
   */
  private place(datagram: Datagram, fragment: IpFragment): boolean {
    const { pieces } = datagram;
    const start = fragment.offset;
    const end = start + fragment.data.length;
    // The first piece that ends after `start`: pieces are disjoint and sorted, so their ends are sorted too.
    let low = 0;
    let high = pieces.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const piece = pieces[middle] as Piece;
      if (piece.offset + piece.data.length <= start) low = middle + 1;
      else high = middle;
    }
    const gaps: Piece[] = [];
    let cursor = start;
    let index = low;
    for (; index < pieces.length; index += 1) {
      const piece = pieces[index] as Piece;
      if (piece.offset >= end) break;
      const from = Math.max(cursor, piece.offset);
      const to = Math.min(end, piece.offset + piece.data.length);
      if (!fragment.data.subarray(from - start, to - start).equals(piece.data.subarray(from - piece.offset, to - piece.offset))) return false;
      if (piece.offset > cursor) gaps.push({ offset: cursor, data: fragment.data.subarray(cursor - start, piece.offset - start) });
      cursor = to;
    }
    if (cursor < end) gaps.push({ offset: cursor, data: fragment.data.subarray(cursor - start) });
    // Copied: the capture reader's record buffer is reused for the next record.
    const copies = gaps.map((gap) => ({ offset: gap.offset, data: Buffer.from(gap.data) }));
    // The gaps lie between pieces low..index-1 and are sorted: insert them one by one from the back, each where it belongs.
    let at = index;
    for (let g = copies.length - 1; g >= 0; g -= 1) {
      const copy = copies[g] as Piece;
      while (at > low && (pieces[at - 1] as Piece).offset > copy.offset) at -= 1;
      pieces.splice(at, 0, copy);
      datagram.bytes += copy.data.length;
      const cost = copy.data.length + PIECE_OVERHEAD_BYTES;
      datagram.cost += cost;
      this.spent += cost;
    }
    return true;
  }

  private assemble(datagram: Datagram, header: Buffer): Buffer {
    const packet = Buffer.concat([header, ...datagram.pieces.map((piece) => piece.data)]);
    // IPv4 total length counts the header (RFC 791 §3.1); IPv6 payload length counts what follows the 40-byte header (RFC 8200 §3).
    if (datagram.ipVersion === 4) packet.writeUInt16BE(packet.length, 2);
    else packet.writeUInt16BE(packet.length - 40, 4);
    return packet;
  }

  private overlap(key: string, detail: string, datagram: Datagram): DefragResult {
    this.anomaly('ip-fragment-overlap', detail, datagram);
    this.forget(key, datagram);
    return { kind: 'dropped' };
  }

  private drop(key: string, name: IpDefragAnomalyName, detail: string, endpoints: FragmentEndpoints): void {
    this.anomaly(name, detail, endpoints);
    const datagram = this.datagrams.get(key);
    if (datagram !== undefined) this.forget(key, datagram);
  }

  private forget(key: string, datagram: Datagram): void {
    this.spent -= datagram.cost;
    this.datagrams.delete(key);
  }

  private expire(): void {
    const shortest = Math.min(this.timeoutV4, this.timeoutV6);
    for (const [key, datagram] of this.datagrams) {
      const age = this.latestMicros - datagram.firstSeenMicros;
      // Oldest first: the first one too young for either timeout ends the walk.
      if (age < shortest) break;
      const timeout = datagram.ipVersion === 4 ? this.timeoutV4 : this.timeoutV6;
      if (age < timeout) continue;
      this.anomaly('ip-fragment-incomplete', `IPv${datagram.ipVersion} datagram not complete after ${timeout / SECOND_MICROS} s (${datagram.bytes} bytes in ${datagram.pieces.length} fragments)`, datagram);
      this.forget(key, datagram);
    }
  }

  /** Drops the oldest datagrams other than `keep` while the budget is overspent; then `keep` itself if it alone overspends it. */
  private evictBeyondBudget(keep: string): void {
    for (const [key, datagram] of this.datagrams) {
      if (this.spent <= this.maxBytes) return;
      if (key === keep) continue;
      this.anomaly('ip-fragment-overflow', `IPv${datagram.ipVersion} datagram dropped unfinished (${datagram.bytes} bytes in ${datagram.pieces.length} fragments): fragments held reached ${this.maxBytes} bytes`, datagram);
      this.forget(key, datagram);
    }
    const kept = this.datagrams.get(keep);
    if (this.spent > this.maxBytes && kept !== undefined) this.drop(keep, 'ip-fragment-overflow', `IPv${kept.ipVersion} datagram alone holds more than ${this.maxBytes} bytes of fragments`, kept);
  }
}
