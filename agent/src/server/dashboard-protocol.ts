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
  /** At `wardwatch hub` only: the ward (its agent's site.ward, from the uplink topic) that raised the alert, or HUB_ORIGIN for the hub's own. */
  readonly origin?: string;
}

/**
 * The `origin` of an alert the hub raised itself (a burst of failed logins at its own
 * dashboard). Not a possible ward name (model/uplink-schema.ts TOPIC_LEVEL has no
 * parentheses), so no ward can send an alert under it or be mistaken for it.
 */
export const HUB_ORIGIN = '(hub)';

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
  | { readonly type: 'snapshot'; readonly site: SiteView; readonly devices: readonly DeviceView[]; readonly alerts: readonly AlertView[]; readonly health: HealthView; readonly screen?: ScreenSettingsView; readonly wards?: readonly WardSummaryView[] }
  | { readonly type: 'device'; readonly device: DeviceView }
  /** A new alert, or an update of one already sent (same id): count, lastTs, state. */
  | { readonly type: 'alert'; readonly alert: AlertView }
  /** Sent every HEALTH_INTERVAL_MS; a client that hears nothing for 3 intervals shows MONITORING OFFLINE. */
  | { readonly type: 'health'; readonly health: HealthView }
  /** `wardwatch hub` only: the ward overview, sent whole when a ward's state or alert counts change. */
  | { readonly type: 'wards'; readonly wards: readonly WardSummaryView[] };

/**
 * One ward as `wardwatch hub` sees it through the central broker (agent/src/hub/): GET
 * /api/wards, the snapshot's `wards` and the `wards` message. `offline`: the ward's uplink
 * is down (its Last Will, or a clean stop), its health reports stopped coming, or the hub
 * itself has lost the broker; `degraded`: the ward's agent says so.
 */
export interface WardSummaryView {
  readonly ward: string;
  /** The site name the ward's agent reports; null before its first message. */
  readonly site: string | null;
  readonly status: 'ok' | 'degraded' | 'offline';
  /** Plain-language reasons when not ok: the uplink's state, staleness, the agent's own reasons. */
  readonly reasons: readonly string[];
  /** The retained uplink state: `unknown` before the first one. */
  readonly uplink: 'online' | 'offline' | 'unknown';
  /** When the hub last received anything from the ward, ISO-8601; null if never. */
  readonly lastHeard: string | null;
  /** Open alerts the hub holds for the ward, by severity. */
  readonly openAlerts: Readonly<Record<Severity, number>>;
  /** From the ward's last device summary; null before the first. */
  readonly devices: { readonly total: number; readonly online: number; readonly underAlert: number } | null;
  /** The ward's uplink queue as its last health report gave it; null before the first. */
  readonly queue: { readonly queued: number; readonly dropped: number } | null;
}

export const HEALTH_INTERVAL_MS = 2_000;

/** POST /api/alerts/:id/ack body. Who acknowledges is the session's user, never a field of the request. */
export interface AcknowledgeRequest {
  readonly reason: string;
}

/** POST /api/alerts/:id/accept-baseline body (biomed, admin). Who accepts is the session's user, never a field of the request. */
export interface AcceptBaselineRequest {
  readonly reason: string;
}

/**
 * What accepting a learned alert adds to the baseline: the `baseline.accept` of its evidence
 * (agent/src/detect/baseline/baseline-finding.ts BaselineAcceptance). `level` group: for
 * every device of the device's kind on the ward (values: in the care area of `key`).
 */
export interface BaselineAcceptanceView {
  readonly device: string;
  readonly table: 'value' | 'commander' | 'origin' | 'hour' | 'transition' | 'pusher' | 'version' | 'cadence';
  readonly key: string;
  readonly value?: number | string;
  readonly unit?: string;
  /** Group-level entries (values judged across the ward) are accepted for the device's kind. */
  readonly level: 'device' | 'group';
}

/** 200 to POST /api/alerts/:id/accept-baseline. */
export interface BaselineAcceptedResponse {
  /** The alert afterwards: acknowledged ("accepted into the baseline: <reason>") if it was open. */
  readonly alert: AlertView;
  readonly accepted: BaselineAcceptanceView;
  /** False when the alert had been acknowledged before. */
  readonly acknowledged: boolean;
  /** Whether baseline.json was written; the accepted baseline is judged by at once either way, and saved at the next interval. */
  readonly saved: boolean;
}

