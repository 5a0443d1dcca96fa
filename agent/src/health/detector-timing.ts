import { Histogram } from './histogram.ts';
import type { MetricFamily } from './prometheus-text.ts';

/**
 * One event in this many, on average, is timed through every detector. Reading the clock
 * costs about 45–50 ns here; timing all 27 detectors on every event would add 40 % to a
 * telemetry publish (3.6 µs), one event in 16 adds 1–2 % (docs/benchmarks.md).
 */
export const DETECTOR_TIMING_SAMPLE_MEAN = 16;

/** Seconds, Prometheus' base unit: 1 µs to 10 ms, where a detector's cost per event lies. */
export const DETECTOR_DURATION_BUCKETS: readonly number[] = [0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.001, 0.01];

/**
 * How long each detector takes per event, sampled: the gaps between timed events are drawn
 * at random (1 to 2 × mean − 1, mean `sampleMean`), so a traffic pattern with a period
 * cannot line up with the sampling. The clock measures the agent's own cost only; no
 * detector reads it (they read event time, DESIGN.md).
 */
export class DetectorTiming {
  readonly histograms: readonly Histogram[];
  private untilNextSample = 1;

  constructor(
    readonly detectorIds: readonly string[],
    private readonly sampleMean = DETECTOR_TIMING_SAMPLE_MEAN,
    private readonly random: () => number = Math.random,
  ) {
    this.histograms = detectorIds.map(() => new Histogram(DETECTOR_DURATION_BUCKETS));
  }

  /** Called once per event: whether to time this one. */
  sampleThis(): boolean {
    this.untilNextSample -= 1;
    if (this.untilNextSample > 0) return false;
    this.untilNextSample = 1 + Math.floor(this.random() * (2 * this.sampleMean - 1));
    return true;
  }

  /** `seconds` that the detector at `index` (in run order) took on a sampled event. */
  observe(index: number, seconds: number): void {
    this.histograms[index]?.observe(seconds);
  }

  family(): MetricFamily {
    return {
      name: 'wardwatch_detector_duration_seconds',
      help: `Time one detector took on one event, including raising what it found; sampled: about one event in ${this.sampleMean} is timed through every detector.`,
      type: 'histogram',
      samples: this.histograms.flatMap((histogram, index) => histogram.samples({ detector: this.detectorIds[index] as string })),
    };
  }
}
