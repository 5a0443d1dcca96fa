import type { FindingSink } from '../alert/finding.ts';
import type { PipelineEvent } from '../normalize/events.ts';

/**
 * A detector reads pipeline events, keeps only bounded state keyed by what it watches,
 * takes time from the event (never the wall clock) and reports findings. It never
 * touches bytes and never raises alerts itself (DESIGN.md, "The pipeline").
 */
export interface Detector {
  readonly id: string;
  inspect(event: PipelineEvent, report: FindingSink): void;
}
