import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { Observation } from '../../agent/src/ingest/observation.ts';
import { MqttFlowTracker, type MqttAnomalyName, type MqttPacket, type MqttProtocolVersion } from '../../agent/src/protocol/mqtt/index.ts';
import { readCapture, type TcpFlow, type TcpSegment } from '../../agent/src/protocol/pcap/index.ts';
import { FIXTURES, skipWithoutFixtures } from '../helpers/shared-fixtures.ts';

/**
 * Every MQTT capture of ../shared/fixtures/mqtt (SOURCES.md) through the capture reader,
 * the TCP stream assembler, MqttStreamDecoder and MqttFlowTracker, compared with what
 * TShark 4.0.17 decoded in the same files (expected-tshark.json, `mqtt`): messages by
 * type, CONNECT versions, QoS, CONNACK codes, topics, client ids and user names. Where
 * the two disagree, the difference is pinned per capture, with the reason and its
 * evidence asserted. Then the abnormal suricata-verify cases, each against the events or
 * settings of its test.yaml / suricata.yaml, and the negative captures.
 */
const available = !skipWithoutFixtures('MQTT capture tests');

type Tally = Record<string, number>;

interface TsharkMqtt {
  messages: number;
  types: Tally;
  versions: Tally;
  qos: Tally;
  connack_return_codes: Tally;
  top_topics: Tally;
  distinct_topics: number;
  distinct_clientids: number;
  distinct_usernames: number;
}

interface TsharkCapture {
  decode_as: string[];
  mqtt: TsharkMqtt;
}

function tsharkAll(): Record<string, TsharkCapture> {
  return JSON.parse(readFileSync(join(FIXTURES, 'expected-tshark.json'), 'utf8')) as Record<string, TsharkCapture>;
}

/**
 * The MQTT server ports of a capture: 1883 and 8883, and the port TShark was told to
 * decode as MQTT (`-d tcp.port==N,mqtt`): 17501 for ndpi-coap_mqtt.pcap, 18830 for the
 * paho captures.
 */
function mqttPorts(name: string): number[] {
  const decodeAs = /tcp\.port==(\d+),mqtt/.exec(tsharkAll()[name]?.decode_as.join(' ') ?? '');
  return decodeAs === null ? [1883, 8883] : [1883, 8883, Number(decodeAs[1])];
}

interface PacketSeen {
  record: number;
  flow: string;
  direction: TcpFlow['direction'];
  version: MqttProtocolVersion;
  packet: MqttPacket;
}

interface AnomalySeen {
  record: number;
  flow: string;
  direction: TcpFlow['direction'] | null;
  name: MqttAnomalyName;
  detail: string;
}

interface Run {
  packets: PacketSeen[];
  anomalies: AnomalySeen[];
  tcpAnomalies: { record: number; name: string; flow: string | null }[];
  observations: Observation[];
  segments: { record: number; segment: TcpSegment }[];
  deliveries: number;
}

/**
 * One capture through readCapture and one MqttFlowTracker. `cut` shortens what the
 * tracker is given of one direction, to make a packet cut by the end of the stream.
 */
function decodeCapture(name: string, options: { maxPacketBytes?: number; allPorts?: boolean; keepSegments?: boolean; cut?: (flow: TcpFlow, payload: Buffer) => Buffer } = {}): Run {
  const run: Run = { packets: [], anomalies: [], tcpAnomalies: [], observations: [], segments: [], deliveries: 0 };
  const ports = mqttPorts(name);
  const isMqtt = (flow: TcpFlow) => options.allPorts === true || ports.includes(flow.server.port);
  let record = 0;
  const tracker = new MqttFlowTracker((observation) => run.observations.push(observation), {
    ...(options.maxPacketBytes === undefined ? {} : { maxPacketBytes: options.maxPacketBytes }),
    onPacket: (flow, packet, version) => run.packets.push({ record, flow: flow.key, direction: flow.direction, version, packet }),
    onAnomaly: (anomaly) => run.anomalies.push({ record, flow: anomaly.flow.key, direction: anomaly.direction, name: anomaly.name, detail: anomaly.detail }),
  });
  readCapture(readFileSync(join(FIXTURES, name)), {
    onRecord: () => { record += 1; },
    onSegment: (segment) => { if (options.keepSegments === true) run.segments.push({ record, segment }); },
    onData: (flow, payload, tsMicros) => {
      if (isMqtt(flow)) tracker.onData(flow, options.cut === undefined ? payload : options.cut(flow, payload), tsMicros / 1000);
    },
    onAnomaly: (anomalyName, _detail, flow) => {
      if (flow !== null && !isMqtt(flow)) return;
      run.tcpAnomalies.push({ record, name: anomalyName, flow: flow?.key ?? null });
      if (anomalyName === 'tcp-gap' && flow !== null) tracker.onGap(flow);
    },
    onEnd: (flow) => { if (isMqtt(flow)) tracker.onEnd(flow); },
  }, { serverPorts: options.allPorts === true ? [] : ports });
  tracker.flush();
  run.deliveries = tracker.stats.deliveries;
  return run;
}

