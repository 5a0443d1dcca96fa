/**
 * The MQTT wire contract shared by the devices, the stations and the agent
 * (docs/protocol.md). Topics are `ward/<deviceId>/<channel>`.
 */

export const TOPIC_ROOT = 'ward';
export const WIRE_CHANNELS = ['telemetry', 'command', 'ack', 'status'] as const;
export type WireChannel = (typeof WIRE_CHANNELS)[number];

/** Largest payload the agent decodes; larger ones are the `payload-oversize` anomaly. */
export const MAX_PAYLOAD_BYTES = 16 * 1024;

export interface WireTopic {
  readonly deviceId: string;
  readonly channel: WireChannel;
}

export function topicFor(deviceId: string, channel: WireChannel): string {
  return `${TOPIC_ROOT}/${deviceId}/${channel}`;
}

/** Parses `ward/<deviceId>/<channel>`; anything else is not part of the contract (null). */
export function parseWireTopic(topic: string): WireTopic | null {
  const first = topic.indexOf('/');
  if (first < 0 || topic.slice(0, first) !== TOPIC_ROOT) return null;
  const second = topic.indexOf('/', first + 1);
  if (second < 0 || topic.indexOf('/', second + 1) >= 0) return null;
  const deviceId = topic.slice(first + 1, second);
  const channel = topic.slice(second + 1);
  if (deviceId.length === 0 || !(WIRE_CHANNELS as readonly string[]).includes(channel)) return null;
  return { deviceId, channel: channel as WireChannel };
}

export type ParamValue = number | string | boolean;

/** `ward/<id>/command`: what a station sends a device. */
export interface CommandMessage {
  readonly id: string;
  readonly ts: string;
  readonly issuer: string;
  readonly user: string;
  readonly command: string;
  readonly params: Readonly<Record<string, ParamValue>>;
}

/** `ward/<id>/ack`: the device's answer to a command, by command id. */
export interface AckMessage {
  readonly id: string;
  readonly ts: string;
  readonly ok: boolean;
  readonly error?: string;
}

/** `ward/<id>/telemetry`: device state every few seconds; fields per profile. */
export interface TelemetryMessage {
  readonly ts: string;
  readonly [field: string]: ParamValue;
}

/** Retained on `ward/<id>/status`, `offline` set through the MQTT last will. */
export type DeviceStatus = 'online' | 'offline';

/** ECMAScript's Date range: ±8.64e15 ms (ECMA-262 §21.4.1.1); beyond it toISOString throws. */
const MAX_DATE_MS = 8.64e15;

/** Whether an event time off the wire (a capture's timestamp, say) can be a date at all. */
export function isValidEventTime(ms: number): boolean {
  return Number.isFinite(ms) && Math.abs(ms) <= MAX_DATE_MS;
}

/** ISO-8601 of an event time; never throws (an impossible time reads as the epoch). */
export function eventTimeIso(ms: number): string {
  return new Date(isValidEventTime(ms) ? ms : 0).toISOString();
}
