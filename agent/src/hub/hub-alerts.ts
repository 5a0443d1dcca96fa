import { SEVERITY_RANK } from '../alert/catalogue.ts';
import type { SuppressionWindow } from '../alert/suppression-window.ts';
import { HUB_ORIGIN, type AlertView, type Severity } from '../server/dashboard-protocol.ts';
import type { AlertStore } from '../store/alert-store.ts';

/** What became of one alert message. */
export type AlertArrival =
  /** First time the hub sees this alert. */
  | 'new'
  /** A newer version of one it holds (repeats folded in, acknowledged): it replaces the stored one. */
  | 'updated'
  /** The version it already holds: a QoS 1 redelivery [MQTT-4.3.2], or a resend after a reconnect or restart. */
  | 'duplicate'
  /** An older version than the one held (a resend overtaken by a newer change): ignored. */
  | 'stale'
  /** Another ward's (or the hub's own) alert has this id, or the ward calls itself HUB_ORIGIN: refused, so that no ward can overwrite another's alerts or pass for the hub. */
  | 'conflict';

export interface HubAlertCounts {
  readonly received: number;
  readonly new: number;
  readonly updated: number;
  readonly duplicate: number;
  readonly stale: number;
  readonly conflict: number;
  /** Alerts let go from memory because the cap was reached (they stay in the store). */
  readonly evicted: number;
}

export const NO_OPEN_ALERTS: Readonly<Record<Severity, number>> = { critical: 0, high: 0, warning: 0, info: 0 };

/**
 * How two versions of one alert compare. An alert only moves forward at its agent
 * (alert/alert-manager.ts): occurrences are added, the latest occurrence moves later, and
 * open becomes acknowledged, never back. So a version is older when it is behind on any
 * of these, the same when it matches on all, and newer otherwise.
 */
export function compareVersions(incoming: AlertView, held: AlertView): 'newer' | 'same' | 'older' {
  const incomingAcked = incoming.state === 'acknowledged';
  const heldAcked = held.state === 'acknowledged';
  if (incoming.count < held.count || incoming.lastTs < held.lastTs || (heldAcked && !incomingAcked)) return 'older';
  if (incoming.count === held.count && incoming.lastTs === held.lastTs && incomingAcked === heldAcked) return 'same';
  return 'newer';
}

/**
 * The alerts of every ward at the hub: deduplicated by alert id, so that an alert
 * delivered twice (QoS 1 is at least once) is held once, and an update replaces the
 * version held. Bounded in memory like the agent's alert manager (acknowledged alerts go
 * first, then the oldest open warning or info; open critical and high ones only beyond
 * twice the cap); every alert also goes to an AlertStore in the hub's data directory, so
 * a restart of the hub keeps them, and a redelivery of one let go from memory is still
 * recognised.
 */
export class HubAlertBook {
  /** Oldest change first (re-inserted on each change). */
  private readonly held = new Map<string, AlertView>();
  private readonly counts = { received: 0, new: 0, updated: 0, duplicate: 0, stale: 0, conflict: 0, evicted: 0 };

  constructor(
    readonly capacity: number,
    private readonly store: Pick<AlertStore, 'alertRaised' | 'alertUpdated' | 'get'> | null,
    initial: readonly AlertView[] = [],
  ) {
    for (const alert of initial) this.remember(alert);
  }

  get size(): number {
    return this.held.size;
  }

  stats(): HubAlertCounts {
    return { ...this.counts };
  }

