/**
 * What the page knows: the site, devices and alerts by id, the agent's last health
 * report, and the order in which alerts are listed. No DOM here; main.ts applies
 * messages to this state and hands the changed items to the views.
 */
import type { AlertView, DeviceView, HealthView, ServerMessage, Severity, SiteView } from '../../agent/src/server/dashboard-protocol.ts';
import { parseTime, SEVERITY_RANK } from './format.ts';

/**
 * Most acknowledged alerts the page keeps. Open alerts are never dropped on the client
 * (the agent bounds them); acknowledged ones are history, and the oldest go first
 * (DESIGN.md, "Everything is bounded").
 */
export const MAX_ACKNOWLEDGED_ALERTS = 500;

/** Sort keys of an alert, computed once per update rather than in every comparison. */
export interface AlertOrderKey {
  readonly id: string;
  readonly open: boolean;
  readonly rank: number;
  /** Latest occurrence, epoch ms (NaN sorts last). */
  readonly lastMs: number;
  /** Acknowledgement time, epoch ms. */
  readonly ackMs: number;
}

export function alertOrderKey(alert: AlertView): AlertOrderKey {
  return {
    id: alert.id,
    open: alert.state !== 'acknowledged',
    rank: SEVERITY_RANK[alert.severity] ?? SEVERITY_RANK.info + 1,
    lastMs: parseTime(alert.lastTs) || parseTime(alert.ts),
    ackMs: parseTime(alert.ack?.at),
  };
}

/** Newer first; unknown times after known ones. */
function newerFirst(a: number, b: number): number {
  const aKnown = !Number.isNaN(a);
  const bKnown = !Number.isNaN(b);
  if (aKnown && bKnown) return b - a;
  if (aKnown !== bKnown) return aKnown ? -1 : 1;
  return 0;
}

/**
 * Open alerts: most severe first (critical, high, warning, info), then the most recent
 * occurrence first. Acknowledged alerts: most recently acknowledged first. The id
 * breaks ties so the order is total and rows never swap at random.
 */
