import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import type { CaptureProtocolHandler } from '../../agent/src/ingest/capture-ingest.ts';
import type { Observation } from '../../agent/src/ingest/observation.ts';
import { MqttFlowTracker, UNKNOWN_CLIENT_ID, type MqttFlowAnomaly, type MqttFlowTrackerOptions, type MqttPacket } from '../../agent/src/protocol/mqtt/index.ts';
import { LINKTYPE, TCP_FLAGS, readCapture, type TcpFlow } from '../../agent/src/protocol/pcap/index.ts';
import { IN_CI } from '../helpers/peers.ts';

/**
 * MqttFlowTracker: decoded MQTT flows → the Observations the in-path broker reports.
 * A capture built here (so that its password is one no other field contains), real
 * captures from ../shared/fixtures, and the tracker's own rules and bounds.
 */

const PASSWORD = 'Qv7-infusion-Pa55!';

function encode(packet: MqttPacket, protocolVersion: 3 | 4 | 5 = 4): Buffer {
  return Buffer.from(mqttPacket.generate(packet, { protocolVersion }));
}

// ---- A capture built from scratch: raw IPv4 (LINKTYPE_RAW) TCP segments -------------------

interface Endpoint { readonly ip: string; readonly port: number }

/** One TCP connection, written as pcap records with the sequence numbers a stack would use. */
class CaptureBuilder {
  private readonly records: { micros: number; data: Buffer }[] = [];
  private clientSeq = 1_000_000;
  private serverSeq = 7_000_000;

  constructor(private readonly client: Endpoint, private readonly server: Endpoint) {}

  private segment(fromClient: boolean, micros: number, flags: number, payload: Buffer = Buffer.alloc(0)): void {
    const [src, dst] = fromClient ? [this.client, this.server] : [this.server, this.client];
    const tcp = Buffer.alloc(20);
    tcp.writeUInt16BE(src.port, 0);
    tcp.writeUInt16BE(dst.port, 2);
    tcp.writeUInt32BE(fromClient ? this.clientSeq : this.serverSeq, 4);
    tcp.writeUInt32BE((flags & TCP_FLAGS.ACK) !== 0 ? (fromClient ? this.serverSeq : this.clientSeq) : 0, 8);
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    tcp.writeUInt16BE(65535, 14);
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(40 + payload.length, 2);
    ip[8] = 64;
    ip[9] = 6;
    Buffer.from(src.ip.split('.').map(Number)).copy(ip, 12);
    Buffer.from(dst.ip.split('.').map(Number)).copy(ip, 16);
    this.records.push({ micros, data: Buffer.concat([ip, tcp, payload]) });
    const used = payload.length + ((flags & (TCP_FLAGS.SYN | TCP_FLAGS.FIN)) !== 0 ? 1 : 0);
    if (fromClient) this.clientSeq = (this.clientSeq + used) >>> 0;
    else this.serverSeq = (this.serverSeq + used) >>> 0;
  }

  handshake(micros: number): this {
    this.segment(true, micros, TCP_FLAGS.SYN);
    this.segment(false, micros + 100, TCP_FLAGS.SYN | TCP_FLAGS.ACK);
    this.segment(true, micros + 200, TCP_FLAGS.ACK);
    return this;
  }

  send(from: 'client' | 'server', micros: number, payload: Buffer): this {
    this.segment(from === 'client', micros, TCP_FLAGS.ACK | TCP_FLAGS.PSH, payload);
    return this;
  }

  close(micros: number): this {
    this.segment(true, micros, TCP_FLAGS.FIN | TCP_FLAGS.ACK);
    this.segment(false, micros + 100, TCP_FLAGS.FIN | TCP_FLAGS.ACK);
    this.segment(true, micros + 200, TCP_FLAGS.ACK);
    return this;
  }

