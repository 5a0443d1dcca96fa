import type { AlertView } from '../server/dashboard-protocol.ts';
import type { SuppressionWindow } from './suppression-window.ts';

/** Where alerts go: the store, the JSON-lines log, the dashboard, the console. */
export interface AlertSink {
  readonly name: string;
  /**
   * A new alert. `suppression` is its dedup identifier and window, for the embedded store
   * only (kept so that a restart folds repeats as before): it names accounts and addresses,
   * so no output may send or log it; what leaves the agent is the AlertView.
   */
  alertRaised(alert: AlertView, suppression: SuppressionWindow): void;
  /** An alert already raised changed: more occurrences folded in, or acknowledged. */
  alertUpdated(alert: AlertView, change: 'repeated' | 'acknowledged'): void;
}
