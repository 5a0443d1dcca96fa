import { describe, expect, it } from 'vitest';
import { MemoryBus } from '../../simulators/src/transports/memory-bus.ts';
import { isValidTopicFilter, topicMatchesFilter } from '../../agent/src/model/topic-filter.ts';
import type { LinkIdentity } from '../../simulators/src/transports/device-link.ts';

function identity(clientId: string, extra: Partial<LinkIdentity> = {}): LinkIdentity {
  return { clientId, username: clientId, password: 'secret', ...extra };
}

function collector(): { messages: Array<[string, string]>; handler: (topic: string, payload: Buffer) => void } {
  const messages: Array<[string, string]> = [];
  return { messages, handler: (topic, payload) => messages.push([topic, payload.toString()]) };
}

describe('topic filters (MQTT 3.1.1 §4.7)', () => {
  it.each([
    ['ward/#', 'ward/pump-01/telemetry', true],
    ['ward/#', 'ward', true],
    ['ward/#', 'wards/pump-01', false],
    ['ward/+/ack', 'ward/pump-01/ack', true],
    ['ward/+/ack', 'ward/pump-01/command', false],
    ['ward/+/ack', 'ward/pump-01/ack/extra', false],
    ['ward/+', 'ward/', true],
    ['ward/+', 'ward', false],
    ['+/+/+', 'ward/pump-01/ack', true],
    ['#', 'ward/pump-01/ack', true],
    ['#', '$SYS/broker/uptime', false],
    ['+/broker/uptime', '$SYS/broker/uptime', false],
    ['$SYS/#', '$SYS/broker/uptime', true],
    ['ward/pump-01/ack', 'ward/pump-01/ack', true],
    ['ward/pump-01/ack', 'ward/pump-01/acks', false],
    ['ward/pump-01/ack', 'ward/pump-01', false],
  ])('%s matches %s: %s', (filter, topic, expected) => {
    expect(topicMatchesFilter(filter, topic)).toBe(expected);
  });

  it('accepts wildcards only as whole levels, and # only last', () => {
    expect(isValidTopicFilter('ward/+/ack')).toBe(true);
    expect(isValidTopicFilter('ward/#')).toBe(true);
    expect(isValidTopicFilter('ward/pump+/ack')).toBe(false);
    expect(isValidTopicFilter('ward/#/ack')).toBe(false);
    expect(isValidTopicFilter('ward#')).toBe(false);
    expect(isValidTopicFilter('')).toBe(false);
  });
});

