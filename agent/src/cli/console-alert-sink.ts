import type { AlertSink } from '../alert/alert-sink.ts';
import type { AlertView } from '../server/dashboard-protocol.ts';

/** Prints new alerts and acknowledgements one line each, for someone watching the demo's terminal. */
export class ConsoleAlertSink implements AlertSink {
  readonly name = 'console';

  constructor(private readonly write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)) {}

  alertRaised(alert: AlertView): void {
    this.write(`ALERT ${alert.severity.toUpperCase().padEnd(8)} ${alert.title}`);
  }

  alertUpdated(alert: AlertView, change: 'repeated' | 'acknowledged'): void {
    if (change === 'acknowledged' && alert.ack !== null) {
      this.write(`ACK   ${alert.severity.toUpperCase().padEnd(8)} ${alert.title} — by ${alert.ack.by}: ${alert.ack.reason}`);
    }
  }
}