  pcap(): Buffer {
    const header = Buffer.alloc(24);
    header.writeUInt32LE(0xa1b2c3d4, 0);
    header.writeUInt16LE(2, 4);
    header.writeUInt16LE(4, 6);
    header.writeUInt32LE(65535, 16);
    header.writeUInt32LE(LINKTYPE.RAW, 20);
    const parts: Buffer[] = [header];
    for (const { micros, data } of this.records) {
      const record = Buffer.alloc(16);
      record.writeUInt32LE(Math.floor(micros / 1_000_000), 0);
      record.writeUInt32LE(micros % 1_000_000, 4);
      record.writeUInt32LE(data.length, 8);
      record.writeUInt32LE(data.length, 12);
      parts.push(record, data);
    }
    return Buffer.concat(parts);
  }
}

interface Tracked {
  readonly observations: Observation[];
  readonly anomalies: MqttFlowAnomaly[];
  readonly tracker: MqttFlowTracker;
}

/**
 * A capture through readCapture and a tracker, as the capture ingest would wire them;
 * `afterData` sees the tracker after each delivery of bytes, while its flows are live.
 */
function track(capture: Buffer, ports: readonly number[] = [1883], options: MqttFlowTrackerOptions = {}, afterData?: (tracker: MqttFlowTracker) => void): Tracked {
  const observations: Observation[] = [];
  const anomalies: MqttFlowAnomaly[] = [];
  const tracker = new MqttFlowTracker((observation) => observations.push(observation), { ...options, onAnomaly: (anomaly) => anomalies.push(anomaly) });
  const isMqtt = (flow: TcpFlow) => ports.includes(flow.server.port);
  readCapture(capture, {
    onData: (flow, payload, tsMicros) => {
      if (!isMqtt(flow)) return;
      tracker.onData(flow, payload, tsMicros / 1000);
      afterData?.(tracker);
    },
    onAnomaly: (name, _detail, flow) => { if (name === 'tcp-gap' && flow !== null && isMqtt(flow)) tracker.onGap(flow); },
    onEnd: (flow) => { if (isMqtt(flow)) tracker.onEnd(flow); },
  }, { serverPorts: ports });
  tracker.flush();
  return { observations, anomalies, tracker };
}

/** Every string and Buffer reachable from `root` through properties, Map and Set entries. */
function reachableValues(root: unknown): { strings: string[]; buffers: Buffer[] } {
  const strings: string[] = [];
  const buffers: Buffer[] = [];
  const seen = new Set<object>();
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === 'string') strings.push(value);
    if (value === null || typeof value !== 'object' || seen.has(value)) continue;
    seen.add(value);
    if (Buffer.isBuffer(value)) {
      buffers.push(value);
      continue;
    }
    if (value instanceof Map) for (const [k, v] of value) stack.push(k, v);
    if (value instanceof Set) for (const v of value) stack.push(v);
    for (const key of Object.getOwnPropertyNames(value)) {
      const property = (value as Record<string, unknown>)[key];
      if (typeof property !== 'function') stack.push(property);
    }
  }
  return { strings, buffers };
}

const T0 = 1_767_225_600_000_000; // 2026-01-01T00:00:00Z in µs
const STATION: Endpoint = { ip: '10.20.0.31', port: 50123 };
const BROKER: Endpoint = { ip: '10.20.0.2', port: 1883 };

