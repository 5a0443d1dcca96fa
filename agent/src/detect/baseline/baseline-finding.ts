import type { AlertType } from '../../alert/catalogue.ts';
import type { FindingSink } from '../../alert/finding.ts';
import type { DeviceCommandEvent, PipelineEvent } from '../../normalize/events.ts';
import { deviceLabel } from '../../normalize/inventory.ts';
import { commandEvidence } from '../authorization-detector.ts';
import type { BaselineModel } from './baseline-model.ts';
import { ACCEPT_HINT } from './explain.ts';

/**
 * What `wardwatch baseline accept` adds to the baseline for an alert: the table, the key
 * and (for values) the value. Kept in the alert's evidence, so an alert carries its own way
 * back into the baseline (issue 5, part 4).
 */
export interface BaselineAcceptance {
  readonly device: string;
  readonly table: 'value' | 'commander' | 'origin' | 'hour' | 'transition' | 'pusher' | 'version' | 'cadence';
  readonly key: string;
  readonly value?: number | string;
  readonly unit?: string;
  /** Group-level entries (values judged across the ward) are accepted for the device's kind. */
  readonly level: 'device' | 'group';
}

export interface BaselineFindingInput {
  readonly type: AlertType;
  readonly event: PipelineEvent & { readonly device: DeviceCommandEvent['device'] };
  readonly dedupKey: string;
  /** The sentence after the device label. */
  readonly what: string;
  readonly learned: Readonly<Record<string, unknown>>;
  readonly accept: BaselineAcceptance | null;
}

/** Reports a learned deviation with its explanation, and flags the event so it is not learned. */
export function reportDeviation(model: BaselineModel, report: FindingSink, input: BaselineFindingInput): void {
  model.flag(input.event);
  const { event } = input;
  report({
    type: input.type,
    ts: event.ts,
    device: event.device,
    dedupKey: `${event.device.config.id}|${input.dedupKey}`,
    title: `${deviceLabel(event.device)}: ${input.what}`,
    evidence: {
      ...(event.kind === 'command' ? commandEvidence(event) : { event: event.kind }),
      baseline: { ...input.learned, ...(input.accept === null ? {} : { accept: input.accept, howToAccept: ACCEPT_HINT }) },
    },
  });
}
