/**
 * Seeded randomness. Everything random in the simulators draws from a `Random` derived
 * from one seed, so that a run (a day on the ward, an attack scenario) can be repeated
 * exactly. Each component forks its own stream by name, so adding a device does not
 * change what the others do.
 */

/** 32-bit FNV-1a of a label, to derive child seeds. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Final mix of MurmurHash3: spreads nearby seeds (1, 2, 3) over the whole state space. */
function mix32(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** mulberry32 (Tommy Ettinger): small, fast, good enough for simulation, not for secrets. */
export class Random {
  readonly seed: number;
  private state: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, not ${seed}`);
    this.seed = seed >>> 0;
    this.state = mix32(this.seed);
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [min, max). */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Uniform integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('cannot pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Exponentially distributed with the given mean: the waiting time of a memoryless event. */
  exponential(mean: number): number {
    // 1 - next() is in (0, 1], so the logarithm is finite.
    return -mean * Math.log(1 - this.next());
  }

  /** An independent stream for a named component; depends on the seed and the label only. */
  fork(label: string): Random {
    return new Random(mix32(this.seed ^ fnv1a(label)));
  }
}