describe('MqttFlowTracker on a capture with a password', () => {
  const capture = new CaptureBuilder(STATION, BROKER)
    .handshake(T0)
    .send('client', T0 + 1_000, encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: 'station-3', username: 'nurse-a', password: Buffer.from(PASSWORD) }))
    .send('server', T0 + 2_500, encode({ cmd: 'connack', returnCode: 0, sessionPresent: false }))
    .send('client', T0 + 40_000, encode({ cmd: 'publish', topic: 'ward/4/bed/2/pump/P-17/command', payload: Buffer.from('{"rate_ml_h":4.2}'), qos: 1, messageId: 9, retain: false, dup: false }))
    .send('server', T0 + 41_000, encode({ cmd: 'puback', messageId: 9 }))
    .send('client', T0 + 90_000, encode({ cmd: 'disconnect' }))
    .close(T0 + 90_500)
    .pcap();

  it('CONNECT → CONNACK 0 → PUBLISH gives mqtt-connect then mqtt-publish with client id, user name and address, at capture time', () => {
    const { observations, anomalies } = track(capture);
    const client = { clientId: 'station-3', username: 'nurse-a', address: '10.20.0.31' };
    expect(observations).toEqual([
      { kind: 'mqtt-connect', ts: (T0 + 2_500) / 1000, client },
      { kind: 'mqtt-publish', ts: (T0 + 40_000) / 1000, client, topic: 'ward/4/bed/2/pump/P-17/command', payload: Buffer.from('{"rate_ml_h":4.2}'), retain: false, qos: 1, publisherPacket: { dup: false, packetId: 9, connection: { ingest: 'capture', sequence: 1 } } },
      { kind: 'mqtt-disconnect', ts: (T0 + 90_000) / 1000, client },
    ]);
    expect(anomalies).toEqual([]);
  });

  it('the password appears nowhere in the observations, nor anywhere the tracker can reach while the session is live', () => {
    const secret = Buffer.from(PASSWORD);
    const leaks: string[] = [];
    let inspected = 0;
    const { observations } = track(capture, [1883], {}, (tracker) => {
      const { strings, buffers } = reachableValues(tracker);
      if (strings.includes('station-3')) inspected += 1; // the flow's state was walked
      leaks.push(...strings.filter((s) => s.includes(PASSWORD)), ...buffers.filter((b) => b.includes(secret)).map((b) => b.toString('hex')));
    });
    expect(inspected).toBe(5); // after the CONNECT, CONNACK, PUBLISH, PUBACK and DISCONNECT
    expect(leaks).toEqual([]);
    const json = JSON.stringify(observations);
    for (const form of [PASSWORD, secret.toString('hex'), secret.toString('base64'), [...secret].join(','), 'password']) {
      expect(json).not.toContain(form);
    }
  });

  it('the packet handed to onPacket has the password (mqtt-packet decodes it); the tracker keeps nothing of it', () => {
    const passwords: Buffer[] = [];
    let kept = 0;
    track(capture, [1883], { onPacket: (_flow, packet) => { if (packet.cmd === 'connect' && packet.password !== undefined) passwords.push(packet.password); } }, (tracker) => {
      kept += reachableValues(tracker).buffers.filter((b) => b.includes(Buffer.from(PASSWORD))).length;
    });
    expect(passwords.map(String)).toEqual([PASSWORD]);
    expect(kept).toBe(0);
  });
});

// ---- Sessions, fed directly -------------------------------------------------------------

function flowViews(client: Endpoint = STATION, server: Endpoint = BROKER): { up: TcpFlow; down: TcpFlow } {
  const key = `${client.ip}:${client.port}->${server.ip}:${server.port}`;
  return { up: { key, client, server, direction: 'client-to-server' }, down: { key, client, server, direction: 'server-to-client' } };
}

function session(options: MqttFlowTrackerOptions = {}): Tracked & { up: TcpFlow; down: TcpFlow } {
  const observations: Observation[] = [];
  const anomalies: MqttFlowAnomaly[] = [];
  const tracker = new MqttFlowTracker((observation) => observations.push(observation), { ...options, onAnomaly: (anomaly) => anomalies.push(anomaly) });
  return { observations, anomalies, tracker, ...flowViews() };
}

const connect = (username?: string, protocolVersion: 4 | 5 = 4) => encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion, clean: true, keepalive: 30, clientId: 'pump-17', ...(username === undefined ? {} : { username, password: Buffer.from(PASSWORD) }) }, protocolVersion);
const publish = (topic: string, text: string, protocolVersion: 4 | 5 = 4) => encode({ cmd: 'publish', topic, payload: Buffer.from(text), qos: 0, retain: false, dup: false }, protocolVersion);

