import type { ModbusAdu } from './types.ts';

/**
 * Pairs the requests and responses of ONE Modbus/TCP flow (one client connection to one
 * server) by transaction id and unit id (Implementation Guide v1.0b §3.1.3: the server
 * copies both into its response). Bounded (DESIGN.md, principle 3): at most `maxPending`
 * unanswered requests; when full, the oldest is dropped and `pending-request-flood` is
 * reported, as Suricata's Modbus parser does with REQUEST_FLOOD. Time comes from the
 * caller (event time, never the wall clock), so a replayed capture pairs like live traffic.
 *
 * A request that reuses the key of a still-pending one replaces it (the older one can no
 * longer be told apart from it). The pairer does not compare function codes: the caller
 * has both ADUs and decides what a mismatch means (principle 1).
 *
 * The pairer keeps the request ADU it is given; if its `pdu` is a view into a chunk the
 * caller will reuse, copy it first.
 */

export const DEFAULT_MAX_PENDING = 64;

export interface TransactionPairerOptions {
  /** Most unanswered requests kept (default 64, at least 1). */
  readonly maxPending?: number;
}

export interface PairedTransaction<T> {
  readonly request: ModbusAdu;
  readonly context: T;
  /** Response time − request time, in the caller's clock (event time). */
  readonly latencyMs: number;
}

export type PairingResult<T> = PairedTransaction<T> | { readonly anomaly: 'unsolicited-response' };
export type RequestResult = { readonly anomaly?: 'pending-request-flood' };

interface Pending<T> {
  readonly request: ModbusAdu;
  readonly context: T;
  readonly sentAtMs: number;
}

// Shared results: the common path allocates nothing for its answer (principle 8).
const ACCEPTED: RequestResult = Object.freeze({});
const FLOODED: RequestResult = Object.freeze({ anomaly: 'pending-request-flood' as const });
const UNSOLICITED = Object.freeze({ anomaly: 'unsolicited-response' as const });

/** Unit id (8 bits) and transaction id (16 bits) in one number, a cheap Map key. */
function keyOf(adu: ModbusAdu): number {
  return adu.unitId * 0x10000 + adu.transactionId;
}

export class TransactionPairer<T> {
  readonly #maxPending: number;
  /** Insertion order is arrival order, so the first entry is the oldest. */
  readonly #pending = new Map<number, Pending<T>>();

  constructor(options: TransactionPairerOptions = {}) {
    const max = options.maxPending ?? DEFAULT_MAX_PENDING;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxPending must be an integer ≥ 1, got ${max}`);
    this.#maxPending = max;
  }

  /** Unanswered requests held now. */
  get pending(): number {
    return this.#pending.size;
  }

  request(adu: ModbusAdu, context: T, nowMs: number): RequestResult {
    const key = keyOf(adu);
    // A reused key replaces the pending entry and moves it to the young end.
    const replaced = this.#pending.delete(key);
    let result = ACCEPTED;
    if (!replaced && this.#pending.size >= this.#maxPending) {
      const oldest = this.#pending.keys().next();
      if (oldest.done !== true) this.#pending.delete(oldest.value);
      result = FLOODED;
    }
    this.#pending.set(key, { request: adu, context, sentAtMs: nowMs });
    return result;
  }

  response(adu: ModbusAdu, nowMs: number): PairingResult<T> {
    const key = keyOf(adu);
    const pending = this.#pending.get(key);
    if (pending === undefined) return UNSOLICITED;
    this.#pending.delete(key);
    return { request: pending.request, context: pending.context, latencyMs: nowMs - pending.sentAtMs };
  }

  /**
   * Drops requests older than `maxAgeMs` (sent before `nowMs − maxAgeMs`) and returns how
   * many. Every entry is checked, not only the oldest ones: capture timestamps need not
   * be monotonic, and there are at most `maxPending` of them.
   */
  expire(nowMs: number, maxAgeMs: number): number {
    let dropped = 0;
    for (const [key, pending] of this.#pending) {
      if (nowMs - pending.sentAtMs > maxAgeMs) {
        this.#pending.delete(key);
        dropped += 1;
      }
    }
    return dropped;
  }

  /** Forgets every pending request (the flow closed). */
  clear(): void {
    this.#pending.clear();
  }
}
