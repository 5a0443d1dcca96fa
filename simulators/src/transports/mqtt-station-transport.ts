import type { AckMessage, CommandMessage } from '../../../agent/src/model/wire.ts';
import { parseWireTopic, topicFor } from '../../../agent/src/model/wire.ts';
import type { DeviceLink } from './device-link.ts';
import type { OutcomeHandler, StationTransport, TelemetryHandler } from './station-transport.ts';

/**
 * A station on the MQTT wire contract (docs/protocol.md): commands published with QoS 1
 * on `ward/<id>/command`, acks from `ward/<id>/ack`, telemetry from `ward/<id>/telemetry`.
 * Acks to other stations' commands share the topic; the command channel keeps only its own.
 */

function parseAck(payload: Buffer): AckMessage | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const record = parsed as Record<string, unknown>;
  if (typeof record.id !== 'string' || typeof record.ok !== 'boolean' || typeof record.ts !== 'string') return null;
  return typeof record.error === 'string'
    ? { id: record.id, ts: record.ts, ok: record.ok, error: record.error }
    : { id: record.id, ts: record.ts, ok: record.ok };
}

function parseTelemetry(payload: Buffer): Record<string, unknown> | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch {
    return null;
  }
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
}

export class MqttStationTransport implements StationTransport {
  constructor(private readonly link: DeviceLink) {}

  watchOutcomes(deviceId: string, onOutcome: OutcomeHandler): void {
    this.link.subscribe(topicFor(deviceId, 'ack'), (topic, payload) => {
      const ack = parseAck(payload);
      const from = parseWireTopic(topic)?.deviceId;
      if (ack !== null && from !== undefined) onOutcome(from, ack);
    });
  }

  watchTelemetry(deviceId: string, onTelemetry: TelemetryHandler): void {
    this.link.subscribe(topicFor(deviceId, 'telemetry'), (topic, payload) => {
      const telemetry = parseTelemetry(payload);
      const from = parseWireTopic(topic)?.deviceId;
      if (telemetry !== null && from !== undefined) onTelemetry(from, telemetry);
    });
  }

  send(deviceId: string, message: CommandMessage): void {
    this.link.publish(topicFor(deviceId, 'command'), JSON.stringify(message), { qos: 1 });
  }

  close(): Promise<void> {
    return this.link.close();
  }
}