describe('MqttFlowTracker: logins', () => {
  it.each([
    [4, 4, 'nurse-a', 'bad-password'],
    [4, 5, 'nurse-a', 'not-authorized'],
    [4, 5, undefined, 'anonymous-refused'],
    [4, 2, 'nurse-a', 'connack-2'],
    [4, 3, 'nurse-a', 'connack-3'],
    [5, 0x86, 'nurse-a', 'bad-password'],
    [5, 0x87, 'nurse-a', 'not-authorized'],
    [5, 0x8c, 'nurse-a', 'bad-authentication-method'],
    [5, 0x8a, 'nurse-a', 'connack-138'],
  ] as const)('MQTT %s CONNACK %s (user %s) → mqtt-auth-failure "%s"; what the client sent before it is not reported', (version, code, username, reason) => {
    const { observations, tracker, up, down } = session();
    tracker.onData(up, Buffer.concat([connect(username, version), publish('ward/4/cmd', 'x', version)]), 1000);
    tracker.onData(down, encode(version === 5 ? { cmd: 'connack', reasonCode: code, sessionPresent: false } : { cmd: 'connack', returnCode: code, sessionPresent: false }, version), 1001);
    tracker.onData(up, publish('ward/4/cmd', 'after the refusal', version), 1002);
    tracker.onEnd(up);
    expect(observations).toEqual([{ kind: 'mqtt-auth-failure', ts: 1001, client: { clientId: 'pump-17', username: username ?? null, address: STATION.ip }, reason }]);
    expect(tracker.stats.discarded).toBe(2);
  });

  it('a CONNACK the capture lost: the server\'s session traffic shows the login was accepted (missing-connack)', () => {
    const { observations, anomalies, tracker, up, down } = session();
    tracker.onData(up, Buffer.concat([connect('nurse-a'), encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'ward/4/#', qos: 0 }] })]), 1000);
    tracker.onGap(down);
    tracker.onData(down, encode({ cmd: 'suback', messageId: 1, granted: [0] }), 1005);
    expect(observations.map((o) => [o.kind, o.ts])).toEqual([['mqtt-connect', 1005], ['mqtt-subscribe', 1005]]);
    expect(anomalies.map((a) => [a.direction, a.name])).toEqual([['server-to-client', 'missing-connack']]);
  });

  it('MQTT 5: the CONNACK\'s Assigned Client Identifier names a client that sent an empty id', () => {
    const { observations, tracker, up, down } = session();
    tracker.onData(up, encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 30, clientId: '' }, 5), 1000);
    tracker.onData(down, encode({ cmd: 'connack', reasonCode: 0, sessionPresent: false, properties: { assignedClientIdentifier: 'auto-42' } }, 5), 1001);
    tracker.onEnd(up, 2000);
    expect(observations).toEqual([
      { kind: 'mqtt-connect', ts: 1001, client: { clientId: 'auto-42', username: null, address: STATION.ip } },
      { kind: 'mqtt-disconnect', ts: 2000, client: { clientId: 'auto-42', username: null, address: STATION.ip } },
    ]);
  });
});

