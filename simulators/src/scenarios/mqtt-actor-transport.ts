import { connectAsync, type MqttClient } from 'mqtt';
import { topicMatchesFilter } from '../../../agent/src/model/topic-filter.ts';
import type { MessageHandler } from '../transports/device-link.ts';
import type { ActorSession, ActorTransport, ConnectRequest } from './actor-transport.ts';

/** MQTT 3.1.1 §3.2.2.3: CONNACK return codes that mean "your credentials", not "the network". */
const REFUSED_LOGIN_CODES = new Set([4, 5]);

function isRefusedLogin(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' && REFUSED_LOGIN_CODES.has(code);
}

class MqttActorSession implements ActorSession {
  private readonly handlers: { filter: string; handler: MessageHandler }[] = [];

  constructor(private readonly client: MqttClient) {
    client.on('message', (topic, payload) => {
      for (const { filter, handler } of this.handlers) if (topicMatchesFilter(filter, topic)) handler(topic, payload);
    });
  }

  publish(topic: string, payload: string | Buffer, options: { retain: boolean; qos: 0 | 1 }): void {
    this.client.publish(topic, payload, options);
  }

  subscribe(filter: string, onMessage: MessageHandler): void {
    this.handlers.push({ filter, handler: onMessage });
    this.client.subscribe(filter, { qos: 0 });
  }

  async close(): Promise<void> {
    await this.client.endAsync();
  }
}

/**
 * Actors over real MQTT, for `sim scenario run` against a running agent. Each actor is
 * its own mqtt.js client (MQTT 3.1.1, as the agent's broker speaks), with no automatic
 * reconnect: a scenario decides when to connect. The source address is the machine's.
 */
export class MqttActorTransport implements ActorTransport {
  constructor(private readonly brokerUrl: string) {}

  async connect(request: ConnectRequest): Promise<ActorSession | null> {
    try {
      const client = await connectAsync(this.brokerUrl, {
        username: request.username,
        password: request.password,
        clientId: request.clientId,
        protocolVersion: 4,
        reconnectPeriod: 0,
        connectTimeout: 5_000,
      });
      return new MqttActorSession(client);
    } catch (error) {
      if (isRefusedLogin(error)) return null;
      throw error;
    }
  }
}
