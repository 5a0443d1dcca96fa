/**
 * What the agent sends the dashboard over WebSocket (`/ws`) and HTTP (`/api/…`).
 * Shared by the server and the browser code (dashboard/src), so both compile against
 * one definition. Types only: no runtime code, so the dashboard bundle stays small.
 */

export type Severity = 'critical' | 'high' | 'warning' | 'info';
export type AlertState = 'open' | 'acknowledged';

export interface AlertAcknowledgement {
  /** Who acknowledged: the username of the session that did (older alerts: the name typed at the station). */
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

/** How the nurse screen behaves, from the site config's `dashboard` section. */
export interface ScreenSettingsView {
  /** A critical alert still open this long after its first occurrence (`ts`) is shown escalated, and chimes every minute. */
  readonly escalateCriticalAfterSeconds: number;
}

export type ServerMessage =
  /** `screen` is absent from agents that predate it: the page then uses its defaults. */
  | { readonly type: 'snapshot'; readonly site: SiteView; readonly devices: readonly DeviceView[]; readonly alerts: readonly AlertView[]; readonly health: HealthView; readonly screen?: ScreenSettingsView }
  | { readonly type: 'device'; readonly device: DeviceView }
  /** A new alert, or an update of one already sent (same id): count, lastTs, state. */
  | { readonly type: 'alert'; readonly alert: AlertView }
  /** Sent every HEALTH_INTERVAL_MS; a client that hears nothing for 3 intervals shows MONITORING OFFLINE. */
  | { readonly type: 'health'; readonly health: HealthView };

export const HEALTH_INTERVAL_MS = 2_000;

/** POST /api/alerts/:id/ack body. Who acknowledges is the session's user, never a field of the request. */
export interface AcknowledgeRequest {
  readonly reason: string;
}

/** Dashboard roles and permissions (agent/src/auth/roles.ts); strings here, so the browser bundle stays free of it. */
export type RoleName = 'nurse' | 'biomed' | 'admin';

export interface SessionUser {
  readonly name: string;
  readonly role: RoleName;
}

/** GET /api/session, and the body of a successful login or enrolment. `user` null: not logged in. */
export type SessionView =
  | { readonly user: null }
  | {
      readonly user: SessionUser;
      /** Permission ids of the role (alerts.view, alerts.acknowledge, baseline.configure, users.manage, audit.view, …). */
      readonly permissions: readonly string[];
      /** The session ends after this long without a request. */
      readonly idleTimeoutSeconds: number;
    };

/** POST /api/login body. `code`: the 6-digit authenticator code, or a recovery code (xxxx-xxxx-xxxx). */
export interface LoginRequest {
  readonly username: string;
  readonly password: string;
  readonly code?: string;
}

/** 200 to POST /api/login. */
export type LoginResponse = Extract<SessionView, { readonly permissions: readonly string[] }> & {
  readonly method: 'totp' | 'recovery-code';
  /** Recovery codes left after a login with one. */
  readonly recoveryCodesLeft?: number;
};

/** 409 to POST /api/login: the password was right and the user has no authenticator yet. */
export interface EnrolmentOffer {
  readonly enrol: {
    readonly username: string;
    /** otpauth://totp/Wardwatch:<user>?secret=…: what a QR code would hold. */
    readonly uri: string;
    /** The same secret as RFC 4648 base32, for typing into an app by hand. */
    readonly secretBase32: string;
  };
}

/** POST /api/enrol body: the code the app shows for the new secret. */
export interface EnrolRequest {
  readonly code: string;
}

/** 200 to POST /api/enrol: logged in, and the recovery codes, shown this once. */
export type EnrolResponse = Extract<SessionView, { readonly permissions: readonly string[] }> & {
  readonly recoveryCodes: readonly string[];
};

/** Refusals of /api/login and /api/enrol (401, 403, 409, 423, 429) and of every other route. */
export interface ApiError {
  readonly error: string;
  /** 423 and 429: when to try again (also the Retry-After header). */
  readonly retryAfterSeconds?: number;
}

/** GET /api/users (admin): no hash, no secret. */
export interface DashboardUserView {
  readonly username: string;
  readonly role: RoleName;
  readonly mfaEnrolled: boolean;
  readonly recoveryCodesLeft: number;
  readonly disabled: boolean;
  readonly failedLogins: number;
  readonly lockedUntil: number | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** GET /api/audit (admin): the last entries of the hash-chained audit log, oldest first. */
export interface AuditEntryView {
  readonly seq: number;
  readonly ts: string;
  readonly actor: string;
  readonly from: string;
  readonly action: string;
  readonly details: Readonly<Record<string, unknown>>;
}

export interface AuditView {
  /** Whether the whole chain verified when this was read (`wardwatch audit verify` says where it breaks). */
  readonly chainIntact: boolean;
  readonly entries: readonly AuditEntryView[];
}

/** GET /api/baseline (biomed and admin): learning progress per device (agent/src/detect/baseline/baseline-status.ts). */
export interface BaselineStatusView {
  readonly saved: boolean;
  readonly mode: string;
  readonly learningHours: number;
  readonly learnedUntil: string | null;
  readonly events: number;
  readonly devicesCovered: number;
  readonly devicesTotal: number;
  readonly devices: readonly {
    readonly id: string;
    readonly profile: string;
    readonly state: string;
    readonly hoursLearned: number;
    readonly commands: number;
    readonly envelopes: number;
    readonly stableEnvelopes: number;
  }[];
}

/** The close code of a live feed whose session ended (logout, idle timeout, lifetime): log in again. */
export const SESSION_ENDED_CLOSE_CODE = 4401;