  /** Takes one alert as the ward `ward` sent it (the ward from the topic, which the broker's ACL ties to the ward's account). */
  accept(ward: string, alert: AlertView): AlertArrival {
    this.counts.received += 1;
    const held = this.held.get(alert.id) ?? this.store?.get(alert.id) ?? null;
    const incoming: AlertView = { ...alert, origin: ward };
    let arrival: AlertArrival;
    if (ward === HUB_ORIGIN) arrival = 'conflict';
    else if (held === null) arrival = 'new';
    else if (held.origin !== ward) arrival = 'conflict';
    else {
      const order = compareVersions(incoming, held);
      arrival = order === 'newer' ? 'updated' : order === 'same' ? 'duplicate' : 'stale';
    }
    this.counts[arrival] += 1;
    if (arrival === 'new') this.store?.alertRaised(incoming);
    else if (arrival === 'updated') this.store?.alertUpdated(incoming);
    if (arrival === 'new' || arrival === 'updated') this.remember(incoming);
    return arrival;
  }

  /**
   * Keeps a version of one of the hub's own alerts (hub/hub-own-alerts.ts, origin HUB_ORIGIN):
   * the same memory, store and list as the wards' alerts, but not counted as a message from
   * the broker. Each version is written at once: the hub's own alerts are rare (a login
   * burst is reported once per crossing of the guard's threshold), so there is nothing to batch.
   * Held in memory first: a store that fails (thrown to the caller) must not hide it from the screen.
   * `raisedWith`: a new alert's suppression window, stored beside it so that a restart folds
   * its repeats again (alert/suppression-window.ts); null for a change of one already kept.
   */
  keepOwn(alert: AlertView, raisedWith: SuppressionWindow | null): void {
    if (alert.origin !== HUB_ORIGIN) throw new Error(`keepOwn takes the hub's own alerts (origin ${HUB_ORIGIN}), not ${String(alert.origin)}`);
    this.remember(alert);
    if (raisedWith !== null) this.store?.alertRaised(alert, raisedWith);
    else this.store?.alertUpdated(alert);
  }

  get(id: string): AlertView | undefined {
    return this.held.get(id);
  }

  /** The hub's own alerts held open (hub/hub-own-alerts.ts counts them against its own cap). */
  openOwn(): AlertView[] {
    return [...this.held.values()].filter((alert) => alert.origin === HUB_ORIGIN && alert.state === 'open');
  }

  /** Newest change first, at most `limit`, and every open critical or high alert whatever the limit (as the agent's list). */
  list(limit: number): AlertView[] {
    const newestFirst = [...this.held.values()].reverse();
    if (newestFirst.length <= limit) return newestFirst;
    const kept = newestFirst.slice(0, limit);
    for (const alert of newestFirst.slice(limit)) {
      if (alert.state === 'open' && SEVERITY_RANK[alert.severity] <= SEVERITY_RANK.high) kept.push(alert);
    }
    return kept;
  }

  /** Open alerts per ward and severity. */
  openByWard(): Map<string, Record<Severity, number>> {
    const byWard = new Map<string, Record<Severity, number>>();
    for (const alert of this.held.values()) {
      if (alert.state !== 'open' || alert.origin === undefined) continue;
      let counts = byWard.get(alert.origin);
      if (counts === undefined) {
        counts = { ...NO_OPEN_ALERTS };
        byWard.set(alert.origin, counts);
      }
      counts[alert.severity] += 1;
    }
    return byWard;
  }

  private remember(alert: AlertView): void {
    this.held.delete(alert.id);
    this.held.set(alert.id, alert);
    if (this.held.size > this.capacity) this.evictOne();
  }

  private evictOne(): void {
    let lesser: string | null = null;
    for (const [id, candidate] of this.held) {
      if (candidate.state === 'acknowledged') {
        this.held.delete(id);
        this.counts.evicted += 1;
        return;
      }
      if (lesser === null && SEVERITY_RANK[candidate.severity] > SEVERITY_RANK.high) lesser = id;
    }
    if (lesser !== null) {
      this.held.delete(lesser);
      this.counts.evicted += 1;
      return;
    }
    if (this.held.size > 2 * this.capacity) {
      const oldest = this.held.keys().next().value;
      if (oldest !== undefined) {
        this.held.delete(oldest);
        this.counts.evicted += 1;
      }
    }
  }
}