interface Counts {
  types: Tally;
  versions: Tally;
  qos: Tally;
  /** 3.1/3.1.1 CONNACK return codes (TShark's `mqtt.conack.val`). */
  connack: Tally;
  topics: Tally;
  distinctTopics: number;
  clientIds: number;
  usernames: number;
}

function add(tally: Tally, key: string | number): void {
  tally[key] = (tally[key] ?? 0) + 1;
}

/**
 * Our counts in TShark's terms. TShark shows the fixed header's QoS for PUBLISH, and for
 * PUBREL / SUBSCRIBE / UNSUBSCRIBE only in 3.1, where those bits were a QoS (3.1.1 made
 * them reserved flags); topics are those of PUBLISH, SUBSCRIBE and UNSUBSCRIBE; empty
 * client ids and user names are not counted.
 */
function counts(run: Run, topTopics: readonly string[]): Counts {
  const c: Counts = { types: {}, versions: {}, qos: {}, connack: {}, topics: {}, distinctTopics: 0, clientIds: 0, usernames: 0 };
  const all: Tally = {};
  const ids = new Set<string>();
  const users = new Set<string>();
  for (const { packet, version } of run.packets) {
    add(c.types, packet.cmd.toUpperCase());
    switch (packet.cmd) {
      case 'connect':
        add(c.versions, packet.protocolVersion ?? 0);
        if (packet.clientId !== '') ids.add(packet.clientId);
        if (packet.username !== undefined && packet.username !== '') users.add(packet.username);
        break;
      case 'connack':
        if (version < 5) add(c.connack, packet.returnCode ?? -1);
        break;
      case 'publish':
        add(c.qos, packet.qos);
        add(all, packet.topic);
        break;
      case 'subscribe':
        if (version === 3) add(c.qos, 1);
        for (const subscription of packet.subscriptions) add(all, subscription.topic);
        break;
      case 'unsubscribe':
        if (version === 3) add(c.qos, 1);
        for (const filter of packet.unsubscriptions) add(all, filter);
        break;
      case 'pubrel':
        if (version === 3) add(c.qos, 1);
        break;
      default:
        break;
    }
  }
  for (const topic of topTopics) if (all[topic] !== undefined) c.topics[topic] = all[topic];
  c.distinctTopics = Object.keys(all).length;
  c.clientIds = ids.size;
  c.usernames = users.size;
  return c;
}

function tsharkCounts(name: string): Counts {
  const t = tsharkAll()[name]?.mqtt;
  if (t === undefined) throw new Error(`${name} is not in expected-tshark.json`);
  return {
    types: t.types, versions: t.versions, qos: t.qos, connack: t.connack_return_codes,
    topics: t.top_topics, distinctTopics: t.distinct_topics, clientIds: t.distinct_clientids, usernames: t.distinct_usernames,
  };
}

/** A pinned difference from TShark: what changes, and why (the `describe` blocks below). */
interface Difference {
  readonly distinctTopics?: number;
  readonly types?: Tally;
  readonly versions?: Tally;
  readonly qos?: Tally;
  readonly connack?: Tally;
  readonly topics?: Tally;
}

function shift(tally: Tally, delta: Tally = {}): Tally {
  const out: Tally = { ...tally };
  for (const [key, n] of Object.entries(delta)) {
    const value = (out[key] ?? 0) + n;
    if (value === 0) delete out[key];
    else out[key] = value;
  }
  return out;
}

function expected(name: string): Counts {
  const base = tsharkCounts(name);
  const difference = DIFFERENCES[name];
  if (difference === undefined) return base;
  return {
    ...base,
    types: shift(base.types, difference.types),
    versions: shift(base.versions, difference.versions),
    qos: shift(base.qos, difference.qos),
    connack: shift(base.connack, difference.connack),
    topics: shift(base.topics, difference.topics),
    distinctTopics: base.distinctTopics + (difference.distinctTopics ?? 0),
  };
}

