import { createWriteStream, type WriteStream } from 'node:fs';
import type { AlertSink } from '../alert/alert-sink.ts';
import type { AlertView } from '../server/dashboard-protocol.ts';

/**
 * `<data-dir>/alerts.jsonl`: one JSON object per line, EVE-style, for Filebeat or Fluent
 * Bit. A line per raised alert (`event: "alert"`) and per acknowledgement
 * (`event: "alert-acknowledged"`), each with id, ts, type, severity, deviceId and title,
 * so a shipper can count alerts by filtering on `event`. Folded repeats are not logged
 * line by line (the store has the count).
 */
export class AlertLog implements AlertSink {
  readonly name = 'alert-log';
  private readonly stream: WriteStream;
  private failed: Error | null = null;

  constructor(file: string) {
    this.stream = createWriteStream(file, { flags: 'a', mode: 0o640 });
    this.stream.on('error', (error) => {
      this.failed = error;
    });
  }

  private write(event: string, alert: AlertView): void {
    if (this.failed !== null) throw this.failed;
    this.stream.write(`${JSON.stringify({ event, ...alert })}\n`);
  }

  alertRaised(alert: AlertView): void {
    this.write('alert', alert);
  }

  alertUpdated(alert: AlertView, change: 'repeated' | 'acknowledged'): void {
    if (change === 'acknowledged') this.write('alert-acknowledged', alert);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.stream.end(() => resolve()));
  }
}
