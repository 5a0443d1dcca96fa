import { z } from 'zod';

/**
 * What a ward's agent sends the central broker and `wardwatch hub` reads (docs/protocol.md,
 * "Uplink"): four topics per ward under a prefix, each payload versioned JSON. The schemas
 * are the hub's check of what arrives: the broker is shared by every ward, so a payload
 * is network input like any other (checked, bounded, never trusted to be well formed).
 *
 * `v` changes only when a payload changes incompatibly; fields may be added within a
 * version, and readers ignore what they do not know.
 */
export const UPLINK_PROTOCOL_VERSION = 1;

export const UPLINK_TOPIC_KINDS = ['alerts', 'health', 'devices', 'uplink'] as const;
export type UplinkTopicKind = (typeof UPLINK_TOPIC_KINDS)[number];

/** A payload larger than this is not parsed (DESIGN.md, principle 3): 1 MiB holds a 2,000-device summary. */
export const MAX_UPLINK_PAYLOAD_BYTES = 1024 * 1024;
/** Most devices one summary may list. */
export const MAX_UPLINK_DEVICES = 2_000;

export function uplinkTopic(prefix: string, ward: string, kind: UplinkTopicKind): string {
  return `${prefix}/${ward}/${kind}`;
}

/** What the hub subscribes to: every ward's four topics, `<prefix>/+/+`. */
export function uplinkSubscription(prefix: string): string {
  return `${prefix}/+/+`;
}

/** `<prefix>/<ward>/<kind>` → ward and kind; null for anything else under the prefix. */
export function parseUplinkTopic(prefix: string, topic: string): { readonly ward: string; readonly kind: UplinkTopicKind } | null {
  if (!topic.startsWith(`${prefix}/`)) return null;
  const rest = topic.slice(prefix.length + 1).split('/');
  if (rest.length !== 2) return null;
  const [ward, kind] = rest as [string, string];
  if (ward === '' || !(UPLINK_TOPIC_KINDS as readonly string[]).includes(kind)) return null;
  return { ward, kind: kind as UplinkTopicKind };
}

const text = (max: number) => z.string().max(max);
/** Free text an alert carries (its title quotes what senders typed): cut to `max` rather than refused, so that a long one still shows. */
const clipped = (max: number) => z.string().transform((value) => (value.length > max ? `${value.slice(0, max - 1)}…` : value));
const isoTime = z.string().min(1).max(40);
const severity = z.enum(['critical', 'high', 'warning', 'info']);

/** An alert as the agent's dashboard has it (server/dashboard-protocol.ts AlertView), bounded. */
export const uplinkAlertSchema = z.object({
  // The dashboard's alert page address takes ids of this form (dashboard/src/alert-page.ts).
  id: z.string().regex(/^[A-Za-z0-9-]{1,64}$/),
  type: text(64),
  severity,
  ts: isoTime,
  lastTs: isoTime,
  count: z.number().int().min(1),
  deviceId: text(64).nullable(),
  ward: text(32).nullable(),
  bed: text(16).nullable(),
  location: text(64).nullable(),
  title: clipped(2_000),
  evidence: z.record(z.string(), z.unknown()),
  state: z.enum(['open', 'acknowledged']),
  ack: z.object({ by: clipped(128), at: isoTime, reason: clipped(200), from: clipped(64) }).nullable(),
});

const envelope = {
  v: z.number().int().min(1),
  /** Repeats the topic's ward; the hub believes the topic (the broker's ACL ties it to the account). */
  ward: text(32),
  site: text(100),
};

/** `<prefix>/<ward>/alerts`, QoS 1, not retained: one alert change. */
export const alertMessageSchema = z.object({
  ...envelope,
  /** Position in the ward's outbox: increases by one per queued alert change; a gap means changes dropped from a full queue. */
  seq: z.number().int().nonnegative(),
  change: z.enum(['raised', 'repeated', 'acknowledged']),
  alert: uplinkAlertSchema,
});

/** The queue's figures as outbound/outbound.ts OutboundStats has them. */
const uplinkStatsSchema = z.object({
  queued: z.number().int().nonnegative(),
  capacity: z.number().int().nonnegative(),
  sent: z.number().int().nonnegative(),
  dropped: z.number().int().nonnegative(),
  failures: z.number().int().nonnegative(),
  oldestQueuedAt: z.number().nullable(),
});

/** `<prefix>/<ward>/health`, QoS 1, retained: the agent's own verdict (health/agent-health.ts view()). */
export const healthMessageSchema = z.object({
  ...envelope,
  ts: isoTime,
  /** How often the report comes: the hub calls a ward stale after three of these without one. */
  intervalSeconds: z.number().positive().max(86_400),
  health: z.looseObject({
    status: z.enum(['ok', 'degraded']),
    reasons: z.array(clipped(500)).max(100),
  }),
  uplink: uplinkStatsSchema,
});

/** A device as the agent's dashboard tiles show it (DeviceView), only what the hub needs checked. */
export const uplinkDeviceSchema = z.looseObject({
  id: text(64),
  profile: text(64),
  ward: text(32),
  bed: text(16).nullable(),
  location: text(64).nullable(),
  online: z.boolean(),
  lastSeen: isoTime.nullable(),
  state: text(64),
  summary: text(500),
  openAlerts: z.number().int().nonnegative(),
  worstOpenSeverity: severity.nullable(),
});

/** `<prefix>/<ward>/devices`, QoS 1, retained: the ward's inventory and each device's state. */
export const devicesMessageSchema = z.object({
  ...envelope,
  ts: isoTime,
  devices: z.array(uplinkDeviceSchema).max(MAX_UPLINK_DEVICES),
});

/**
 * `<prefix>/<ward>/uplink`, QoS 1, retained: `online` when the agent connects; `offline`
 * when it stops cleanly, or, as its Last Will, when the broker loses it without a
 * DISCONNECT [MQTT-3.1.2-8] (a cut cable, a crash, a keepalive timeout).
 */
export const uplinkStateMessageSchema = z.object({
  ...envelope,
  state: z.enum(['online', 'offline']),
  /** When the agent made the message: for a Last Will, when it connected (the broker sends it unchanged). */
  ts: isoTime,
  /** `stopped` (clean stop), `connection-lost` (the Last Will); absent when online. */
  reason: z.enum(['stopped', 'connection-lost']).optional(),
});

export type UplinkAlertMessage = z.infer<typeof alertMessageSchema>;
export type UplinkHealthMessage = z.infer<typeof healthMessageSchema>;
export type UplinkDevicesMessage = z.infer<typeof devicesMessageSchema>;
export type UplinkStateMessage = z.infer<typeof uplinkStateMessageSchema>;
export type UplinkAlertChange = UplinkAlertMessage['change'];
