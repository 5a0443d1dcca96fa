import type { UplinkDevicesMessage, UplinkHealthMessage, UplinkStateMessage } from '../export/uplink-protocol.ts';
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
      record = { ward, site: null, uplink: null, health: null, devices: null, lastHeardAt: null };
      this.wards.set(ward, record);
    }
    return record;
  }

  private heard(record: WardRecord, site: string, now: number): void {
    record.site = site;
    record.lastHeardAt = now;
  }
}