/** Every capture whose counts differ from TShark's; any other must match exactly. */
const DIFFERENCES: Record<string, Difference> = {
  // A PUBLISH in a segment TShark takes for a retransmission (see 'mqttset-benign.pcap' below).
  'mqtt/mqttset-benign.pcap': { types: { PUBLISH: 1 }, qos: { 0: 1 }, topics: { Movement: 1 } },
  // The paho suite's CONNECT with protocol name "hj" (see 'paho captures' below).
  'mqtt/paho-v311-mosquitto.pcap': { types: { CONNECT: -1 }, versions: { 4: -1 } },
  // Two "hj" CONNECTs, two PUBLISHes with Topic Alias 0 and two by an alias never set.
  'mqtt/paho-v5-mosquitto.pcap': { types: { CONNECT: -2, PUBLISH: -4 }, versions: { 5: -2 }, qos: { 1: -4 }, topics: { TopicA: -2 } },
  // Refused packets: QoS 3, type 0, an oversized v5 property length (see below).
  'mqtt/suricata-verify/mqtt-events-invalid-qos/input.pcap': { types: { PUBLISH: -1 }, qos: { 3: -1 }, topics: { topicX: -1 }, distinctTopics: -1 },
  'mqtt/suricata-verify/mqtt-events-unassigned-msgtype/input.pcap': { types: { type0: -1 } },
  'mqtt/suricata-verify/mqtt5-excessiveproplen/input.pcap': { types: { CONNECT: -1 }, versions: { 5: -1 } },
  // A 2-byte CONNACK whose CONNECT the capture lost: TShark decodes it as 5.0 (see below).
  'mqtt/suricata-verify/mqtt-events-missing-connect/input.pcap': { connack: { 0: 1 } },
};

/**
 * Every anomaly reported in the MQTT captures, by record (1-based, as in Wireshark);
 * every other capture has none. The abnormal suricata-verify cases are explained below.
 */
const ANOMALIES: Record<string, readonly (readonly [number, MqttAnomalyName])[]> = {
  // Four connections joined mid-session (the capture has no CONNECT for three, and starts
  // one with the broker's delivery before any client byte, which is reported).
  'mqtt/ndpi-coap_mqtt.pcap': [[20, 'missing-connect'], [21, 'missing-connack'], [23, 'missing-connect'], [24, 'missing-connack'], [46, 'missing-connack'], [46, 'client-side-missing'], [51, 'missing-connect']],
  // The VLAN-tagged CONNECT to an Azure IoT hub has no answer in the capture.
  'mqtt/ndpi-mqtt.pcapng': [[9, 'missing-connack']],
  // The paho suite's second CONNECT on one socket, and its "hj" CONNECT (see below).
  'mqtt/paho-v311-mosquitto.pcap': [[91, 'duplicate-connect'], [98, 'malformed-packet'], [120, 'missing-connack']],
  'mqtt/paho-v5-mosquitto.pcap': [
    [103, 'duplicate-connect'], [110, 'malformed-packet'], [113, 'missing-connack'], [122, 'malformed-packet'], [169, 'unknown-topic-alias'],
    [370, 'duplicate-connect'], [377, 'malformed-packet'], [380, 'missing-connack'], [1258, 'malformed-packet'], [1300, 'unknown-topic-alias'],
  ],
  'mqtt/suricata-verify/mqtt-events-invalid-qos/input.pcap': [[8, 'invalid-qos']],
  'mqtt/suricata-verify/mqtt-events-missing-connect/input.pcap': [[16, 'missing-connect']],
  'mqtt/suricata-verify/mqtt-events-unassigned-msgtype/input.pcap': [[8, 'unassigned-message-type']],
  'mqtt/suricata-verify/mqtt-events-unintroduced/input.pcap': [[5, 'publish-before-connack'], [7, 'missing-connack']],
  'mqtt/suricata-verify/mqtt-midstream-split/mqtt-midstream-split.pcap': [[4, 'missing-connect']],
  'mqtt/suricata-verify/mqtt-ping/input.pcap': [[1, 'missing-connect'], [2, 'missing-connack']],
  'mqtt/suricata-verify/mqtt5-excessiveproplen/input.pcap': [[4, 'invalid-property-length']],
  // Paho's client sends PUBLISH and DISCONNECT right after CONNECT, before the CONNACK
  // (3.1.1 §3.1.4 allows it): held, and reported when the CONNACK accepts.
  'mqtt/zeek-mqtt.pcap': [[9, 'publish-before-connack']],
};

