import type { DeviceLink, LinkFactory, LinkIdentity, MessageHandler, PublishOptions } from './device-link.ts';
import { isValidTopicFilter, topicMatchesFilter } from '../../../agent/src/model/topic-filter.ts';

/**
 * An in-process broker for tests and fast simulation: topic filters with `+`/`#`,
 * retained messages delivered on subscribe, client-id takeover, and the will published
 * when a link drops without a clean close. Delivery is synchronous but iterative: a
 * publish made by a subscriber while messages are being delivered joins a FIFO queue,
 * so a device that answers a command with an ack, which an actor answers with another
 * command, never deepens the stack.
 */

export type PublishListener = (identity: LinkIdentity, topic: string, payload: Buffer, retain: boolean) => void;

export interface MemoryBusOptions {
  /** Deliveries waiting at once; more means a publish storm (a bug in a simulator), reported by throwing. */
  readonly maxQueuedDeliveries?: number;
  /** Distinct retained topics kept; beyond it new retained topics are delivered but not stored. */
  readonly maxRetainedTopics?: number;
}

interface Subscription {
  readonly link: MemoryLink;
  readonly filter: string;
  readonly handler: MessageHandler;
  /** Order of subscription, the order of delivery. */
  readonly seq: number;
}

interface Delivery {
  readonly handler: MessageHandler;
  readonly topic: string;
  readonly payload: Buffer;
}

const DEFAULT_MAX_QUEUED_DELIVERIES = 100_000;
const DEFAULT_MAX_RETAINED_TOPICS = 10_000;

function assertPublishableTopic(topic: string): void {
  // Wildcards are for filters only [MQTT-3.3.2-2].
  if (topic.length === 0 || topic.includes('+') || topic.includes('#')) {
    throw new TypeError(`cannot publish to "${topic}": a topic name is non-empty and has no wildcards`);
  }
}

/** One client's connection to a MemoryBus. */
export class MemoryLink implements DeviceLink {
  private open = true;

  constructor(private readonly bus: MemoryBus, readonly identity: LinkIdentity) {}

  get connected(): boolean {
    return this.open;
  }

  publish(topic: string, payload: string, options?: PublishOptions): void {
    if (!this.open) return;
    assertPublishableTopic(topic);
    this.bus.route(this.identity, topic, Buffer.from(payload), options?.retain ?? false);
  }

  subscribe(topicFilter: string, onMessage: MessageHandler): void {
    if (!this.open) return;
    if (!isValidTopicFilter(topicFilter)) throw new TypeError(`invalid topic filter "${topicFilter}"`);
    this.bus.addSubscription({ link: this, filter: topicFilter, handler: onMessage });
  }

  /** Clean disconnect: no will. */
  close(): Promise<void> {
    this.disconnect(true);
    return Promise.resolve();
  }

  /** Unclean disconnect (network failure, power loss): the bus publishes the will. */
  drop(): void {
    this.disconnect(false);
  }

  /** @internal */
  disconnect(clean: boolean): void {
    if (!this.open) return;
    this.open = false;
    this.bus.removeLink(this);
    const will = this.identity.will;
    // [MQTT-3.1.2-8]: the will is published when the connection closes without DISCONNECT.
    if (!clean && will !== undefined) {
      this.bus.route(this.identity, will.topic, Buffer.from(will.payload), will.retain);
    }
  }
}

export class MemoryBus {
  private readonly maxQueuedDeliveries: number;
  private readonly maxRetainedTopics: number;
  /**
   * Subscriptions by exact topic, and those with wildcards apart: a ward of 50 devices has
   * hundreds of exact subscriptions, and scanning them all for every telemetry message was
   * most of a simulated week's cost. `seq` keeps delivery in subscription order.
   */
  private readonly exact = new Map<string, Subscription[]>();
  private wildcards: Subscription[] = [];
  private nextSeq = 0;
  private readonly retained = new Map<string, Buffer>();
  private readonly linksByClientId = new Map<string, MemoryLink>();
  private readonly listeners: PublishListener[] = [];
  /** FIFO of pending deliveries; `queueHead` avoids O(n) shifts. */
  private queue: Delivery[] = [];
  private queueHead = 0;
  private draining = false;

  constructor(options: MemoryBusOptions = {}) {
    this.maxQueuedDeliveries = options.maxQueuedDeliveries ?? DEFAULT_MAX_QUEUED_DELIVERIES;
    this.maxRetainedTopics = options.maxRetainedTopics ?? DEFAULT_MAX_RETAINED_TOPICS;
  }