describe('MemoryBus', () => {
  it('delivers to matching subscriptions only', () => {
    const bus = new MemoryBus();
    const publisher = bus.connect(identity('pub'));
    const all = collector();
    const acks = collector();
    const subscriber = bus.connect(identity('sub'));
    subscriber.subscribe('ward/#', all.handler);
    subscriber.subscribe('ward/+/ack', acks.handler);
    publisher.publish('ward/pump-01/telemetry', 't');
    publisher.publish('ward/pump-01/ack', 'a');
    publisher.publish('other/topic', 'x');
    expect(all.messages).toEqual([['ward/pump-01/telemetry', 't'], ['ward/pump-01/ack', 'a']]);
    expect(acks.messages).toEqual([['ward/pump-01/ack', 'a']]);
  });

  it('delivers retained messages to a later subscriber, and a zero-length retained message clears them', () => {
    const bus = new MemoryBus();
    const device = bus.connect(identity('pump-01'));
    device.publish('ward/pump-01/status', 'online', { retain: true });
    device.publish('ward/pump-02/status', 'offline', { retain: true });
    const late = collector();
    bus.connect(identity('late')).subscribe('ward/+/status', late.handler);
    expect(late.messages).toEqual([['ward/pump-01/status', 'online'], ['ward/pump-02/status', 'offline']]);
    device.publish('ward/pump-02/status', '', { retain: true });
    const later = collector();
    bus.connect(identity('later')).subscribe('ward/+/status', later.handler);
    expect(later.messages).toEqual([['ward/pump-01/status', 'online']]);
  });

  it('publishes the birth message on connect and the will only when a link drops uncleanly', () => {
    const bus = new MemoryBus();
    const published: Array<[string, string, string, boolean]> = [];
    bus.onPublish((who, topic, payload, retain) => published.push([who.clientId, topic, payload.toString(), retain]));
    const withStatus = (clientId: string): LinkIdentity => identity(clientId, {
      will: { topic: `ward/${clientId}/status`, payload: 'offline', retain: true },
      birth: { topic: `ward/${clientId}/status`, payload: 'online', retain: true },
    });
    const clean = bus.connect(withStatus('pump-01'));
    const dropped = bus.connect(withStatus('pump-02'));
    expect(bus.retainedMessage('ward/pump-01/status')?.toString()).toBe('online');
    void clean.close();
    dropped.drop();
    expect(published).toEqual([
      ['pump-01', 'ward/pump-01/status', 'online', true],
      ['pump-02', 'ward/pump-02/status', 'online', true],
      ['pump-02', 'ward/pump-02/status', 'offline', true],
    ]);
    expect(bus.retainedMessage('ward/pump-01/status')?.toString()).toBe('online');
    expect(bus.retainedMessage('ward/pump-02/status')?.toString()).toBe('offline');
    expect(bus.connectedClientIds).toEqual([]);
  });

  it('stops delivering to and accepting publishes from a closed link', async () => {
    const bus = new MemoryBus();
    const received = collector();
    const subscriber = bus.connect(identity('sub'));
    subscriber.subscribe('#', received.handler);
    const publisher = bus.connect(identity('pub'));
    await subscriber.close();
    publisher.publish('a/b', '1');
    await publisher.close();
    publisher.publish('a/b', '2');
    expect(received.messages).toEqual([]);
  });

  it('lets a second connection with the same client id take over, publishing the first one\'s will', () => {
    const bus = new MemoryBus();
    const published: string[] = [];
    bus.onPublish((_who, topic, payload) => published.push(`${topic}=${payload.toString()}`));
    const will = { topic: 'ward/pump-01/status', payload: 'offline', retain: true };
    const first = bus.connect(identity('pump-01', { will }));
    const second = bus.connect(identity('pump-01', { will }));
    expect(first.connected).toBe(false);
    expect(second.connected).toBe(true);
    expect(published).toEqual(['ward/pump-01/status=offline']);
  });

  it('delivers a 100 000-hop publish chain iteratively, in order, without growing the stack', () => {
    const bus = new MemoryBus();
    const link = bus.connect(identity('relay'));
    const hops: number[] = [];
    link.subscribe('chain', (_topic, payload) => {
      const hop = Number(payload.toString());
      hops.push(hop);
      if (hop < 100_000) link.publish('chain', String(hop + 1));
    });
    link.publish('chain', '1');
    expect(hops.length).toBe(100_000);
    expect(hops[99_999]).toBe(100_000);
    expect(hops.every((hop, index) => hop === index + 1)).toBe(true);
  });

  it('reports a publish storm instead of queueing without bound', () => {
    const bus = new MemoryBus({ maxQueuedDeliveries: 1_000 });
    const link = bus.connect(identity('storm'));
    // Every message begets two: the queue grows exponentially.
    link.subscribe('storm', () => {
      link.publish('storm', 'x');
      link.publish('storm', 'x');
    });
    expect(() => link.publish('storm', 'x')).toThrow(/more than 1000 deliveries pending/);
  });

  it('refuses wildcards in topic names and invalid filters', () => {
    const bus = new MemoryBus();
    const link = bus.connect(identity('client'));
    expect(() => link.publish('ward/+/command', 'x')).toThrow(TypeError);
    expect(() => link.subscribe('ward/#/x', () => undefined)).toThrow(TypeError);
  });
});
