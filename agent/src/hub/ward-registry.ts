import type { UplinkDevicesMessage, UplinkHealthMessage, UplinkStateMessage } from '../export/uplink-protocol.ts';
import { FAILURE_MEMORY_MS } from '../health/agent-health.ts';
import type { Severity, WardSummaryView } from '../server/dashboard-protocol.ts';
import { NO_OPEN_ALERTS } from './hub-alerts.ts';

/** A ward whose health report is this many of its own intervals overdue is shown offline. */
export const STALE_AFTER_INTERVALS = 3;

interface WardRecord {
  readonly ward: string;
  site: string | null;
  uplink: { readonly message: UplinkStateMessage; readonly receivedAt: number } | null;
  health: { readonly message: UplinkHealthMessage; readonly receivedAt: number } | null;
  devices: { readonly total: number; readonly online: number; readonly underAlert: number } | null;
  lastHeardAt: number | null;
  seq: SeqTrack;
}

/**
 * The ward's alert messages by `seq` (export/uplink-outbox.ts: SQLite AUTOINCREMENT, so it
 * keeps increasing across restarts of the agent; 0 when the outbox could not be written).
 */
interface SeqTrack {
  /** Highest seq seen since the hub started; null before the first. */
  highest: number | null;
  /** Drops the ward reported (health `uplink.dropped`) and no gap has used up yet. */
  explainedDrops: number;
  /** The ward's `uplink.dropped` in its last health report: it counts from the agent's start, so a lower one means a restart. */
  lastReportedDropped: number | null;
  /** Messages missing from gaps its reports do not explain, and when the last gap was seen. */
  missing: { count: number; lastAt: number } | null;
}

export interface HubLinkState {
  readonly connected: boolean;
  /** Why the hub is not connected, in words; null when connected. */
  readonly reason: string | null;
  /** Since when the hub has been without the broker (ms); null when connected. */
  readonly since: number | null;
}

function clock(ms: number): string {
  return `${new Date(ms).toISOString().slice(11, 19)} UTC`;
}

/**
 * The latest of each ward as the central broker delivers it: the retained uplink state,
 * health report and device summary, kept per ward (at most `maxWards`; more are refused
 * and counted). Summaries are made on demand, with the hub's own link to the broker
 * folded in: while the hub is cut off, it cannot vouch for any ward.
 */
export class WardRegistry {
  private readonly wards = new Map<string, WardRecord>();
  /** Messages from wards beyond the cap. */
  refused = 0;

  constructor(
    expected: readonly string[],
    private readonly maxWards: number,
  ) {
    for (const ward of expected) this.record(ward);
  }

  get size(): number {
    return this.wards.size;
  }

  /** Whether the ward is known or there is room for it; a refused ward is counted. */
  admits(ward: string): boolean {
    if (this.wards.has(ward) || this.wards.size < this.maxWards) return true;
    this.refused += 1;
    return false;
  }

  uplink(ward: string, message: UplinkStateMessage, now: number): void {
    const record = this.record(ward);
    record.uplink = { message, receivedAt: now };
    this.heard(record, message.site, now);
  }

  health(ward: string, message: UplinkHealthMessage, now: number): void {
    const record = this.record(ward);
    record.health = { message, receivedAt: now };
    const { dropped } = message.uplink;
    const previous = record.seq.lastReportedDropped;
    record.seq.explainedDrops += previous === null || dropped < previous ? dropped : dropped - previous;
    record.seq.lastReportedDropped = dropped;
    this.heard(record, message.site, now);
  }

  devices(ward: string, message: UplinkDevicesMessage, now: number): void {
    const record = this.record(ward);
    let online = 0;
    let underAlert = 0;
    for (const device of message.devices) {
      if (device.online) online += 1;
      if (device.openAlerts > 0) underAlert += 1;
    }
    record.devices = { total: message.devices.length, online, underAlert };
    this.heard(record, message.site, now);
  }