/**
 * 5.0 CONNACK reason codes. expected-tshark.json's CONNACK codes come from
 * `mqtt.conack.val`, which TShark fills for 3.1/3.1.1 only; for 5.0 it fills
 * `mqtt.connack.reason_code`. These are that field's values, per capture, from
 * `tshark -r <capture> [-d tcp.port==18830,mqtt] -Y mqtt.msgtype==2 -T fields -e mqtt.connack.reason_code`
 * (TShark 4.0.17). Every other capture has none.
 */
const TSHARK_V5_CONNACK_REASONS: Record<string, Tally> = {
  'mqtt/paho-v5-mosquitto.pcap': { 0: 76 },
  'mqtt/suricata-verify/mqtt-connect-rules-2/mqtt5_pub_jpeg_connack134.pcap': { 134: 1 },
  'mqtt/suricata-verify/mqtt5-sub-customauth/input.pcap': { 140: 1 },
  ...Object.fromEntries([
    'mqtt/suricata-verify/mqtt-connect-rules/mqtt5_pub_jpeg.pcap',
    'mqtt/suricata-verify/mqtt-pub-rules/mqtt5_pub_jpeg.pcap',
    'mqtt/suricata-verify/mqtt-frames-truncated/input.pcap',
    'mqtt/suricata-verify/mqtt-midstream-split/mqtt-midstream-split.pcap',
    'mqtt/suricata-verify/mqtt5-excessiveproplen/input.pcap',
    ...['pub-mosquittoprops', 'pub-qos1', 'pub-qos2', 'pub-userpass-auto-clientid', 'pub-userpass', 'sub-mosquittoprops', 'sub-userpass', 'unsub-qos1', 'unsub-qos2', 'unsub-userpass']
      .map((test) => `mqtt/suricata-verify/mqtt5-${test}/input.pcap`),
  ].map((name) => [name, { 0: 1 }])),
  // TShark, missing the CONNECT, decodes the 2-byte CONNACK of [::1]:60105 as 5.0; it is 3.1.1's (see below).
  'mqtt/suricata-verify/mqtt-events-missing-connect/input.pcap': { 0: 1 },
};
const V5_REASON_DIFFERENCES: Record<string, Tally> = {
  'mqtt/suricata-verify/mqtt-events-missing-connect/input.pcap': { 0: -1 },
};

function listCaptures(directory: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(directory)) {
    const path = join(directory, entry);
    if (statSync(path).isDirectory()) found.push(...listCaptures(path));
    else if (/\.pcap(ng)?$/.test(entry)) found.push(relative(FIXTURES, path));
  }
  return found;
}

