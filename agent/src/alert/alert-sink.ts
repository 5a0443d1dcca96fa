import type { AlertView } from '../server/dashboard-protocol.ts';

/** Where alerts go: the store, the JSON-lines log, the dashboard, the console. */
export interface AlertSink {
  readonly name: string;
  /** A new alert. */
  alertRaised(alert: AlertView): void;
  /** An alert already raised changed: more occurrences folded in, or acknowledged. */
  alertUpdated(alert: AlertView, change: 'repeated' | 'acknowledged'): void;
}
