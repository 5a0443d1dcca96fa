import type { AlertType } from '../../alert/catalogue.ts';
import type { FindingSink } from '../../alert/finding.ts';
import type { DeviceCommandEvent, PipelineEvent } from '../../normalize/events.ts';
import { deviceLabel } from '../../normalize/inventory.ts';
import { commandEvidence } from '../authorization-detector.ts';
import type { BaselineAcceptanceView } from '../../server/dashboard-protocol.ts';
import type { BaselineModel } from './baseline-model.ts';
import { ACCEPT_HINT } from './explain.ts';

/**
 * What accepting an alert (`wardwatch baseline accept`, or the dashboard) adds to the
 * baseline: the table, the key and (for values) the value. Kept in the alert's evidence, so
 * an alert carries its own way back into the baseline (issue 5, part 4). One type with the
 * wire's BaselineAcceptanceView, since the dashboard shows exactly this.
 */
export type BaselineAcceptance = BaselineAcceptanceView;

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