  /**
   * An alert message's `seq`. One more than the highest so far is the normal case; at or
   * below it is a resend (QoS 1 is at least once; the queue is sent again after a cut or a
   * restart of the agent) and ignored here; above it, the messages in between never
   * arrived, less those the ward says it dropped from its full queue (they are shown as
   * such). Seq 0 (the agent's outbox could not be written) says nothing. The hub's first
   * message of a ward only sets the start: what came before the hub started is not known.
   * Blind spot: an agent whose outbox file was deleted starts again at 1, and its gaps go
   * unseen until it passes the highest seq the hub saw (no false alarm, no detection).
   */
  alertSeq(ward: string, seq: number, now: number): void {
    if (seq === 0) return;
    const track = this.record(ward).seq;
    if (track.highest !== null && seq > track.highest + 1) {
      const gap = seq - track.highest - 1;
      const explained = Math.min(gap, track.explainedDrops);
      track.explainedDrops -= explained;
      // Counted anew once the last gap has aged out of the health view (below).
      const still = track.missing !== null && now - track.missing.lastAt < FAILURE_MEMORY_MS ? track.missing.count : 0;
      if (gap > explained) track.missing = { count: still + gap - explained, lastAt: now };
    }
    if (track.highest === null || seq > track.highest) track.highest = seq;
  }

  /** Any message (an alert too) shows the ward is there. */
  touch(ward: string, site: string, now: number): void {
    this.heard(this.record(ward), site, now);
  }

  /** Every ward, by name, with its verdict. */
  summaries(now: number, link: HubLinkState, openAlerts: ReadonlyMap<string, Readonly<Record<Severity, number>>>): WardSummaryView[] {
    return [...this.wards.keys()].sort().map((ward) => this.summary(this.wards.get(ward) ?? null, ward, now, link, openAlerts.get(ward) ?? NO_OPEN_ALERTS));
  }

  private summary(record: WardRecord | null, ward: string, now: number, link: HubLinkState, open: Readonly<Record<Severity, number>>): WardSummaryView {
    const reasons: string[] = [];
    let status: WardSummaryView['status'] = 'ok';
    const uplink = record?.uplink?.message ?? null;
    const health = record?.health ?? null;
    if (!link.connected) {
      status = 'offline';
      reasons.push(`the hub has not been connected to the central broker since ${link.since === null ? 'it started' : clock(link.since)}${link.reason === null ? '' : ` (${link.reason})`}: this ward's state is not known`);
    } else if (record === null || record.lastHeardAt === null) {
      status = 'offline';
      reasons.push('nothing received from this ward yet');
    } else if (uplink?.state === 'offline') {
      status = 'offline';
      const at = clock(record.uplink?.receivedAt ?? now);
      reasons.push(uplink.reason === 'stopped' ? `the ward's agent stopped (at ${at})` : `uplink lost: the central broker sent the ward's Last Will at ${at}; alerts are queued at the ward until it is back`);
    } else if (health !== null && now - health.receivedAt > STALE_AFTER_INTERVALS * health.message.intervalSeconds * 1000) {
      status = 'offline';
      reasons.push(`no health report for ${Math.round((now - health.receivedAt) / 1000)} s (expected every ${health.message.intervalSeconds} s)`);
    } else if (health?.message.health.status === 'degraded') {
      status = 'degraded';
      reasons.push(...health.message.health.reasons.map((reason) => `agent: ${reason}`));
    }
    const queue = health === null ? null : { queued: health.message.uplink.queued, dropped: health.message.uplink.dropped };
    if (status !== 'offline' && queue !== null && queue.dropped > 0) reasons.push(`${queue.dropped} alert changes were dropped from the ward's full uplink queue`);
    // Said for as long as an agent says a failing output (health/agent-health.ts), then it ages out.
    const missing = record?.seq.missing ?? null;
    if (missing !== null && now - missing.lastAt < FAILURE_MEMORY_MS) {
      reasons.push(`${missing.count} alert messages from ward ${ward} never arrived (a gap in its seq, the last seen at ${clock(missing.lastAt)})`);
      if (status === 'ok') status = 'degraded';
    }
    return {
      ward,
      site: record?.site ?? null,
      status,
      reasons,
      uplink: uplink === null ? 'unknown' : uplink.state,
      lastHeard: record?.lastHeardAt === null || record?.lastHeardAt === undefined ? null : new Date(record.lastHeardAt).toISOString(),
      openAlerts: { ...open },
      devices: record?.devices ?? null,
      queue,
    };
  }

  private record(ward: string): WardRecord {
    let record = this.wards.get(ward);
    if (record === undefined) {
      record = { ward, site: null, uplink: null, health: null, devices: null, lastHeardAt: null, seq: { highest: null, explainedDrops: 0, lastReportedDropped: null, missing: null } };
      this.wards.set(ward, record);
    }
    return record;
  }

  private heard(record: WardRecord, site: string, now: number): void {
    record.site = site;
    record.lastHeardAt = now;
  }
}
