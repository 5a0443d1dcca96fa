import type { Logger } from 'pino';
import type { FindingSink } from '../alert/finding.ts';
import type { PipelineEvent } from '../normalize/events.ts';
import type { Detector } from './detector.ts';

/**
 * Runs every detector on every event. A detector that throws is isolated: the error is
 * counted and logged once per detector, and the others go on (DESIGN.md, principle 7;
 * fail open: a bug in the monitor must never blind it to the rest).
 */
export class DetectionEngine {
  readonly errorsByDetector = new Map<string, number>();

  constructor(
    private readonly detectors: readonly Detector[],
    private readonly report: FindingSink,
    private readonly logger: Logger,
  ) {}

  process(event: PipelineEvent): void {
    for (const detector of this.detectors) {
      try {
        detector.inspect(event, this.report);
      } catch (error) {
        const count = (this.errorsByDetector.get(detector.id) ?? 0) + 1;
        this.errorsByDetector.set(detector.id, count);
        if (count === 1) this.logger.error({ err: error, detector: detector.id, event: event.kind }, 'detector failed; it is skipped for this event');
      }
    }
  }
}