describe('MqttFlowTracker: publishes and deliveries', () => {
  it('a client\'s QoS 1 re-send carries its DUP flag and packet id; a QoS 0 publish and a broker\'s delivery carry neither', () => {
    const { observations, tracker, up, down } = session();
    const command = (dup: boolean) => encode({ cmd: 'publish', topic: 'ward/pump-01/command', payload: Buffer.from('{"id":"c-1"}'), qos: 1, messageId: 311, retain: false, dup });
    tracker.onData(up, connect('nurse-a'), 1000);
    tracker.onData(down, encode({ cmd: 'connack', returnCode: 0, sessionPresent: false }), 1001);
    tracker.onData(up, command(false), 1002);
    tracker.onData(up, command(true), 1003);
    tracker.onData(up, publish('ward/pump-01/telemetry', '{}'), 1004);
    // The broker's delivery to this client: its own packet id and DUP [MQTT-3.3.1-3]; one-sided, so it is reported.
    const oneSided = session();
    oneSided.tracker.onData(oneSided.down, encode({ cmd: 'publish', topic: 'ward/pump-01/command', payload: Buffer.from('{"id":"c-1"}'), qos: 1, messageId: 9, retain: false, dup: true }), 1005);
    const published = [...observations, ...oneSided.observations].flatMap((o) => (o.kind === 'mqtt-publish' ? [[o.qos, o.publisherPacket]] : []));
    const connection = { ingest: 'capture', sequence: 1 };
    expect(published).toEqual([[1, { dup: false, packetId: 311, connection }], [1, { dup: true, packetId: 311, connection }], [0, undefined], [1, undefined]]);
    expect(tracker.stats.deliveries).toBe(0);
  });

  it('a QoS 1 PUBLISH carries the number of its TCP connection: a 4-tuple reused after its flow ended is a later connection', () => {
    const command = (dup: boolean) => encode({ cmd: 'publish', topic: 'ward/pump-01/command', payload: Buffer.from('{"id":"c-1"}'), qos: 1, messageId: 311, retain: false, dup });
    const login = encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, keepalive: 60, clientId: 'station-3', username: 'nurse-a', password: Buffer.from(PASSWORD) });
    const accepted = encode({ cmd: 'connack', returnCode: 0, sessionPresent: false });
    // The station publishes, loses the link, and reconnects from the same source port (the OS may reuse it).
    const capture = new CaptureBuilder(STATION, BROKER)
      .handshake(T0)
      .send('client', T0 + 1_000, login)
      .send('server', T0 + 2_000, accepted)
      .send('client', T0 + 3_000, command(false))
      .send('client', T0 + 4_000, command(true))
      .close(T0 + 5_000)
      .handshake(T0 + 9_000)
      .send('client', T0 + 10_000, login)
      .send('server', T0 + 11_000, accepted)
      .send('client', T0 + 12_000, command(true))
      .pcap();
    const { observations, tracker } = track(capture);
    const sequences = observations.flatMap((o) => (o.kind === 'mqtt-publish' ? [[o.publisherPacket?.dup, o.publisherPacket?.connection]] : []));
    expect(sequences).toEqual([
      [false, { ingest: 'capture', sequence: 1 }],
      [true, { ingest: 'capture', sequence: 1 }],
      [true, { ingest: 'capture', sequence: 2 }],
    ]);
    expect(tracker.stats.flows).toBe(2);
  });

  it('server-to-client PUBLISHes are deliveries: counted, not reported again', () => {
    const { observations, tracker, up, down } = session();
    tracker.onData(up, connect('nurse-a'), 1000);
    tracker.onData(down, encode({ cmd: 'connack', returnCode: 0, sessionPresent: false }), 1001);
    tracker.onData(down, publish('ward/4/bed/2/pump/P-17/status', '{"rate":4.2}'), 1002);
    expect(observations.map((o) => o.kind)).toEqual(['mqtt-connect']);
    expect(tracker.stats.deliveries).toBe(1);
  });

  it('a one-sided capture (no byte from the client yet): deliveries are reported, without a sender', () => {
    const { observations, anomalies, tracker, up, down } = session();
    tracker.onData(down, publish('ward/4/bed/2/pump/P-17/command', '{"rate":41.7}'), 1000);
    tracker.onData(down, publish('ward/4/bed/2/pump/P-17/command', '{"rate":4.17}'), 1001);
    expect(observations).toEqual([
      { kind: 'mqtt-publish', ts: 1000, client: null, topic: 'ward/4/bed/2/pump/P-17/command', payload: Buffer.from('{"rate":41.7}'), retain: false, qos: 0 },
      { kind: 'mqtt-publish', ts: 1001, client: null, topic: 'ward/4/bed/2/pump/P-17/command', payload: Buffer.from('{"rate":4.17}'), retain: false, qos: 0 },
    ]);
    expect(anomalies.map((a) => a.name)).toEqual(['missing-connack', 'client-side-missing']);
    // Once the client side shows, deliveries are counted only.
    tracker.onData(up, encode({ cmd: 'pingreq' }), 1002);
    tracker.onData(down, publish('ward/4/bed/2/pump/P-17/command', '{"rate":4.2}'), 1003);
    expect(observations).toHaveLength(2);
    expect(tracker.stats.deliveries).toBe(3);
  });

  it('joined mid-session: the client\'s packets are reported under the client id "(unknown)"', () => {
    const { observations, anomalies, tracker, up } = session();
    tracker.onData(up, publish('ward/4/cmd', 'x'), 1000);
    expect(observations).toEqual([{ kind: 'mqtt-publish', ts: 1000, client: { clientId: UNKNOWN_CLIENT_ID, username: null, address: STATION.ip }, topic: 'ward/4/cmd', payload: Buffer.from('x'), retain: false, qos: 0 }]);
    expect(anomalies.map((a) => a.name)).toEqual(['missing-connect']);
  });

  it('payloads are copies: the observation does not share memory with the captured bytes', () => {
    const { observations, tracker, up } = session();
    const bytes = publish('ward/4/cmd', 'original');
    tracker.onData(up, bytes, 1000);
    bytes.fill(0x58);
    expect((observations[0] as { payload: Buffer }).payload.toString()).toBe('original');
  });
});

