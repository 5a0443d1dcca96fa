import type { SimClock } from '../../../simulators/src/clock.ts';
import type { ActorSession, ActorTransport, ConnectRequest } from '../../../simulators/src/scenarios/actor-transport.ts';
import type { DeviceLink, LinkFactory, LinkIdentity, MessageHandler, PublishOptions } from '../../../simulators/src/transports/device-link.ts';
import type { MemoryBus, MemoryLink } from '../../../simulators/src/transports/memory-bus.ts';
import type { MqttAccountVerifier } from '../ingest/mqtt-account-verifier.ts';
import type { ClientIdentity, ObservationSink } from '../ingest/observation.ts';

/** A connected client of the in-process broker, seen as the agent's broker would see it. */
class ObservedLink implements DeviceLink, ActorSession {
  muted = false;
  private closed = false;

  constructor(
    readonly identity: ClientIdentity,
    private readonly link: MemoryLink,
    private readonly broker: InProcessBroker,
  ) {}

  publish(topic: string, payload: string | Buffer, options?: PublishOptions): void {
    if (this.muted || this.closed) return;
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const retain = options?.retain ?? false;
    this.broker.observe({ kind: 'mqtt-publish', ts: this.broker.now(), client: this.identity, topic, payload: bytes, retain, qos: options?.qos ?? 0 });
    this.link.publish(topic, bytes.toString('utf8'), { retain, qos: options?.qos ?? 0 });
  }

  subscribe(filter: string, onMessage: MessageHandler): void {
    if (this.closed) return;
    this.broker.observe({ kind: 'mqtt-subscribe', ts: this.broker.now(), client: this.identity, topicFilters: [filter] });
    this.link.subscribe(filter, onMessage);
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.broker.observe({ kind: 'mqtt-disconnect', ts: this.broker.now(), client: this.identity });
    }
    return this.link.close();
  }
}

/**
 * The broker of an evaluation: the simulators' in-process MemoryBus for delivery, the
 * agent's own account verifier for logins, and an Observation for every login, refusal,
 * subscription, publish and disconnect, stamped with the virtual clock — what the
 * embedded aedes broker reports live (ingest/mqtt-broker.ts). It exists so that a day of
 * ward traffic and an attack run in virtual time in a second; parity with the real broker
 * is checked by running the same scenario files live (`sim scenario run`).
 */
export class InProcessBroker implements ActorTransport {
  private readonly clients = new Map<string, ObservedLink>();

  constructor(
    private readonly bus: MemoryBus,
    private readonly verifier: MqttAccountVerifier,
    private readonly sink: ObservationSink,
    private readonly clock: SimClock,
  ) {}

  now(): number {
    return this.clock.now();
  }

  observe(observation: Parameters<ObservationSink>[0]): void {
    this.sink(observation);
  }

  /** Logs a client in as the agent would; null when refused. Birth messages go through the observed link. */
  private open(identity: LinkIdentity, address: string): ObservedLink | null {
    const client: ClientIdentity = { clientId: identity.clientId, username: identity.username, address };
    const verdict = this.verifier.verifySync(identity.username, Buffer.from(identity.password, 'utf8'));
    if (!verdict.ok) {
      this.observe({ kind: 'mqtt-auth-failure', ts: this.now(), client, reason: verdict.reason });
      return null;
    }
    this.observe({ kind: 'mqtt-connect', ts: this.now(), client });
    const { birth, ...withoutBirth } = identity;
    const observed = new ObservedLink(client, this.bus.connect(withoutBirth), this);
    this.clients.set(identity.clientId, observed);
    if (birth !== undefined) observed.publish(birth.topic, birth.payload, { retain: birth.retain, qos: 1 });
    return observed;
  }

  /** For the simulated ward: each device and actor connects from its own address. */
  linkFactory(addressOf: (identity: LinkIdentity) => string): LinkFactory {
    return (identity) => {
      const link = this.open(identity, addressOf(identity));
      return link === null ? Promise.reject(new Error(`login refused for ${identity.username}`)) : Promise.resolve(link);
    };
  }

  connect(request: ConnectRequest): Promise<ActorSession | null> {
    if (request.wardSession) {
      const shared = this.clients.get(`${request.username}-sim`);
      if (shared !== undefined) return Promise.resolve(shared);
    }
    return Promise.resolve(this.open({ clientId: request.clientId, username: request.username, password: request.password }, request.address));
  }

  /** The device keeps its connection but sends nothing (hung firmware, a jammed radio). */
  silence(clientId: string): boolean {
    const client = this.clients.get(clientId);
    if (client === undefined) return false;
    client.muted = true;
    return true;
  }

  /** The device drops off (its will publishes `offline`), then reconnects after the downtime. */
  reboot(clientId: string, downtimeMs: number, will: { topic: string; payload: string }, birth: { topic: string; payload: string }): boolean {
    const client = this.clients.get(clientId);
    if (client === undefined) return false;
    client.publish(will.topic, will.payload, { retain: true, qos: 1 });
    this.observe({ kind: 'mqtt-disconnect', ts: this.now(), client: client.identity });
    client.muted = true;
    this.clock.after(downtimeMs, () => {
      client.muted = false;
      this.observe({ kind: 'mqtt-connect', ts: this.now(), client: client.identity });
      client.publish(birth.topic, birth.payload, { retain: true, qos: 1 });
    });
    return true;
  }
}
