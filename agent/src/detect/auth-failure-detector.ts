import type { DetectionConfig } from '../model/site-schema.ts';
import type { FindingSink } from '../alert/finding.ts';
import type { AuthFailureEvent, PipelineEvent } from '../normalize/events.ts';
import { boundedKey } from './bounded-key.ts';
import { SlidingWindowCounter } from './sliding-window-counter.ts';
import type { Detector } from './detector.ts';

/**
 * Failed MQTT logins counted per source address and per attempted username, so that
 * both a guesser on one host and a spray over many hosts at one account show. Keys are
 * not client ids: rotating client ids must not reset the count.
 */
/** Addresses and usernames tracked at once, each table; least recently seen evicted (counted). */
export const AUTH_FAILURE_MAX_KEYS = 10_000;

export class AuthFailureDetector implements Detector {
  readonly id = 'auth-failure';
  private readonly byAddress: SlidingWindowCounter;
  private readonly byUsername: SlidingWindowCounter;

  constructor(private readonly config: DetectionConfig) {
    const { count, windowSeconds } = config.authFailureBurst;
    this.byAddress = new SlidingWindowCounter(count, windowSeconds * 1000, AUTH_FAILURE_MAX_KEYS);
    this.byUsername = new SlidingWindowCounter(count, windowSeconds * 1000, AUTH_FAILURE_MAX_KEYS);
  }

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind !== 'auth-failure') return;
    const { count, windowSeconds } = this.config.authFailureBurst;
    if (this.byAddress.record(event.address, event.ts) !== null) {
      report(this.finding(event, `address|${event.address}`, `${count} or more failed MQTT logins from ${event.address} within ${windowSeconds} s (last tried "${(event.attemptedUsername ?? '(anonymous)').slice(0, 64)}")`));
    }
    // Usernames off the wire may be 64 KiB long [MQTT-1.5.3]; keys are cut so the table stays small.
    if (event.attemptedUsername !== null && this.byUsername.record(boundedKey(event.attemptedUsername), event.ts) !== null) {
      report(this.finding(event, `username|${boundedKey(event.attemptedUsername)}`, `${count} or more failed MQTT logins for account "${event.attemptedUsername.slice(0, 64)}" within ${windowSeconds} s (last from ${event.address})`));
    }
  }

  private finding(event: AuthFailureEvent, dedupKey: string, title: string) {
    return {
      type: 'auth-failure-burst' as const,
      ts: event.ts,
      device: null,
      dedupKey,
      title: `Broker login attack? ${title}`,
      evidence: { attemptedUsername: event.attemptedUsername, address: event.address, clientId: event.clientId, reason: event.reason, threshold: this.config.authFailureBurst },
    };
  }
}
