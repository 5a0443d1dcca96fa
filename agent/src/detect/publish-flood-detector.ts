import type { FindingSink } from '../alert/finding.ts';
import type { DetectionConfig } from '../model/site-schema.ts';
import { senderHidden, type EventSource, type PipelineEvent } from '../normalize/events.ts';
import { deviceLabel, type Inventory } from '../normalize/inventory.ts';
import { boundedKey, shortName } from './bounded-key.ts';
import type { Detector } from './detector.ts';
import { formatDuration } from './duration.ts';
import { SlidingWindowCounter } from './sliding-window-counter.ts';

/** Senders tracked at once; least recently seen evicted (counted). */
export const PUBLISH_FLOOD_MAX_KEYS = 10_000;

/**
 * Publishes per sender (the account, or `anonymous@<address>`), whatever they carry:
 * commands, telemetry, status, acks and payloads that did not decode. A ward is quiet on
 * this scale (a device about 2 messages per 5 s, a station's shift change about 30
 * commands over minutes), so the default 200 in 10 s is a flood, not a busy morning.
 * Messages the broker publishes itself (source null) are not anyone's flood. Publishes
 * outside the `ward/<id>/<channel>` contract count too (`other-publish`): a flood need
 * not aim at a device to starve the broker.
 */
export class PublishFloodDetector implements Detector {
  readonly id = 'publish-flood';
  private readonly counter: SlidingWindowCounter;

  constructor(private readonly config: DetectionConfig, private readonly inventory: Inventory) {
    const { count, windowSeconds } = config.publishFlood;
    this.counter = new SlidingWindowCounter(count, windowSeconds * 1000, PUBLISH_FLOOD_MAX_KEYS);
  }

  /** Senders held now; stays at or below PUBLISH_FLOOD_MAX_KEYS. */
  get senderKeys(): number {
    return this.counter.size;
  }

  get evictions(): number {
    return this.counter.evictions;
  }

  inspect(event: PipelineEvent, report: FindingSink): void {
    let source: EventSource | null;
    switch (event.kind) {
      case 'command':
      case 'telemetry':
      case 'status':
      case 'ack':
      case 'anomaly':
      case 'other-publish':
        source = event.source;
        break;
      default:
        return;
    }
    // Through a tap every message comes from "somebody": counting them as one sender would cry flood at a busy ward.
    if (source === null || senderHidden(source)) return;
    const sender = source.account ?? `anonymous@${source.address}`;
    const span = this.counter.record(boundedKey(sender), event.ts);
    if (span === null) return;
    const { count, windowSeconds } = this.config.publishFlood;
    const device = source.account === null ? null : (this.inventory.deviceForAccount(source.account) ?? null);
    const what = device === null
      ? `Publish flood: ${shortName(sender)} sent ${count} messages`
      : `${deviceLabel(device)}: ${count} messages from this device's account`;
    report({
      type: 'publish-flood',
      ts: event.ts,
      device,
      dedupKey: boundedKey(sender),
      title: `${what} in ${formatDuration(span)} (threshold ${count} within ${windowSeconds} s)`,
      evidence: {
        sender: shortName(sender, 256),
        account: source.account,
        clientId: shortName(source.clientId, 256),
        address: source.address,
        messages: count,
        spanMs: span,
        threshold: this.config.publishFlood,
        latest: event.kind === 'anomaly' ? `anomaly ${event.name} on ${event.topic.slice(0, 128)}` : event.kind === 'other-publish' ? `publish on ${event.topic.slice(0, 128)}` : `${event.kind} for ${event.device.config.id}`,
      },
    });
  }
}