describe.skipIf(!available)('MQTT captures against TShark 4.0.17', () => {
  const runs = new Map<string, Run>();
  const runOf = (name: string): Run => {
    let run = runs.get(name);
    if (run === undefined) {
      run = decodeCapture(name);
      runs.set(name, run);
    }
    return run;
  };
  const captures = available ? Object.keys(tsharkAll()).filter((name) => name.startsWith('mqtt/')).sort() : [];

  it('covers every MQTT capture in the fixtures', () => {
    expect(listCaptures(join(FIXTURES, 'mqtt')).sort()).toEqual(captures);
    expect(captures).toHaveLength(45);
    expect(mqttPorts('mqtt/ndpi-coap_mqtt.pcap')).toEqual([1883, 8883, 17501]);
    expect(mqttPorts('mqtt/ndpi-mqtt.pcapng')).toEqual([1883, 8883]);
  });

  it.each(captures)('%s: types, versions, QoS, CONNACK codes, topics, client ids as TShark, or the pinned difference', (name) => {
    const run = runOf(name);
    const ours = counts(run, Object.keys(tsharkCounts(name).topics));
    expect(ours).toEqual(expected(name));
  });

  it.each(captures)('%s: 5.0 CONNACK reason codes as TShark\'s mqtt.connack.reason_code, or the pinned difference', (name) => {
    const reasons: Tally = {};
    for (const { packet, version } of runOf(name).packets) {
      if (packet.cmd === 'connack' && version === 5) add(reasons, packet.reasonCode ?? -1);
    }
    expect(reasons).toEqual(shift(TSHARK_V5_CONNACK_REASONS[name] ?? {}, V5_REASON_DIFFERENCES[name]));
  });

  it.each(captures)('%s: exactly the anomalies pinned for it (none for clean traffic)', (name) => {
    expect(runOf(name).anomalies.map((a) => [a.record, a.name])).toEqual(ANOMALIES[name] ?? []);
  });

  describe('mqttset-benign.pcap: TShark skips a segment it takes for a retransmission', () => {
    // Record 8951 is a pure ACK from 192.168.0.174:43063 with sequence S+13; record 8952,
    // captured after it (its TCP timestamp is 1 ms older), carries the 13 bytes from S: a
    // PUBLISH to "Movement" that no other record carries. TShark sees a segment below the
    // highest sequence number and does not dissect it; the broker acknowledges S+13 in
    // record 8961. One PUBLISH TShark does not count.
    it('the PUBLISH at record 8952 is bytes no other record carries, acknowledged by the broker', () => {
      const run = decodeCapture('mqtt/mqttset-benign.pcap', { keepSegments: true });
      expect(run.packets.filter((p) => p.record === 8952).map((p) => [p.flow, p.direction, p.packet.cmd, (p.packet as { topic?: string }).topic])).toEqual([
        ['192.168.0.174:43063->10.16.100.73:1883', 'client-to-server', 'publish', 'Movement'],
      ]);
      const at = (record: number) => run.segments.find((s) => s.record === record)?.segment;
      const data = at(8952);
      const ack = at(8951);
      const broker = at(8961);
      expect(data?.payload.length).toBe(13);
      expect(ack?.payload.length).toBe(0);
      expect(ack?.seq).toBe(((data?.seq ?? 0) + 13) >>> 0);
      expect(broker?.srcPort).toBe(1883);
      expect(broker?.ack).toBe(((data?.seq ?? 0) + 13) >>> 0);
      const copies = run.segments.filter((s) => s.segment.srcPort === 43063 && s.segment.payload.length > 0 && s.segment.seq === data?.seq);
      expect(copies.map((s) => s.record)).toEqual([8952]);
    });
  });

  describe('paho captures: protocol violations the interoperability suite sends on purpose', () => {
    // The suite's "hj" test sends a CONNECT with protocol name "hj"; mosquitto closes the
    // connection without a CONNACK. mqtt-packet refuses the name (3.1.1 §3.1.2.1: a
    // server that does not get "MQTT" may disconnect), so there is no CONNECT to count and
    // no version; TShark dissects it and counts its level.
    it('the "hj" CONNECTs are malformed-packet, and the broker never answers them', () => {
      for (const [name, records] of [['mqtt/paho-v311-mosquitto.pcap', [98]], ['mqtt/paho-v5-mosquitto.pcap', [110, 377]]] as const) {
        const run = runOf(name);
        const refused = run.anomalies.filter((a) => a.detail === 'CONNECT: Invalid protocolId');
        expect(refused.map((a) => [a.record, a.name])).toEqual(records.map((record) => [record, 'malformed-packet']));
        for (const anomaly of refused) {
          expect(run.packets.filter((p) => p.flow === anomaly.flow)).toEqual([]);
          expect(run.anomalies.filter((a) => a.flow === anomaly.flow).map((a) => a.name)).toEqual(['malformed-packet', 'missing-connack']);
        }
      }
    });

    // 5.0 §3.3.2.3.4: Topic Alias 0 is not allowed, and an alias must be set on the
    // connection before it is used. The suite tries both; mosquitto answers the first with
    // DISCONNECT 0x81 (Malformed Packet), the second with 0x82 (Protocol Error), so neither
    // PUBLISH reaches a subscriber. TShark counts the four (QoS 1); the first two carry the
    // topic "TopicA".
    it('Topic Alias 0 and an alias never set: refused here as by mosquitto', () => {
      const run = runOf('mqtt/paho-v5-mosquitto.pcap');
      const alias = run.anomalies.filter((a) => a.detail.includes('Topic Alias'));
      expect(alias.map((a) => [a.record, a.name])).toEqual([
        [122, 'malformed-packet'], [169, 'unknown-topic-alias'], [1258, 'malformed-packet'], [1300, 'unknown-topic-alias'],
      ]);
      for (const anomaly of alias) {
        const answer = run.packets.find((p) => p.flow === anomaly.flow && p.record > anomaly.record && p.direction === 'server-to-client');
        expect(answer?.packet).toMatchObject({ cmd: 'disconnect', reasonCode: anomaly.name === 'malformed-packet' ? 0x81 : 0x82 });
      }
      // Aliases that were set resolve: TShark's TopicA count, less the two alias-0 ones.
      expect(run.packets.filter((p) => p.packet.cmd === 'publish' && (p.packet as { properties?: { topicAlias?: number } }).properties?.topicAlias !== undefined).map((p) => (p.packet as { topic: string }).topic))
        .toEqual(['TopicA', 'TopicA', 'TopicA', 'TopicA']);
    });
  });

  describe('suricata-verify: packets refused rather than decoded', () => {
    // [MQTT-3.3.1-4]: a PUBLISH must not have both QoS bits set. TShark dissects it as
    // QoS 3; it is reported here as `invalid-qos`, passed over by its length, and not
    // observed as a publish (a broker closes the connection on it).
    it('mqtt-events-invalid-qos: the QoS 3 PUBLISH of record 8, then the DISCONNECT decodes', () => {
      const run = runOf('mqtt/suricata-verify/mqtt-events-invalid-qos/input.pcap');
      expect(run.anomalies.map((a) => [a.record, a.name])).toEqual([[8, 'invalid-qos']]);
      expect(run.packets.map((p) => [p.record, p.packet.cmd])).toEqual([[4, 'connect'], [6, 'connack'], [9, 'disconnect']]);
    });

    it('mqtt-events-unassigned-msgtype: the type 0 packet of record 8 (TShark\'s "type0")', () => {
      const run = runOf('mqtt/suricata-verify/mqtt-events-unassigned-msgtype/input.pcap');
      expect(run.anomalies.map((a) => [a.record, a.name])).toEqual([[8, 'unassigned-message-type']]);
      expect(run.packets.map((p) => [p.record, p.packet.cmd])).toEqual([[4, 'connect'], [6, 'connack'], [9, 'disconnect']]);
    });

    // The CONNECT's Property Length is 0xff 0x21 = 4351 in a 47-byte packet; TShark marks
    // it malformed too (malformed_frames: 1) but counts it. Its level (5) is still read
    // from its bytes, so the PUBLISH that follows is decoded as 5.0.
    it('mqtt5-excessiveproplen: the CONNECT of record 4, and the rest read as 5.0', () => {
      const run = runOf('mqtt/suricata-verify/mqtt5-excessiveproplen/input.pcap');
      expect(run.anomalies.map((a) => [a.record, a.name, a.detail])).toEqual([[4, 'invalid-property-length', 'CONNECT properties: Property Length 4351 runs 4316 bytes past the end of the packet']]);
      expect(run.packets.map((p) => [p.packet.cmd, p.version])).toEqual([['connack', 5], ['publish', 5], ['disconnect', 5]]);
      expect(run.packets[1]?.packet).toMatchObject({ topic: 'topicX' });
    });

    // The client's CONNECT (16 bytes) is not in the capture: the receiver acknowledged it
    // (record 15) and the stream resumes at the SUBSCRIBE (`tcp-gap`). TShark, without a
    // CONNECT, decodes the 2-byte CONNACK as 5.0 ("Unknown version (missing the CONNECT
    // packet?)") and files its code under mqtt.connack.reason_code. A 5.0 CONNACK always
    // has a Property Length (5.0 §3.2.2.3), so a 2-byte one is 3.1/3.1.1's.
    it('mqtt-events-missing-connect: the CONNACK without CONNECT is 2 bytes, read as 3.1.1', () => {
      const run = runOf('mqtt/suricata-verify/mqtt-events-missing-connect/input.pcap');
      const connack = run.packets.find((p) => p.record === 16);
      expect(connack).toMatchObject({ flow: '[::1]:60105->[::1]:1883', version: 4, packet: { cmd: 'connack', returnCode: 0, length: 2 } });
      expect(run.tcpAnomalies).toEqual([{ record: 22, name: 'tcp-gap', flow: '[::1]:60105->[::1]:1883' }]);
    });
  });
});

