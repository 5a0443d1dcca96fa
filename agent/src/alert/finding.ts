import type { InventoryDevice } from '../normalize/events.ts';
import type { AlertType } from './catalogue.ts';

/**
 * What a detector concluded from one event. The alert layer turns findings into alerts
 * (catalogue severity, dedup and suppression, lifecycle); detectors never do.
 */
export interface Finding {
  readonly type: AlertType;
  /** Event time of the evidence, epoch ms. */
  readonly ts: number;
  readonly device: InventoryDevice | null;
  /** Which occurrences count as the same alert for suppression, besides the type (Zeek `identifier`). */
  readonly dedupKey: string;
  readonly title: string;
  readonly evidence: Readonly<Record<string, unknown>>;
  /**
   * When this occurrence folds into an open alert (suppression): the alert's evidence after
   * it, from the evidence it had. Absent: the first occurrence's evidence stays, as for most
   * alerts; a summary alert (many login sources in one) says who came since.
   */
  readonly foldEvidence?: (held: Readonly<Record<string, unknown>>) => Readonly<Record<string, unknown>>;
}

export type FindingSink = (finding: Finding) => void;