  linkFactory(): LinkFactory {
    return (identity) => Promise.resolve(this.connect(identity));
  }

  /** Synchronous connect, for tests that want a link without awaiting. */
  connect(identity: LinkIdentity): MemoryLink {
    // [MQTT-3.1.4-2]: a second connection with the same client id takes over; the first is dropped.
    this.linksByClientId.get(identity.clientId)?.disconnect(false);
    const link = new MemoryLink(this, identity);
    this.linksByClientId.set(identity.clientId, link);
    const birth = identity.birth;
    if (birth !== undefined) link.publish(birth.topic, birth.payload, { retain: birth.retain, qos: 1 });
    return link;
  }

  /** Sees every publish (including wills) as it enters the bus, before it is delivered. */
  onPublish(listener: PublishListener): void {
    this.listeners.push(listener);
  }

  retainedMessage(topic: string): Buffer | undefined {
    return this.retained.get(topic);
  }

  get connectedClientIds(): readonly string[] {
    return [...this.linksByClientId.keys()];
  }

  /** @internal */
  route(identity: LinkIdentity, topic: string, payload: Buffer, retain: boolean): void {
    for (const listener of this.listeners) listener(identity, topic, payload, retain);
    if (retain) this.storeRetained(topic, payload);
    const exact = this.exact.get(topic);
    if (this.wildcards.length === 0) {
      if (exact !== undefined) for (const subscription of exact) this.enqueue(subscription.handler, topic, payload);
    } else {
      const matching = [...(exact ?? []), ...this.wildcards.filter((subscription) => topicMatchesFilter(subscription.filter, topic))];
      if (exact !== undefined) matching.sort((a, b) => a.seq - b.seq);
      for (const subscription of matching) this.enqueue(subscription.handler, topic, payload);
    }
    this.drain();
  }

  /** @internal */
  addSubscription(added: Omit<Subscription, 'seq'>): void {
    const subscription: Subscription = { ...added, seq: this.nextSeq++ };
    if (subscription.filter.includes('+') || subscription.filter.includes('#')) {
      this.wildcards.push(subscription);
    } else {
      const list = this.exact.get(subscription.filter);
      if (list === undefined) this.exact.set(subscription.filter, [subscription]);
      else list.push(subscription);
    }
    // [MQTT-3.3.1-6]: a new subscription receives the retained messages it matches.
    for (const [topic, payload] of this.retained) {
      if (topicMatchesFilter(subscription.filter, topic)) this.enqueue(subscription.handler, topic, payload);
    }
    this.drain();
  }

  /** @internal */
  removeLink(link: MemoryLink): void {
    if (this.linksByClientId.get(link.identity.clientId) === link) this.linksByClientId.delete(link.identity.clientId);
    this.wildcards = this.wildcards.filter((subscription) => subscription.link !== link);
    for (const [topic, list] of this.exact) {
      const kept = list.filter((subscription) => subscription.link !== link);
      if (kept.length === 0) this.exact.delete(topic);
      else if (kept.length !== list.length) this.exact.set(topic, kept);
    }
  }

  private storeRetained(topic: string, payload: Buffer): void {
    // [MQTT-3.3.1-10]: a zero-length retained message clears the topic.
    if (payload.length === 0) {
      this.retained.delete(topic);
    } else if (this.retained.has(topic) || this.retained.size < this.maxRetainedTopics) {
      this.retained.set(topic, payload);
    }
  }

  private enqueue(handler: MessageHandler, topic: string, payload: Buffer): void {
    if (this.queue.length - this.queueHead >= this.maxQueuedDeliveries) {
      throw new Error(`MemoryBus: more than ${this.maxQueuedDeliveries} deliveries pending (publish storm on ${topic}?)`);
    }
    this.queue.push({ handler, topic, payload });
  }

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queueHead < this.queue.length) {
        const delivery = this.queue[this.queueHead] as Delivery;
        this.queueHead++;
        // Long chains (ack → command → ack …) keep the queue busy; drop the delivered prefix now and then.
        if (this.queueHead >= 4096 && this.queueHead * 2 >= this.queue.length) {
          this.queue = this.queue.slice(this.queueHead);
          this.queueHead = 0;
        }
        delivery.handler(delivery.topic, delivery.payload);
      }
    } finally {
      this.draining = false;
      if (this.queueHead >= this.queue.length) {
        this.queue = [];
        this.queueHead = 0;
      }
    }
  }
}