// ---- suricata-verify abnormal cases ---------------------------------------------------

interface SuricataTest {
  checks?: { filter?: { count?: number; match?: Record<string, unknown> } }[];
}

function suricataTest(test: string): SuricataTest {
  return parseYaml(readFileSync(join(FIXTURES, 'mqtt/suricata-verify', test, 'test.yaml'), 'utf8')) as SuricataTest;
}

/** The `anomaly.event` names a test.yaml expects, each as often as it counts it. */
function suricataEvents(test: string): string[] {
  const events: string[] = [];
  for (const check of suricataTest(test).checks ?? []) {
    const event = check.filter?.match?.['anomaly.event'];
    if (typeof event === 'string') for (let i = 0; i < (check.filter?.count ?? 1); i += 1) events.push(event);
  }
  return events;
}

function maxMsgLength(test: string): number {
  const config = parseYaml(readFileSync(join(FIXTURES, 'mqtt/suricata-verify', test, 'suricata.yaml'), 'utf8')) as { 'app-layer': { protocols: { mqtt: { 'max-msg-length': number } } } };
  return config['app-layer'].protocols.mqtt['max-msg-length'];
}

/**
 * Suricata's events and Wardwatch's names. Suricata's `unintroduced_message` is any
 * packet before the CONNECT/CONNACK exchange is complete; Wardwatch says which side:
 * the client before its CONNECT (`missing-connect`), the server before its CONNACK
 * (`missing-connack`), the client after CONNECT but before the CONNACK
 * (`publish-before-connack`, and `missing-connack` when the connection ends without
 * one). `malformed_traffic` is, in mqtt5-excessiveproplen, the Property Length.
 */