/** Dashboard roles and permissions (agent/src/auth/roles.ts); strings here, so the browser bundle stays free of it. */
export type RoleName = 'display' | 'nurse' | 'biomed' | 'admin';

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
      /** The session ends after this long without a request; null for a wall display's session, which has no idle timeout. */
      readonly idleTimeoutSeconds: number | null;
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
  /** A stable code beside the message, where a route has several refusals of one status (accept-baseline's 409s). */
  readonly code?: string;
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

/**
 * GET /api/config (biomed and admin: `devices.configure`): the site configuration the agent
 * runs with, read-only (agent/src/server/config-view.ts). Each field is copied by name from
 * the frozen config, so no password, password hash, key, key file or token is ever in it.
 * The agent edits nothing live: changes are made in the site config file, checked with
 * `wardwatch config check`, and take effect when the agent restarts. Not at `wardwatch hub` (404).
 */
export interface SiteConfigView {
  readonly site: { readonly name: string; readonly ward: string; readonly timezone: string };
  readonly devices: readonly ConfigDeviceView[];
  readonly drugLibrary: { readonly version: string; readonly careAreas: readonly ConfigCareAreaView[] };
  readonly policy: readonly ConfigPolicyRuleView[];
  readonly mqtt: { readonly allowAnonymous: boolean; readonly accounts: readonly ConfigAccountView[] };
  readonly outputs: ConfigOutputsView;
}

export interface ConfigDeviceView {
  readonly id: string;
  readonly profile: DeviceView['profile'];
  readonly ward: string;
  readonly bed: string | null;
  readonly location: string | null;
  readonly careArea: string | null;
  /** Its network identity: the MQTT username it connects with, and the Modbus/TCP target behind a gateway (host:port). */
  readonly account: string;
  readonly modbusTarget: string | null;
  readonly spare: boolean;
}

/** Limits in the drug's dose unit (or the bolus unit); null where the library sets none. */
export interface ConfigLimitsView {
  readonly softMin: number | null;
  readonly softMax: number | null;
  readonly hardMin: number | null;
  readonly hardMax: number | null;
}

export interface ConfigDrugView extends ConfigLimitsView {
  readonly drug: string;
  readonly concentration: { readonly amount: number; readonly unit: string; readonly volumeMl: number };
  readonly doseUnit: string;
  readonly highAlert: boolean;
  readonly bolus: (ConfigLimitsView & { readonly unit: string }) | null;
}

export interface ConfigCareAreaView {
  readonly name: string;
  readonly drugs: readonly ConfigDrugView[];
}

/** Empty lists and null fields: the rule does not select by them. */
export interface ConfigPolicyRuleView {
  readonly id: string;
  readonly description: string | null;
  readonly accounts: readonly string[];
  readonly roles: readonly string[];
  readonly addresses: readonly string[];
  readonly devices: { readonly ids: readonly string[]; readonly profile: string | null; readonly ward: string | null };
  /** Command names, or "*". */
  readonly commands: readonly string[];
}

/** An MQTT account: never its password or password hash. */
export interface ConfigAccountView {
  readonly username: string;
  readonly role: string;
  readonly description: string | null;
}

/** The outputs that are on (null or empty: off), without their credentials. */
export interface ConfigOutputsView {
  readonly influxdb: { readonly url: string; readonly database: string } | null;
  readonly syslog: readonly { readonly transport: string; readonly target: string }[];
  readonly uplink: { readonly url: string; readonly topicPrefix: string; readonly clientCertificate: ConfigClientCertificateView | null } | null;
}

/**
 * Where an output is with the client certificate it presents, read once at its start:
 * `pending` before that; `read`; `unreadable` when the files could not be read or used
 * (changed since the config was checked); `not-attempted` when the start stopped before
 * them (the CA file). The reason, which names the file, is in the agent's log only.
 */
export type ClientCertificateState = 'pending' | 'read' | 'unreadable' | 'not-attempted';

/**
 * A client certificate an output presents (null where it has none): its state, and its
 * subject and expiry once read (null otherwise). Never its key, nor the files' paths, nor
 * why it could not be read.
 */
export interface ConfigClientCertificateView {
  readonly state: ClientCertificateState;
  readonly subject: string | null;
  readonly validTo: string | null;
}

/** Chart families of the device page: one chart each, one unit each. */
export type HistoryFamily = 'dose' | 'rate' | 'volume' | 'battery' | 'pacing-rate' | 'pacing-amplitude' | 'pacing-width';

/** Limits drawn on a chart, in the series' unit; null where a side has none. */
export interface HistoryLimitsView {
  /** `drug-library`: the site's DERS limits (soft: warn, hard: refuse); `device`: the profile's programmable range. */
  readonly kind: 'drug-library' | 'device';
  /** Where they come from, in words: "ICU drug library: heparin", "heparin (ICU) limits at 80 kg". */
  readonly source: string;
  readonly unit: string;
  readonly hardMin: number | null;
  readonly hardMax: number | null;
  readonly softMin: number | null;
  readonly softMax: number | null;
}