describe('MqttFlowTracker: wiring', () => {
  it('plugs into the capture ingest as its MQTT handler (ts in ms, onEnd per flow)', () => {
    const handler: CaptureProtocolHandler = new MqttFlowTracker(() => undefined);
    expect(typeof handler.onData).toBe('function');
  });
});

describe('MqttFlowTracker: bounds', () => {
  it('maxHeldPackets: packets beyond it before the CONNACK are dropped, once reported (hold-overflow)', () => {
    const { observations, anomalies, tracker, up, down } = session({ maxHeldPackets: 1 });
    tracker.onData(up, Buffer.concat([connect('nurse-a'), publish('a', '1'), publish('b', '2'), publish('c', '3')]), 1000);
    tracker.onData(down, encode({ cmd: 'connack', returnCode: 0, sessionPresent: false }), 1001);
    expect(observations.map((o) => (o.kind === 'mqtt-publish' ? o.topic : o.kind))).toEqual(['mqtt-connect', 'a']);
    expect(anomalies.map((a) => a.name)).toEqual(['publish-before-connack', 'hold-overflow']);
    expect(tracker.stats.discarded).toBe(2);
  });

  it('maxFlows: the least recently active flow is forgotten (flow-evicted), without observations', () => {
    const observations: Observation[] = [];
    const anomalies: MqttFlowAnomaly[] = [];
    const tracker = new MqttFlowTracker((o) => observations.push(o), { maxFlows: 2, onAnomaly: (a) => anomalies.push(a) });
    for (const port of [40001, 40002, 40003]) {
      const { up } = flowViews({ ip: '10.20.0.40', port });
      tracker.onData(up, connect(), 1000 + port);
      expect(tracker.size).toBeLessThanOrEqual(2);
    }
    expect(anomalies.map((a) => [a.flow.client.port, a.name])).toEqual([[40001, 'flow-evicted']]);
    expect(tracker.stats.evicted).toBe(1);
  });

  it('maxBufferedBytes: flows holding partial packets are evicted to keep the total under the cap', () => {
    const tracker = new MqttFlowTracker(() => undefined, { maxPacketBytes: 1024, maxBufferedBytes: 4096 });
    const partial = Buffer.concat([connect(), publish('ward/4/cmd', 'y'.repeat(1000)).subarray(0, 900)]);
    for (let port = 41000; port < 41010; port += 1) {
      tracker.onData(flowViews({ ip: '10.20.0.41', port }).up, partial, 1000);
      expect(tracker.bufferedBytes).toBeLessThanOrEqual(4096);
    }
    expect(tracker.stats.evicted).toBeGreaterThan(0);
    tracker.flush();
    expect([tracker.size, tracker.bufferedBytes]).toEqual([0, 0]);
  });
});