const ABNORMAL: readonly { test: string; capture: string; suricata: string[]; wardwatch: MqttAnomalyName[] }[] = [
  { test: 'mqtt-events-invalid-qos', capture: 'input.pcap', suricata: ['invalid_qos_level'], wardwatch: ['invalid-qos'] },
  { test: 'mqtt-events-unassigned-msgtype', capture: 'input.pcap', suricata: ['unassigned_msg_type'], wardwatch: ['unassigned-message-type'] },
  { test: 'mqtt-events-missing-connect', capture: 'input.pcap', suricata: ['missing_connect'], wardwatch: ['missing-connect'] },
  { test: 'mqtt-events-unintroduced', capture: 'input.pcap', suricata: ['unintroduced_message'], wardwatch: ['publish-before-connack', 'missing-connack'] },
  { test: 'mqtt-ping', capture: 'input.pcap', suricata: ['unintroduced_message', 'unintroduced_message'], wardwatch: ['missing-connect', 'missing-connack'] },
  { test: 'mqtt5-excessiveproplen', capture: 'input.pcap', suricata: ['malformed_traffic'], wardwatch: ['invalid-property-length'] },
];

describe.skipIf(!available)('suricata-verify abnormal MQTT cases', () => {
  it.each(ABNORMAL)('$test: test.yaml expects $suricata, Wardwatch reports $wardwatch', ({ test, capture, suricata, wardwatch }) => {
    expect(suricataEvents(test)).toEqual(suricata);
    const run = decodeCapture(`mqtt/suricata-verify/${test}/${capture}`);
    expect(run.anomalies.map((a) => a.name)).toEqual(wardwatch);
  });

  it('mqtt-events-unintroduced: the PUBLISH sent before a CONNACK that never came is not observed', () => {
    const run = decodeCapture('mqtt/suricata-verify/mqtt-events-unintroduced/input.pcap');
    expect(run.packets.map((p) => [p.record, p.packet.cmd])).toEqual([[4, 'connect'], [5, 'publish']]);
    expect(run.anomalies.map((a) => [a.record, a.detail])).toEqual([
      [5, 'PUBLISH to "topicX" before the CONNACK: held until the broker accepts the login'],
      [7, 'the connection ended without a CONNACK: 1 packet sent before it not reported'],
    ]);
    expect(run.observations).toEqual([]);
  });

  // mqtt-limit-1/-2/-3 run Suricata on one capture with max-msg-length 50000, 500 and 50:
  // each PUBLISH longer is logged as truncated with its `skipped_length` (whole packet).
  // The same caps as maxPacketBytes give `oversize` for exactly those packets, and the
  // stream decodes on after each one.
  it.each(['mqtt-limit-1', 'mqtt-limit-2', 'mqtt-limit-3'])('%s: oversize for the PUBLISHes Suricata truncates at its max-msg-length', (test) => {
    const skipped = (suricataTest(test).checks ?? []).map((check) => check.filter?.match?.['mqtt.publish.skipped_length']).filter((n): n is number => typeof n === 'number');
    const run = decodeCapture('mqtt/suricata-verify/mqtt-limit-2/input.pcap', { maxPacketBytes: maxMsgLength(test) });
    expect(run.anomalies.filter((a) => a.name === 'oversize').map((a) => Number(/PUBLISH of (\d+) bytes/.exec(a.detail)?.[1]))).toEqual(skipped);
    expect(run.anomalies.filter((a) => a.name !== 'oversize')).toEqual([]);
    expect(run.packets.filter((p) => p.packet.cmd === 'puback')).toHaveLength(3);
    expect(run.packets.at(-1)?.packet.cmd).toBe('disconnect');
  });

  // Despite its name, this capture holds no cut packet: the test is about Suricata's
  // frame keywords, with max-msg-length 60 (suricata.yaml), and its CONNECT (30 bytes)
  // and CONNACK (55 bytes, Remaining Length 53) are both whole and under that cap; the
  // capture simply ends after them. Wardwatch, with the same cap, reports nothing. Cut
  // after 30 bytes of its CONNACK, the same stream gives `truncated-frame`.
  it('mqtt-frames-truncated: both packets are whole; cutting its CONNACK gives truncated-frame', () => {
    const name = 'mqtt/suricata-verify/mqtt-frames-truncated/input.pcap';
    expect(maxMsgLength('mqtt-frames-truncated')).toBe(60);
    const whole = decodeCapture(name, { maxPacketBytes: 60 });
    expect(whole.anomalies).toEqual([]);
    expect(whole.packets.map((p) => [p.packet.cmd, p.version, (p.packet as { length: number }).length])).toEqual([['connect', 5, 28], ['connack', 5, 53]]);
    expect(whole.packets[1]?.packet).toMatchObject({ reasonCode: 0, properties: { topicAliasMaximum: 10, assignedClientIdentifier: 'auto-17236393-B532-03F2-6526-F71115B8A4BE', receiveMaximum: 20 } });
    const cut = decodeCapture(name, { cut: (flow, payload) => (flow.direction === 'server-to-client' ? payload.subarray(0, 30) : payload) });
    expect(cut.anomalies.map((a) => [a.name, a.detail])).toEqual([
      ['truncated-frame', 'CONNACK of 55 bytes cut by the end of the stream after 30 bytes'],
      ['missing-connack', 'the connection ended without a CONNACK'],
    ]);
  });

  // The capture starts at the server's CONNACK (split over two segments) and has no
  // CONNECT. Suricata (midstream) logs the CONNACK, a PUBLISH to topicX and the
  // DISCONNECT; so does Wardwatch, reading the 53-byte CONNACK as 5.0 and so the
  // 35,771-byte PUBLISH (three segments) too, and it reports the CONNACK without CONNECT.
  it('mqtt-midstream-split: missing-connect, then the CONNACK, PUBLISH and DISCONNECT Suricata logs', () => {
    const run = decodeCapture('mqtt/suricata-verify/mqtt-midstream-split/mqtt-midstream-split.pcap');
    const test = suricataTest('mqtt-midstream-split');
    const logged = (test.checks ?? []).map((check) => check.filter?.match).filter((match) => match?.event_type === 'mqtt');
    expect(logged.map((match) => Object.keys(match ?? {}).find((key) => key.startsWith('mqtt.'))?.split('.')[1])).toEqual(['connack', 'publish', 'disconnect']);
    expect(run.anomalies.map((a) => [a.record, a.name, a.detail])).toEqual([[4, 'missing-connect', 'CONNACK for a CONNECT the capture does not show']]);
    expect(run.packets.map((p) => [p.record, p.packet.cmd, p.version])).toEqual([[4, 'connack', 5], [10, 'publish', 5], [12, 'disconnect', 5]]);
    expect(run.packets[0]?.packet).toMatchObject({ reasonCode: 0, sessionPresent: false });
    const publish = run.packets[1]?.packet as { topic: string; qos: number; retain: boolean; payload: Buffer; length: number };
    expect([publish.topic, publish.qos, publish.retain, publish.length + 4]).toEqual(['topicX', 0, false, 32747 + 21 + 3003]);
  });
});

describe.skipIf(!available)('negative captures (medical devices, no MQTT)', () => {
  const negatives = available ? listCaptures(join(FIXTURES, 'negative')).sort() : [];

  it.each(negatives)('%s: no MQTT observation on the MQTT ports, nor with every TCP flow decoded as MQTT', (name) => {
    expect(tsharkAll()[name]?.mqtt.messages).toBe(0);
    const ports = decodeCapture(name);
    expect(ports.observations).toEqual([]);
    expect(ports.packets).toEqual([]);
    const every = decodeCapture(name, { allPorts: true });
    expect(every.observations).toEqual([]);
    expect(every.packets).toEqual([]);
  });

  it('the baby monitors\' port-8883 flows are TLS, reported as such and not decoded', () => {
    for (const name of ['negative/babymonitor__wifi__2_2.pcap', 'negative/babymonitor__wifi__7_2.pcap']) {
      expect(decodeCapture(name).anomalies.map((a) => [a.direction, a.name])).toEqual([['client-to-server', 'tls-stream'], ['server-to-client', 'tls-stream']]);
    }
  });
});
