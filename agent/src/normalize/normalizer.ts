import { createHash } from 'node:crypto';
import { decodeCommand } from '../model/command-validation.ts';
import { MAX_PAYLOAD_BYTES, parseWireTopic } from '../model/wire.ts';
import type { ClientIdentity, Observation, PublishObservation } from '../ingest/observation.ts';
import type { AccountRole } from '../model/site-schema.ts';
import type { EventSource, InventoryDevice, PipelineEvent, PublishedCommand } from './events.ts';
import type { Inventory } from './inventory.ts';
import { decodeTelemetry } from './telemetry-decoder.ts';
import { UNKNOWN_CLIENT_ID } from '../protocol/mqtt/index.ts';

/** Who sent a message seen through the MQTT tap: nobody the agent can name (DESIGN.md, way 2). */
export const TAP_SOURCE: EventSource = Object.freeze({ transport: 'mqtt-tap', clientId: '(not visible)', account: null, role: null, address: '(not visible)' });

/**
 * Observations → pipeline events through the device model: topic to device, payload to
 * a typed command or telemetry, identity to an account with its role. One observation
 * gives at most one event; what does not fit the contract becomes a named anomaly.
 */
export class Normalizer {
  constructor(
    private readonly inventory: Inventory,
    private readonly roleOf: (account: string) => AccountRole | null,
  ) {}

  private source(client: ClientIdentity): EventSource {
    // A captured session whose CONNECT the capture missed: nobody can say who it is.
    if (client.clientId === UNKNOWN_CLIENT_ID && client.username === null) {
      return { transport: 'mqtt-unattributed', clientId: client.clientId, account: null, role: null, address: client.address };
    }
    return {
      transport: 'mqtt',
      clientId: client.clientId,
      account: client.username,
      role: client.username === null ? null : this.roleOf(client.username),
      address: client.address,
    };
  }

  normalize(observation: Observation): PipelineEvent | null {
    switch (observation.kind) {
      case 'mqtt-publish':
        return this.normalizePublish(observation);
      case 'mqtt-connect':
        return { kind: 'client-connect', ts: observation.ts, source: this.source(observation.client) };
      case 'mqtt-disconnect':
        return { kind: 'client-disconnect', ts: observation.ts, source: this.source(observation.client) };
      case 'mqtt-auth-failure':
        return {
          kind: 'auth-failure',
          ts: observation.ts,
          attemptedUsername: observation.client.username,
          reason: observation.reason,
          clientId: observation.client.clientId,
          address: observation.client.address,
        };
      case 'mqtt-subscribe':
        return { kind: 'subscribe', ts: observation.ts, source: this.source(observation.client), topicFilters: observation.topicFilters };
      case 'mqtt-anomaly':
        return { kind: 'anomaly', ts: observation.ts, name: `mqtt-${observation.name}`, detail: observation.detail, topic: '(mqtt capture)', device: null, source: observation.client === null ? null : this.source(observation.client) };
      case 'capture-anomaly':
        return {
          kind: 'anomaly',
          ts: observation.ts,
          name: observation.name,
          detail: `${observation.source} → ${observation.destination}: ${observation.detail}`,
          topic: '(capture, IP layer)',
          device: null,
          source: { transport: 'ip', clientId: '(capture)', account: null, role: null, address: observation.source },
        };
      default:
        // Modbus observations have their own normalizer (modbus-normalizer.ts).
        return null;
    }
  }

  private anomaly(observation: PublishObservation, source: EventSource | null, device: InventoryDevice | null, name: string, detail: string): PipelineEvent {
    return { kind: 'anomaly', ts: observation.ts, name, detail, topic: observation.topic, device, source };
  }

  private normalizePublish(observation: PublishObservation): PipelineEvent | null {
    const wireTopic = parseWireTopic(observation.topic);
    const source = observation.client !== null ? this.source(observation.client) : observation.via === 'tap' ? TAP_SOURCE : null;
    if (wireTopic === null) return source === null ? null : { kind: 'other-publish', ts: observation.ts, topic: observation.topic, source };
    const device = this.inventory.device(wireTopic.deviceId) ?? null;
    if (observation.payload.length > MAX_PAYLOAD_BYTES) {
      return this.anomaly(observation, source, device, 'payload-oversize', `${observation.payload.length} bytes, limit ${MAX_PAYLOAD_BYTES}`);
    }
    if (device === null) {
      return this.anomaly(observation, source, null, 'unknown-device', `no device "${wireTopic.deviceId.slice(0, 64)}" in the inventory`);
    }
    const text = observation.payload.toString('utf8');
    switch (wireTopic.channel) {
      case 'command': {
        if (source === null) return null;
        const decoded = decodeCommand(device.profile, text);
        if (!decoded.ok) return this.anomaly(observation, source, device, decoded.anomaly, decoded.detail);
        return { kind: 'command', ts: observation.ts, device, message: decoded.message, spec: decoded.spec, source, retained: observation.retain, published: publishedCommand(observation) };
      }
      case 'telemetry': {
        const decoded = decodeTelemetry(device.profile, text);
        if (!decoded.ok) return this.anomaly(observation, source, device, decoded.anomaly, decoded.detail);
        return { kind: 'telemetry', ts: observation.ts, device, fields: decoded.fields, source };
      }
      case 'status': {
        if (text !== 'online' && text !== 'offline') {
          return this.anomaly(observation, source, device, 'status-invalid', 'status must be "online" or "offline"');
        }
        return { kind: 'status', ts: observation.ts, device, status: text, source };
      }
      case 'ack':
        return { kind: 'ack', ts: observation.ts, device, source };
    }
  }
}

/**
 * The publisher's QoS 1/2 header of a command and a digest of its bytes (events.ts,
 * PublishedCommand). Commands are a few dozen a day per device: one SHA-256 of at most
 * MAX_PAYLOAD_BYTES each costs nothing that matters; telemetry never comes here.
 */
function publishedCommand(observation: PublishObservation): PublishedCommand | undefined {
  const packet = observation.publisherPacket;
  if (packet === undefined || observation.qos === 0) return undefined;
  return { qos: observation.qos, dup: packet.dup, packetId: packet.packetId, connection: packet.connection, payloadDigest: createHash('sha256').update(observation.payload).digest('base64') };
}
