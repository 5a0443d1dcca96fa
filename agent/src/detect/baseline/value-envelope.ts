import { LogHistogram, type LogHistogramJson } from './log-histogram.ts';

export interface EnvelopeBounds {
  readonly low: number;
  readonly high: number;
}

export interface ValueEnvelopeJson {
  readonly unit: string;
  readonly firstSeen: number;
  readonly lastSeen: number;
  /** Samples learned since the bounds last moved by more than STABLE_MOVE. */
  readonly unchanged: number;
  readonly histogram: LogHistogramJson;
  /** Bounds an engineer wrote in an imported baseline; they override the learned ones. */
  readonly pinned: EnvelopeBounds | null;
  /** Devices the samples came from (at most MAX_SOURCES). */
  readonly sources?: readonly string[];
}

/** Enough to tell one pump's patient from a ward's practice; more is not kept. */
const MAX_SOURCES = 16;

/** Below this many samples the envelope is the observed range; from it on, the 1st–99th percentile. */
const TRIM_FROM_SAMPLES = 100;
const TRIM_QUANTILE = 0.01;
/** A bound that moves by less than this fraction is not a change, for the stability figure. */
const STABLE_MOVE = 0.05;
/** An envelope whose bounds held for this many samples is called stable in `baseline status`. */
export const STABLE_SAMPLES = 20;

/**
 * What values one commanded quantity usually takes (a pump's heparin dose, a programmer's
 * lower rate): robust bounds from a log histogram (the observed range while samples are few,
 * the 1st–99th percentile once there are 100), or the bounds an engineer pinned in an
 * imported baseline. Times are event times.
 */
export class ValueEnvelope {
  private unchanged = 0;
  pinned: EnvelopeBounds | null = null;
  /** Which devices taught it: an envelope of a care area learned from one pump is that pump's patient, not the ward's practice. */
  private readonly sourceDevices = new Set<string>();

  private constructor(
    readonly unit: string,
    private readonly histogram: LogHistogram,
    public firstSeen: number,
    public lastSeen: number,
  ) {}

  static empty(unit: string, ts: number): ValueEnvelope {
    return new ValueEnvelope(unit, new LogHistogram(), ts, ts);
  }

  get samples(): number {
    return this.histogram.count;
  }

  /** Whether the bounds held over the last STABLE_SAMPLES samples (pinned bounds always hold). */
  get stable(): boolean {
    return this.pinned !== null || this.unchanged >= STABLE_SAMPLES;
  }

  get samplesSinceChange(): number {
    return this.unchanged;
  }

  bounds(): EnvelopeBounds | null {
    if (this.pinned !== null) return this.pinned;
    return this.learnedBounds();
  }

  learnedBounds(): EnvelopeBounds | null {
    const count = this.histogram.count;
    if (count === 0) return null;
    if (count < TRIM_FROM_SAMPLES) return { low: this.histogram.min, high: this.histogram.max };
    return { low: this.histogram.quantile(TRIM_QUANTILE), high: this.histogram.quantile(1 - TRIM_QUANTILE) };
  }

  /** How many devices the samples came from; an engineer's pinned bounds count as the ward's word. */
  get sourceCount(): number {
    return this.pinned !== null ? Infinity : this.sourceDevices.size;
  }

  learn(value: number, ts: number, source?: string): void {
    if (source !== undefined && this.sourceDevices.size < MAX_SOURCES) this.sourceDevices.add(source);
    const before = this.learnedBounds();
    this.histogram.add(value);
    this.lastSeen = Math.max(this.lastSeen, ts);
    const after = this.learnedBounds();
    const moved = before === null || after === null
      || Math.abs(after.low - before.low) > STABLE_MOVE * Math.abs(before.low)
      || Math.abs(after.high - before.high) > STABLE_MOVE * Math.abs(before.high);
    this.unchanged = moved ? 0 : this.unchanged + 1;
  }

  toJSON(): ValueEnvelopeJson {
    return { unit: this.unit, firstSeen: this.firstSeen, lastSeen: this.lastSeen, unchanged: this.unchanged, histogram: this.histogram.toJSON(), pinned: this.pinned, sources: [...this.sourceDevices] };
  }

  static fromJSON(json: ValueEnvelopeJson): ValueEnvelope {
    const envelope = new ValueEnvelope(json.unit, LogHistogram.fromJSON(json.histogram), json.firstSeen, json.lastSeen);
    envelope.unchanged = json.unchanged;
    envelope.pinned = json.pinned;
    for (const source of (json.sources ?? []).slice(0, MAX_SOURCES)) envelope.sourceDevices.add(source);
    return envelope;
  }

  /** An envelope made from an engineer's bounds alone (an imported entry with no learned history). */
  static pinnedAt(unit: string, bounds: EnvelopeBounds, samples: number, ts: number): ValueEnvelope {
    const envelope = ValueEnvelope.empty(unit, ts);
    envelope.pinned = bounds;
    // The bounds stand for the samples the file reports, so the entry counts as judged (minSamples).
    const half = Math.max(1, Math.ceil(samples / 2));
    envelope.histogram.add(bounds.low, half);
    envelope.histogram.add(bounds.high, half);
    envelope.unchanged = half * 2;
    return envelope;
  }
}
