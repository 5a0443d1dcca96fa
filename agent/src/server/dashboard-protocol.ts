/**
 * What the agent sends the dashboard over WebSocket (`/ws`) and HTTP (`/api/…`).
 * Shared by the server and the browser code (dashboard/src), so both compile against
 * one definition. Types only: no runtime code, so the dashboard bundle stays small.
 */

export type Severity = 'critical' | 'high' | 'warning' | 'info';
export type AlertState = 'open' | 'acknowledged';

export interface AlertAcknowledgement {
  /** Who acknowledged (the name typed at the station until dashboard accounts exist, issue 6). */
  readonly by: string;
  readonly at: string;
  readonly reason: string;
  /** Address the acknowledgement came from. */
  readonly from: string;
}

export interface AlertView {
  readonly id: string;
  readonly type: string;
  readonly severity: Severity;
  /** Event time of the first occurrence, ISO-8601. */
  readonly ts: string;
  /** Event time of the latest occurrence folded into this alert. */
  readonly lastTs: string;
  /** Occurrences folded into this alert by the suppression window. */
  readonly count: number;
  readonly deviceId: string | null;
  readonly ward: string | null;
  readonly bed: string | null;
  readonly location: string | null;
  /** One line a nurse understands at a glance. */
  readonly title: string;
  /** Evidence for the engineer: raw command, account, client id, address, rule, limits. */
  readonly evidence: Readonly<Record<string, unknown>>;
  readonly state: AlertState;
  readonly ack: AlertAcknowledgement | null;
}

export interface DeviceView {
  readonly id: string;
  readonly profile: 'infusion-pump' | 'pacemaker-programmer';
  readonly ward: string;
  readonly bed: string | null;
  readonly location: string | null;
  readonly careArea: string | null;
  readonly online: boolean;
  /** Last message from the device, ISO-8601, or null if never seen. */
  readonly lastSeen: string | null;
  /** Device-reported state: pump idle|running|paused|alarm|complete; programmer idle|open. */
  readonly state: string;
  /** Pump: drug, rate and dose in the library's unit, e.g. "heparin 18.0 mL/h = 22.5 units/kg/h". */
  readonly summary: string;
  readonly alarm: string | null;
  readonly openAlerts: number;
  readonly worstOpenSeverity: Severity | null;
}

export interface HealthView {
  readonly status: 'ok' | 'degraded';
  /** Plain-language reasons when degraded. */
  readonly reasons: readonly string[];
  readonly startedAt: string;
  readonly now: string;
  readonly mqttClients: number;
  readonly publishes: number;
  readonly anomalies: Readonly<Record<string, number>>;
  readonly alerts: number;
  /** The learned baseline's progress (issue 5); absent from agents that predate it. */
  readonly baseline?: BaselineHealthView;
}

export interface BaselineHealthView {
  readonly mode: 'learn' | 'monitor' | 'off';
  /** Whether learned deviations are alerted now (monitor mode, learning period over). */
  readonly judging: boolean;
  /** Event time learned so far, and the learning period, in hours. */
  readonly hoursLearned: number;
  readonly learningHours: number;
  readonly devicesLearned: number;
  /** Entries pushed out of full tables (DESIGN.md, principle 3: hitting a cap is observable). */
  readonly evictions: number;
}

export interface SiteView {
  readonly name: string;
  readonly ward: string;
}

export type ServerMessage =
  | { readonly type: 'snapshot'; readonly site: SiteView; readonly devices: readonly DeviceView[]; readonly alerts: readonly AlertView[]; readonly health: HealthView }
  | { readonly type: 'device'; readonly device: DeviceView }
  /** A new alert, or an update of one already sent (same id): count, lastTs, state. */
  | { readonly type: 'alert'; readonly alert: AlertView }
  /** Sent every HEALTH_INTERVAL_MS; a client that hears nothing for 3 intervals shows MONITORING OFFLINE. */
  | { readonly type: 'health'; readonly health: HealthView };

export const HEALTH_INTERVAL_MS = 2_000;

/** POST /api/alerts/:id/ack body. */
export interface AcknowledgeRequest {
  readonly by: string;
  readonly reason: string;
}