export function compareAlertKeys(a: AlertOrderKey, b: AlertOrderKey): number {
  if (a.open !== b.open) return a.open ? -1 : 1;
  if (a.open) {
    if (a.rank !== b.rank) return a.rank - b.rank;
  } else {
    const byAck = newerFirst(a.ackMs, b.ackMs);
    if (byAck !== 0) return byAck;
  }
  const byLast = newerFirst(a.lastMs, b.lastMs);
  if (byLast !== 0) return byLast;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

const bedCollator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/** Tiles: devices with a bed by bed number ("2" before "10"), then by location, then by id. */
export function compareDevices(a: DeviceView, b: DeviceView): number {
  const aBed = a.bed ?? '';
  const bBed = b.bed ?? '';
  if ((aBed === '') !== (bBed === '')) return aBed === '' ? 1 : -1;
  const byBed = bedCollator.compare(aBed, bBed);
  if (byBed !== 0) return byBed;
  const aLoc = a.location ?? '';
  const bLoc = b.location ?? '';
  if ((aLoc === '') !== (bLoc === '')) return aLoc === '' ? 1 : -1;
  const byLoc = bedCollator.compare(aLoc, bLoc);
  if (byLoc !== 0) return byLoc;
  return bedCollator.compare(a.id, b.id);
}

export interface OpenAlertSummary {
  readonly count: number;
  readonly worst: Severity | null;
}

const NO_OPEN_ALERTS: OpenAlertSummary = { count: 0, worst: null };

/** What changed when a message was applied, so views touch only those items. */
export interface AlertChange {
  readonly alert: AlertView;
  /** The version it replaced, if any (its device may differ). */
  readonly previous: AlertView | undefined;
}

export class DashboardState {
  site: SiteView | null = null;
  health: HealthView | null = null;
  readonly devices = new Map<string, DeviceView>();
  readonly alerts = new Map<string, AlertView>();
  /** deviceId → ids of its alerts, for the tile's "under alert" marker. */
  private readonly alertsByDevice = new Map<string, Set<string>>();

  /** A snapshot replaces everything: it is what the agent knows after a (re)connect. */
  applySnapshot(message: Extract<ServerMessage, { type: 'snapshot' }>): void {
    this.site = message.site;
    this.health = message.health;
    this.devices.clear();
    for (const device of message.devices) this.devices.set(device.id, device);
    this.alerts.clear();
    this.alertsByDevice.clear();
    for (const alert of message.alerts) this.upsertAlert(alert);
    this.trimAcknowledged();
  }

  upsertDevice(device: DeviceView): DeviceView | undefined {
    const previous = this.devices.get(device.id);
    this.devices.set(device.id, device);
    return previous;
  }

  /**
   * Inserts or updates an alert. Returns null when the update is older than what the
   * page already shows: the acknowledged alert from the POST /ack response can arrive
   * before a WebSocket update (still "open") that the agent sent earlier; an "open"
   * version with no new occurrence must not undo the acknowledgement on screen.
   */
  upsertAlert(alert: AlertView): AlertChange | null {
    const previous = this.alerts.get(alert.id);
    if (
      previous !== undefined &&
      previous.state === 'acknowledged' &&
      alert.state === 'open' &&
      alert.count <= previous.count &&
      !(parseTime(alert.lastTs) > parseTime(previous.lastTs))
    ) {
      return null;
    }
    this.alerts.set(alert.id, alert);
    if (previous !== undefined && previous.deviceId !== alert.deviceId) this.unindex(previous);
    if (alert.deviceId !== null) {
      let ids = this.alertsByDevice.get(alert.deviceId);
      if (ids === undefined) {
        ids = new Set();
        this.alertsByDevice.set(alert.deviceId, ids);
      }
      ids.add(alert.id);
    }
    return { alert, previous };
  }

  /** Drops the oldest acknowledged alerts beyond the cap; returns their ids. */
  trimAcknowledged(): string[] {
    const acknowledged: AlertOrderKey[] = [];
    for (const alert of this.alerts.values()) if (alert.state === 'acknowledged') acknowledged.push(alertOrderKey(alert));
    if (acknowledged.length <= MAX_ACKNOWLEDGED_ALERTS) return [];
    acknowledged.sort(compareAlertKeys);
    const dropped = acknowledged.slice(MAX_ACKNOWLEDGED_ALERTS).map((key) => key.id);
    for (const id of dropped) {
      const alert = this.alerts.get(id);
      if (alert === undefined) continue;
      this.alerts.delete(id);
      this.unindex(alert);
    }
    return dropped;
  }

  /** Open alerts of one device and the worst of their severities. */
  openAlertsOf(deviceId: string): OpenAlertSummary {
    const ids = this.alertsByDevice.get(deviceId);
    if (ids === undefined) return NO_OPEN_ALERTS;
    let count = 0;
    let worst: Severity | null = null;
    for (const id of ids) {
      const alert = this.alerts.get(id);
      if (alert === undefined || alert.state !== 'open') continue;
      count += 1;
      if (worst === null || SEVERITY_RANK[alert.severity] < SEVERITY_RANK[worst]) worst = alert.severity;
    }
    return count === 0 ? NO_OPEN_ALERTS : { count, worst };
  }

  countByState(): { readonly open: number; readonly acknowledged: number; readonly worstOpen: Severity | null } {
    let open = 0;
    let acknowledged = 0;
    let worstOpen: Severity | null = null;
    for (const alert of this.alerts.values()) {
      if (alert.state === 'open') {
        open += 1;
        if (worstOpen === null || SEVERITY_RANK[alert.severity] < SEVERITY_RANK[worstOpen]) worstOpen = alert.severity;
      } else {
        acknowledged += 1;
      }
    }
    return { open, acknowledged, worstOpen };
  }

  private unindex(alert: AlertView): void {
    if (alert.deviceId === null) return;
    const ids = this.alertsByDevice.get(alert.deviceId);
    if (ids === undefined) return;
    ids.delete(alert.id);
    if (ids.size === 0) this.alertsByDevice.delete(alert.deviceId);
  }
}
