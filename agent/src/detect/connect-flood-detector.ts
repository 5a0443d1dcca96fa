import type { FindingSink } from '../alert/finding.ts';
import type { DetectionConfig } from '../model/site-schema.ts';
import type { InventoryDevice, PipelineEvent } from '../normalize/events.ts';
import { deviceLabel, type Inventory } from '../normalize/inventory.ts';
import { boundedKey, shortName } from './bounded-key.ts';
import type { Detector } from './detector.ts';
import { formatDuration } from './duration.ts';
import { SlidingWindowCounter } from './sliding-window-counter.ts';

/** Addresses, and separately accounts, tracked at once; least recently seen evicted (counted). */
export const CONNECT_FLOOD_MAX_KEYS = 10_000;

interface Attempt {
  readonly ts: number;
  readonly address: string;
  readonly account: string | null;
  readonly clientId: string;
  /** `connected`, or the reason the broker refused the login. */
  readonly outcome: string;
}

/**
 * Connection attempts, accepted (`client-connect`) or refused (`auth-failure`), counted
 * per source address and per account, so that one host hammering the broker and many
 * hosts hammering one account both show. Failed logins alone are also the auth-failure
 * detector's; this one sees the storms that succeed, such as a client stuck in a
 * reconnect loop or an attacker recycling a stolen password. Repeats fold into one alert
 * per key through the suppression window.
 */
export class ConnectFloodDetector implements Detector {
  readonly id = 'connect-flood';
  private readonly byAddress: SlidingWindowCounter;
  private readonly byAccount: SlidingWindowCounter;

  constructor(private readonly config: DetectionConfig, private readonly inventory: Inventory) {
    const { count, windowSeconds } = config.connectFlood;
    this.byAddress = new SlidingWindowCounter(count, windowSeconds * 1000, CONNECT_FLOOD_MAX_KEYS);
    this.byAccount = new SlidingWindowCounter(count, windowSeconds * 1000, CONNECT_FLOOD_MAX_KEYS);
  }

  /** Keys held now; each table stays at or below CONNECT_FLOOD_MAX_KEYS. */
  get addressKeys(): number {
    return this.byAddress.size;
  }

  get accountKeys(): number {
    return this.byAccount.size;
  }

  /** Keys dropped because a table was full. */
  get evictions(): number {
    return this.byAddress.evictions + this.byAccount.evictions;
  }

  inspect(event: PipelineEvent, report: FindingSink): void {
    let attempt: Attempt;
    if (event.kind === 'client-connect') {
      const { address, account, clientId } = event.source;
      attempt = { ts: event.ts, address, account, clientId, outcome: 'connected' };
    } else if (event.kind === 'auth-failure') {
      attempt = { ts: event.ts, address: event.address, account: event.attemptedUsername, clientId: event.clientId, outcome: event.reason };
    } else {
      return;
    }
    const addressSpan = this.byAddress.record(boundedKey(attempt.address), attempt.ts);
    if (addressSpan !== null) {
      report(this.finding(attempt, 'address', addressSpan, null, `from ${shortName(attempt.address)}`));
    }
    if (attempt.account === null) return;
    const accountSpan = this.byAccount.record(boundedKey(attempt.account), attempt.ts);
    if (accountSpan !== null) {
      const device = this.inventory.deviceForAccount(attempt.account) ?? null;
      report(this.finding(attempt, 'account', accountSpan, device, device === null ? `for account ${shortName(attempt.account)}` : "with this device's account"));
    }
  }

  private finding(attempt: Attempt, keyKind: 'address' | 'account', spanMs: number, device: InventoryDevice | null, what: string) {
    const { count, windowSeconds } = this.config.connectFlood;
    const key = keyKind === 'address' ? attempt.address : (attempt.account ?? '');
    const subject = device === null ? 'Connection flood' : deviceLabel(device);
    return {
      type: 'connect-flood' as const,
      ts: attempt.ts,
      device,
      dedupKey: `${keyKind}|${boundedKey(key)}`,
      title: `${subject}: ${count} MQTT connection attempts ${what} in ${formatDuration(spanMs)} (threshold ${count} within ${windowSeconds} s)`,
      evidence: {
        countedBy: keyKind,
        attempts: count,
        spanMs,
        threshold: this.config.connectFlood,
        address: attempt.address,
        account: attempt.account === null ? null : shortName(attempt.account, 256),
        clientId: shortName(attempt.clientId, 256),
        latestOutcome: attempt.outcome,
      },
    };
  }
}