// ---- Real captures ----------------------------------------------------------------------

const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));
const available = existsSync(join(FIXTURES, 'expected-tshark.json'));
if (!available && !IN_CI) console.warn(`skipping MQTT tracker capture tests: the shared fixtures are not at ${FIXTURES}`);

const fixture = (name: string) => readFileSync(join(FIXTURES, name));

describe.skipIf(!available && !IN_CI)('MqttFlowTracker on real captures', () => {
  // Zeek's baseline logs for the same trace (zeek-expected/, SOURCES.md) say what happened:
  // two accepted connections, one SUBSCRIBE, one PUBLISH from a client, and two deliveries
  // of messages (from_client F) to the subscriber, one of them the retained message.
  it('zeek-mqtt.pcap: the logins, subscription and publish Zeek logs; its deliveries are counted only', () => {
    const zeekLog = (name: string) => fixture(`mqtt/zeek-expected/Baseline__scripts.base.protocols.mqtt.mqtt__${name}.log`).toString('utf8')
      .split('\n').filter((line) => line !== '' && !line.startsWith('#')).map((line) => line.split('\t'));
    const connects = zeekLog('mqtt_connect').map((f) => [f[3], f[8], f[9]]);
    expect(connects).toEqual([['49327', 'paho/34AAE54A75D839566E', 'Connection Accepted'], ['49330', 'paho/DDE4DDAF4108D3E363', 'Connection Accepted']]);
    const publishes = zeekLog('mqtt_publish').map((f) => ({ port: f[3], fromClient: f[6] === 'T', topic: f[10], payload: f[11] }));
    const subscribes = zeekLog('mqtt_subscribe').map((f) => [f[3], f[6], f[7]]);

    const { observations, tracker } = track(fixture('mqtt/zeek-mqtt.pcap'));
    const client = (port: string) => ({ clientId: connects.find((c) => c[0] === port)?.[1], username: null, address: '10.0.1.4' });
    expect(observations.map((o) => ({ ...o, ts: undefined }))).toEqual([
      { kind: 'mqtt-connect', ts: undefined, client: client('49327') },
      { kind: 'mqtt-subscribe', ts: undefined, client: client('49327'), topicFilters: subscribes.map((s) => s[2]) },
      // Paho sent PUBLISH and DISCONNECT before the CONNACK: reported when it accepted.
      { kind: 'mqtt-connect', ts: undefined, client: client('49330') },
      ...publishes.filter((p) => p.fromClient).map((p) => ({ kind: 'mqtt-publish', ts: undefined, client: client(p.port ?? ''), topic: p.topic, payload: Buffer.from(p.payload ?? ''), retain: false, qos: 0 })),
      { kind: 'mqtt-disconnect', ts: undefined, client: client('49330') },
      { kind: 'mqtt-disconnect', ts: undefined, client: client('49327') },
    ]);
    expect(subscribes.map((s) => s[1])).toEqual(['MQTT::SUBSCRIBE']);
    expect(tracker.stats.deliveries).toBe(publishes.filter((p) => !p.fromClient).length);
    // The held PUBLISH is reported at the CONNACK's time (record 10), when the broker acts on it.
    const at = (kind: string, port: number) => observations.find((o) => o.kind === kind && 'client' in o && o.client !== null && o.client.clientId === client(String(port)).clientId)?.ts;
    expect(at('mqtt-publish', 49330)).toBe(at('mqtt-connect', 49330));
  });

  it('suricata-verify mqtt311-pub-userpass: connect, publish, disconnect with the CONNECT\'s identity', () => {
    const { observations } = track(fixture('mqtt/suricata-verify/mqtt311-pub-userpass/input.pcap'));
    const client = { clientId: 'myvoiceismypassport', username: 'user', address: '::1' };
    expect(observations.map((o) => ({ ...o, ts: undefined }))).toEqual([
      { kind: 'mqtt-connect', ts: undefined, client },
      { kind: 'mqtt-publish', ts: undefined, client, topic: 'topicX', payload: Buffer.from('baabaablacksheep'), retain: false, qos: 0 },
      { kind: 'mqtt-disconnect', ts: undefined, client },
    ]);
    // Not the password field's content: the CONNECT's password is "pass", which the client id also spells.
    expect(observations.some((o) => 'password' in o || ('client' in o && o.client !== null && 'password' in o.client))).toBe(false);
  });

  // mosquitto assigns an id to the client that sent an empty one even in the refusing
  // CONNACK; that is the id the broker knew it by (aedes, in-path, also names such a
  // client before it authenticates it).
  it('suricata-verify refusals: CONNACK 0x86 → bad-password, 0x8C → bad-authentication-method', () => {
    expect(track(fixture('mqtt/suricata-verify/mqtt-connect-rules-2/mqtt5_pub_jpeg_connack134.pcap')).observations.map((o) => ({ ...o, ts: undefined }))).toEqual([
      { kind: 'mqtt-auth-failure', ts: undefined, client: { clientId: 'auto-1B43E800-08E3-3BA1-2E97-E9A0B4064BF5', username: 'user', address: '::1' }, reason: 'bad-password' },
    ]);
    expect(track(fixture('mqtt/suricata-verify/mqtt5-sub-customauth/input.pcap')).observations.map((o) => ({ ...o, ts: undefined }))).toEqual([
      { kind: 'mqtt-auth-failure', ts: undefined, client: { clientId: 'myvoiceismypassport', username: null, address: '::1' }, reason: 'bad-authentication-method' },
    ]);
  });

  it('suricata-verify mqtt-frames-truncated: the assigned client id, and a disconnect when the capture ends', () => {
    const { observations } = track(fixture('mqtt/suricata-verify/mqtt-frames-truncated/input.pcap'));
    const client = { clientId: 'auto-17236393-B532-03F2-6526-F71115B8A4BE', username: 'user', address: '127.0.0.1' };
    expect(observations.map((o) => o.kind)).toEqual(['mqtt-connect', 'mqtt-disconnect']);
    expect(observations.map((o) => ('client' in o ? o.client : null))).toEqual([client, client]);
    expect(observations[1]?.ts).toBe(observations[0]?.ts); // the time of the last bytes seen
  });

  // No CONNECT, so no user name; the 5.0 CONNACK's Assigned Client Identifier still names
  // the client (without it, the id would be UNKNOWN_CLIENT_ID, as tested above).
  it('suricata-verify mqtt-midstream-split: a session without CONNECT, its 35 KB JPEG PUBLISH whole', () => {
    const { observations } = track(fixture('mqtt/suricata-verify/mqtt-midstream-split/mqtt-midstream-split.pcap'));
    const client = { clientId: 'auto-1B43E800-08E3-3BA1-2E97-E9A0B4064BF5', username: null, address: '127.0.0.1' };
    expect(observations.map((o) => [o.kind, 'client' in o ? o.client : null])).toEqual([['mqtt-connect', client], ['mqtt-publish', client], ['mqtt-disconnect', client]]);
    const jpeg = observations[1] as { topic: string; payload: Buffer };
    expect(jpeg.topic).toBe('topicX');
    expect(jpeg.payload.length).toBe(35_771 - 4 - 8 - 1); // packet − fixed header − topic − property length
    expect(jpeg.payload.subarray(0, 4).toString('hex')).toBe('ffd8ffe0'); // what the suricata-verify rule matches
  });
});