/** The learned envelope the baseline judges this quantity by (agent/src/detect/baseline/baseline-value-detector.ts). */
export interface LearnedEnvelopeView {
  /** `device`: this device's own; `group`: the ward's devices of its kind (in its care area), while the device has too little history. */
  readonly level: 'device' | 'group';
  /** Baseline table key: `heparin/dose`, `ICU/heparin/rate`, `program/lower_rate_ppm`. */
  readonly key: string;
  readonly low: number;
  readonly high: number;
  readonly unit: string;
  readonly samples: number;
  /** Its bounds held over the last 20 samples. */
  readonly stable: boolean;
  /** Bounds an engineer wrote in an imported baseline. */
  readonly pinned: boolean;
  /** Whether a value outside it is alerted now (monitor mode, after the learning period). */
  readonly judged: boolean;
}

export interface HistorySeriesView {
  /** `rate_ml_h`, `dose:ICU/heparin`, `lower_rate_ppm`, … */
  readonly key: string;
  readonly family: HistoryFamily;
  readonly label: string;
  readonly unit: string;
  /** `telemetry`: the device's own report; `command`: the values it was programmed with. */
  readonly source: 'telemetry' | 'command';
  /** Start of each bucket, epoch milliseconds of event time, oldest first; only buckets with a value. */
  readonly t: readonly number[];
  /** The last value in each bucket, and the bucket's minimum and maximum. */
  readonly last: readonly number[];
  readonly min: readonly number[];
  readonly max: readonly number[];
  readonly limits: HistoryLimitsView | null;
  /** Null while learning: fewer than `baseline.minSamples` samples, or nothing learned for this quantity. */
  readonly envelope: LearnedEnvelopeView | null;
}

export interface CommandMarkerView {
  /** Event time, epoch milliseconds. */
  readonly ts: number;
  readonly command: string;
  /** Who sent it, as far as the agent could see: an account, a Modbus master, or "not visible (…)". */
  readonly sender: string;
  /** As EventSource's (normalize/events.ts); a command is never seen at the IP layer alone, so never `ip` in practice. */
  readonly transport: 'mqtt' | 'modbus' | 'mqtt-tap' | 'mqtt-unattributed' | 'ip';
  /** The parameters the device profile declares for the command. */
  readonly params: Readonly<Record<string, number | string | boolean>>;
  /** Values to plot on the series of the same key: the commanded rate and the dose it means. */
  readonly values: Readonly<Record<string, number>>;
}

/** What the agent believes a pump is infusing (drug, care area, weight and the rate last known). */
export interface InfusionView {
  readonly drug: string;
  readonly careArea: string;
  readonly weightKg: number;
  readonly rateMlPerHour: number;
  /** The rate in the drug library's dose unit; null when the drug is not in the care area's library. */
  readonly dose: number | null;
  readonly doseUnit: string | null;
}

/**
 * GET /api/devices/<id>/history (issue 6, engineer view): the device's last 24 h of event
 * time, one point per minute, kept in the agent's memory only (agent/src/store/device-history.ts;
 * not kept across restarts: InfluxDB is the long-term store).
 */
export interface DeviceHistoryView {
  readonly device: DeviceView;
  /** A pump's infusion; null for a programmer or an idle pump. */
  readonly infusion: InfusionView | null;
  /** Width of one point (60). */
  readonly resolutionSeconds: number;
  /** Span kept (24). */
  readonly windowHours: number;
  /** Start of the window and newest event recorded, ISO-8601; null before the device's first event. */
  readonly from: string | null;
  readonly until: string | null;
  /** Non-empty series, the current drug's dose first. */
  readonly series: readonly HistorySeriesView[];
  /** Commands the device received in the window, oldest first. */
  readonly markers: readonly CommandMarkerView[];
  /** Caps hit on this device's history (DESIGN.md, principle 3). */
  readonly dropped: {
    /** Events older than the window when they came. */
    readonly late: number;
    readonly seriesEvicted: number;
    readonly markersEvicted: number;
    readonly unrepresentable: number;
  };
  readonly baseline: {
    readonly mode: 'learn' | 'monitor' | 'off';
    /** Learned deviations are alerted for this kind of device now. */
    readonly judging: boolean;
  };
}

/** The close code of a live feed whose session ended (logout, idle timeout, lifetime): log in again. */
export const SESSION_ENDED_CLOSE_CODE = 4401;
