import type { DetectionConfig } from '../model/site-schema.ts';
import type { FindingSink } from '../alert/finding.ts';
import type { PipelineEvent } from '../normalize/events.ts';
import { deviceLabel } from '../normalize/inventory.ts';
import { boundedKey } from './bounded-key.ts';
import { SlidingWindowCounter } from './sliding-window-counter.ts';
import type { Detector } from './detector.ts';

/**
 * Malformed payloads are counted by name elsewhere (health); this turns a burst from one
 * sender into a finding. Repeats fold into one alert through the suppression window, so
 * ten thousand bad messages give a handful of alerts, not ten thousand.
 */
/**
 * Anomalies that describe where a capture started or what it could hold, not what a sender
 * did: a capture that begins mid-session shows every flow without its CONNECT.
 */
const CAPTURE_CONTEXT_ANOMALIES: ReadonlySet<string> = new Set(['mqtt-missing-connect', 'mqtt-missing-connack', 'mqtt-client-side-missing', 'mqtt-flow-evicted', 'mqtt-hold-overflow']);

/** Senders tracked at once; least recently seen evicted (counted). */
export const MALFORMED_MAX_SENDERS = 10_000;

export class MalformedPayloadDetector implements Detector {
  readonly id = 'malformed-payload';
  private readonly counter: SlidingWindowCounter;

  constructor(private readonly config: DetectionConfig) {
    this.counter = new SlidingWindowCounter(config.malformedBurst.count, config.malformedBurst.windowSeconds * 1000, MALFORMED_MAX_SENDERS);
  }

  inspect(event: PipelineEvent, report: FindingSink): void {
    // IP- and TCP-layer anomalies of a capture are not payloads: capture-evasion-detector.ts judges them.
    if (event.kind !== 'anomaly' || CAPTURE_CONTEXT_ANOMALIES.has(event.name) || event.source?.transport === 'ip') return;
    const sender = event.source === null ? 'broker' : (event.source.account ?? `anonymous@${event.source.address}`);
    if (this.counter.record(boundedKey(sender), event.ts) === null) return;
    const target = event.device === null ? event.topic.slice(0, 80) : deviceLabel(event.device);
    report({
      type: 'malformed-payload-burst',
      ts: event.ts,
      device: event.device,
      dedupKey: boundedKey(sender),
      title: `Malformed messages from ${sender}: ${this.config.malformedBurst.count} or more within ${this.config.malformedBurst.windowSeconds} s (latest: ${event.name} to ${target})`,
      evidence: {
        anomaly: event.name,
        detail: event.detail,
        topic: event.topic.slice(0, 256),
        account: event.source?.account ?? null,
        clientId: event.source?.clientId ?? null,
        address: event.source?.address ?? null,
      },
    });
  }
}
