import type { DetectionConfig } from '../model/site-schema.ts';
import type { FindingSink } from '../alert/finding.ts';
import type { AuthFailureEvent, PipelineEvent } from '../normalize/events.ts';
import { BurstCounter } from './burst-counter.ts';
import type { Detector } from './detector.ts';

/**
 * Failed MQTT logins counted per source address and per attempted username, so that
 * both a guesser on one host and a spray over many hosts at one account show. Keys are
 * not client ids: rotating client ids must not reset the count.
 */
export class AuthFailureDetector implements Detector {
  readonly id = 'auth-failure';
  private readonly byAddress: BurstCounter;
  private readonly byUsername: BurstCounter;

  constructor(private readonly config: DetectionConfig) {
    const { count, windowSeconds } = config.authFailureBurst;
    this.byAddress = new BurstCounter(count, windowSeconds * 1000);
    this.byUsername = new BurstCounter(count, windowSeconds * 1000);
  }

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind !== 'auth-failure') return;
    const { count, windowSeconds } = this.config.authFailureBurst;
    if (this.byAddress.record(event.address, event.ts)) {
      report(this.finding(event, `address|${event.address}`, `${count} or more failed MQTT logins from ${event.address} within ${windowSeconds} s (last tried "${(event.attemptedUsername ?? '(anonymous)').slice(0, 64)}")`));
    }
    if (event.attemptedUsername !== null && this.byUsername.record(event.attemptedUsername, event.ts)) {
      report(this.finding(event, `username|${event.attemptedUsername}`, `${count} or more failed MQTT logins for account "${event.attemptedUsername.slice(0, 64)}" within ${windowSeconds} s (last from ${event.address})`));
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
