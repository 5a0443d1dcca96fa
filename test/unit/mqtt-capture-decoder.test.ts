import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MqttStreamDecoder,
  type MqttDecoderAnomalyName,
  type MqttPacket,
  type MqttStreamDecoderOptions,
  type MqttStreamDirection,
} from '../../agent/src/protocol/mqtt/index.ts';
import { IN_CI } from '../helpers/peers.ts';

/**
 * MqttStreamDecoder on hand-built bytes, one test per anomaly name, each packet written
 * out field by field (MQTT 3.1.1 §3, 5.0 §3, 3.1 for "MQIsdp").
 */

/** Hex bytes, one field per line; `#` starts a comment. */
function bytes(text: string): Buffer {
  return Buffer.from(text.replace(/#[^\n]*/g, '').replace(/\s+/g, ''), 'hex');
}

function ascii(text: string): string {
  return Buffer.from(text, 'latin1').toString('hex');
}

interface Decoded {
  readonly packets: MqttPacket[];
  readonly anomalies: { name: MqttDecoderAnomalyName; detail: string }[];
  readonly names: MqttDecoderAnomalyName[];
  readonly decoder: MqttStreamDecoder;
}

/** Pushes the chunks in order, then ends the stream. */
function decode(direction: MqttStreamDirection, chunks: Buffer | readonly Buffer[], options: Partial<MqttStreamDecoderOptions> = {}, end = true): Decoded {
  const decoder = new MqttStreamDecoder({ direction, ...options });
  const packets: MqttPacket[] = [];
  const anomalies: { name: MqttDecoderAnomalyName; detail: string }[] = [];
  const sink = { packet: (packet: MqttPacket) => packets.push(packet), anomaly: (name: MqttDecoderAnomalyName, detail: string) => anomalies.push({ name, detail }) };
  for (const chunk of Buffer.isBuffer(chunks) ? [chunks] : chunks) decoder.push(chunk, sink);
  if (end) decoder.end(sink);
  return { packets, anomalies, names: anomalies.map((a) => a.name), decoder };
}

const cmds = (decoded: Decoded): string[] => decoded.packets.map((p) => p.cmd);

// ---- Packets used throughout ---------------------------------------------------------

const CONNECT_311 = bytes(`
  10 21                      # CONNECT, Remaining Length 33
  00 04 ${ascii('MQTT')}     # protocol name
  04                         # protocol level 4 (3.1.1)
  c2                         # flags: user name, password, clean session
  00 3c                      # keep alive 60 s
  00 06 ${ascii('pump-7')}   # client identifier
  00 05 ${ascii('nurse')}    # user name
  00 06 ${ascii('secret')}   # password
`);

const PUBLISH_QOS0 = bytes(`
  30 18                          # PUBLISH, QoS 0, Remaining Length 24
  00 0a ${ascii('ward/1/cmd')}   # topic name
  ${ascii('{"rate":4.2}')}       # payload (12 bytes)
`);

const DISCONNECT_311 = bytes('e0 00');

describe('MqttStreamDecoder: well-formed packets', () => {
  it('decodes a 3.1.1 CONNECT, PUBLISH and DISCONNECT, and takes the version from the CONNECT', () => {
    const decoded = decode('client-to-server', Buffer.concat([CONNECT_311, PUBLISH_QOS0, DISCONNECT_311]));
    expect(decoded.names).toEqual([]);
    expect(cmds(decoded)).toEqual(['connect', 'publish', 'disconnect']);
    expect(decoded.packets[0]).toMatchObject({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'pump-7', username: 'nurse' });
    expect(decoded.packets[1]).toMatchObject({ cmd: 'publish', topic: 'ward/1/cmd', qos: 0, retain: false });
    expect((decoded.packets[1] as { payload: Buffer }).payload.toString()).toBe('{"rate":4.2}');
    expect(decoded.decoder.protocolVersion).toBe(4);
    expect(decoded.decoder.versionSource).toBe('connect');
  });

  it('decodes MQTT 3.1 ("MQIsdp", level 3), whose SUBSCRIBE header carries QoS 1', () => {
    const decoded = decode('client-to-server', bytes(`
      10 12                        # CONNECT, Remaining Length 18
      00 06 ${ascii('MQIsdp')}     # protocol name of 3.1
      03                           # protocol level 3
      00                           # flags: none (no clean session)
      00 1e                        # keep alive 30 s
      00 04 ${ascii('test')}       # client identifier
      82 0f                        # SUBSCRIBE, flags 0b0010 (QoS 1 in 3.1), Remaining Length 15
      00 01                        # packet identifier
      00 0a ${ascii('ward/1/cmd')} # topic filter
      01                           # requested QoS 1
    `));
    expect(decoded.names).toEqual([]);
    expect(decoded.packets[0]).toMatchObject({ cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 3, clientId: 'test' });
    expect(decoded.packets[1]).toMatchObject({ cmd: 'subscribe', qos: 1, messageId: 1, subscriptions: [{ topic: 'ward/1/cmd', qos: 1 }] });
    expect(decoded.decoder.protocolVersion).toBe(3);
  });

  it('decodes MQTT 5 with properties, and resolves a Topic Alias on the same direction', () => {
    const decoded = decode('client-to-server', bytes(`
      10 1b                        # CONNECT, Remaining Length 27
      00 04 ${ascii('MQTT')}       # protocol name
      05                           # protocol level 5
      02                           # flags: clean start
      00 3c                        # keep alive
      08                           # Property Length 8
      11 00 00 0e 10               #   Session Expiry Interval 3600 s
      21 00 14                     #   Receive Maximum 20
      00 06 ${ascii('pump-7')}     # client identifier
      32 3a                        # PUBLISH, QoS 1, Remaining Length 58
      00 0a ${ascii('ward/1/cmd')} # topic name
      00 07                        # packet identifier
      1f                           # Property Length 31
      01 01                        #   Payload Format Indicator: UTF-8
      03 00 10 ${ascii('application/json')} # Content Type
      23 00 01                     #   Topic Alias 1
      26 00 01 6b 00 01 76         #   User Property k=v
      ${ascii('{"rate":4.2}')}     # payload
      32 14                        # PUBLISH, QoS 1, Remaining Length 20
      00 00                        # topic name: empty, the alias stands for it
      00 08                        # packet identifier
      03                           # Property Length 3
      23 00 01                     #   Topic Alias 1
      ${ascii('{"rate":4.3}')}     # payload
    `));
    expect(decoded.names).toEqual([]);
    expect(decoded.packets[0]).toMatchObject({ cmd: 'connect', protocolVersion: 5, clientId: 'pump-7', properties: { sessionExpiryInterval: 3600, receiveMaximum: 20 } });
    expect(decoded.packets[1]).toMatchObject({
      cmd: 'publish', topic: 'ward/1/cmd', qos: 1, messageId: 7,
      properties: { payloadFormatIndicator: true, contentType: 'application/json', topicAlias: 1, userProperties: { k: 'v' } },
    });
    expect(decoded.packets[2]).toMatchObject({ cmd: 'publish', topic: 'ward/1/cmd', messageId: 8 });
    expect((decoded.packets[2] as { payload: Buffer }).payload.toString()).toBe('{"rate":4.3}');
  });

  it('server side: told the CONNECT\'s version, or inferring 5.0 from a CONNACK longer than 2 bytes', () => {
    const connack5 = bytes(`
      20 06      # CONNACK, Remaining Length 6 (3.1.1's is always 2)
      00         # acknowledge flags
      00         # reason code: Success
      03         # Property Length 3
      22 00 0a   #   Topic Alias Maximum 10
    `);
    const inferred = decode('server-to-client', connack5);
    expect(inferred.names).toEqual([]);
    expect(inferred.packets[0]).toMatchObject({ cmd: 'connack', reasonCode: 0, properties: { topicAliasMaximum: 10 } });
    expect([inferred.decoder.protocolVersion, inferred.decoder.versionSource]).toEqual([5, 'inferred']);

    const told = new MqttStreamDecoder({ direction: 'server-to-client' });
    told.setProtocolVersion(5);
    const packets: MqttPacket[] = [];
    told.push(bytes('40 04 00 07 10 00'), { packet: (p) => packets.push(p), anomaly: () => undefined }); // PUBACK id 7, reason 0x10, no properties
    expect(packets[0]).toMatchObject({ cmd: 'puback', messageId: 7, reasonCode: 0x10 });
  });

  it('gives the same packets and anomalies however the stream is cut into chunks', () => {
    const stream = Buffer.concat([
      CONNECT_311,
      PUBLISH_QOS0,
      bytes('36 1a 00 0a') , Buffer.from('ward/1/cmd'), bytes('00 01'), Buffer.from('{"rate":4.2}'), // QoS 3
      bytes('00 02 00 00'), // type 0
      PUBLISH_QOS0,
      bytes('ff ff ff ff ff ff'), Buffer.from('GARBAGE'), // framing lost: resynchronise
      PUBLISH_QOS0,
      DISCONNECT_311,
    ]);
    const whole = decode('client-to-server', stream);
    expect(whole.names).toEqual(['invalid-qos', 'unassigned-message-type', 'malformed-packet']);
    expect(cmds(whole)).toEqual(['connect', 'publish', 'publish', 'publish', 'disconnect']);
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 12 }), (cuts) => {
      const points = [0, ...[...cuts].sort((a, b) => a - b), stream.length];
      const chunks = points.slice(1).map((to, i) => stream.subarray(points[i], to));
      const split = decode('client-to-server', chunks);
      expect(split.names).toEqual(whole.names);
      expect(split.packets).toEqual(whole.packets);
    }), { numRuns: 200 });
  });
});

describe('MqttStreamDecoder: named anomalies', () => {
  it('invalid-qos: a PUBLISH with both QoS bits set is reported and passed over by its length [MQTT-3.3.1-4]', () => {
    const decoded = decode('client-to-server', Buffer.concat([CONNECT_311, bytes(`
      36 1a                          # PUBLISH, flags 0b0110: QoS 3, Remaining Length 26
      00 0a ${ascii('ward/1/cmd')}   # topic name
      00 01                          # packet identifier
      ${ascii('{"rate":4.2}')}       # payload
    `), DISCONNECT_311]));
    expect(decoded.names).toEqual(['invalid-qos']);
    expect(cmds(decoded)).toEqual(['connect', 'disconnect']);
  });

  it('unassigned-message-type: type 0, and type 15 before MQTT 5 (where it is AUTH)', () => {
    const decoded = decode('client-to-server', Buffer.concat([CONNECT_311, bytes(`
      00 03 01 02 03   # type 0 (reserved), Remaining Length 3
      f0 00            # type 15: AUTH exists only in 5.0
    `), DISCONNECT_311]));
    expect(decoded.names).toEqual(['unassigned-message-type', 'unassigned-message-type']);
    expect(cmds(decoded)).toEqual(['connect', 'disconnect']);
    const v5 = new MqttStreamDecoder({ direction: 'client-to-server' });
    const auth: string[] = [];
    const sink = { packet: (p: MqttPacket) => auth.push(p.cmd), anomaly: (n: string) => auth.push(n) };
    v5.push(bytes(`10 0d 00 04 ${ascii('MQTT')} 05 02 00 3c 00 00 00`), sink); // CONNECT 5.0, no properties, empty client id
    v5.push(bytes('f0 00'), sink); // AUTH with the reason code left out
    expect(auth).toEqual(['connect', 'malformed-packet']); // mqtt-packet 9.0.2 requires the reason code (newer versions do not)
    v5.push(bytes('f0 02 18 00'), sink); // AUTH, Continue Authentication, no properties
    expect(auth).toEqual(['connect', 'malformed-packet', 'auth']);
  });

  it('missing-connect: a client whose first packet is not CONNECT; the packet is still decoded [MQTT-3.1.0-1]', () => {
    const decoded = decode('client-to-server', Buffer.concat([PUBLISH_QOS0, CONNECT_311]));
    expect(decoded.names).toEqual(['missing-connect']);
    expect(cmds(decoded)).toEqual(['publish', 'connect']);
  });

  it('missing-connack: a server whose first packet is not CONNACK [MQTT-3.2.0-1]', () => {
    const decoded = decode('server-to-client', bytes('90 03 00 01 00')); // SUBACK id 1, granted QoS 0
    expect(decoded.names).toEqual(['missing-connack']);
    expect(cmds(decoded)).toEqual(['suback']);
  });

  it('duplicate-connect: a second CONNECT on one connection [MQTT-3.1.0-2]', () => {
    const decoded = decode('client-to-server', Buffer.concat([CONNECT_311, CONNECT_311]));
    expect(decoded.names).toEqual(['duplicate-connect']);
  });

  it('wrong-direction: a CONNACK sent by the client', () => {
    const decoded = decode('client-to-server', Buffer.concat([CONNECT_311, bytes('20 02 00 00')]));
    expect(decoded.names).toEqual(['wrong-direction']);
    expect(cmds(decoded)).toEqual(['connect', 'connack']);
  });

  it('truncated-frame: a packet cut by the end of the stream, by a gap, or inside its fixed header', () => {
    const cut = decode('client-to-server', [CONNECT_311, PUBLISH_QOS0.subarray(0, 10)]);
    expect(cut.anomalies).toEqual([{ name: 'truncated-frame', detail: 'PUBLISH of 26 bytes cut by the end of the stream after 10 bytes' }]);

    const gapped = decode('client-to-server', [CONNECT_311, PUBLISH_QOS0.subarray(0, 10)], {}, false);
    const after: string[] = [];
    const sink = { packet: (p: MqttPacket) => after.push(p.cmd), anomaly: (n: string, d: string) => after.push(`${n}: ${d}`) };
    gapped.decoder.gap(sink);
    gapped.decoder.push(PUBLISH_QOS0, sink);
    expect(after).toEqual(['truncated-frame: PUBLISH of 26 bytes cut by a gap in the capture after 10 bytes', 'publish']);

    const header = decode('client-to-server', [CONNECT_311, bytes('30 ff')]); // Remaining Length continues
    expect(header.anomalies).toEqual([{ name: 'truncated-frame', detail: 'a fixed header cut by the end of the stream after 2 bytes' }]);
  });

  it('invalid-property-length: a v5 Property Length past the end of its packet (CONNECT of suricata-verify mqtt5-excessiveproplen)', () => {
    const decoded = decode('client-to-server', bytes(`
      10 2f                        # CONNECT, Remaining Length 47
      00 04 ${ascii('MQTT')}       # protocol name
      05                           # protocol level 5
      c2                           # flags: user name, password, clean start
      00 3c                        # keep alive
      ff 21                        # Property Length 4351 (0x7f + 0x21 × 128): 39 bytes remain
      00 14 00 13 ${ascii('myvoiceismypassport')} 00 04 ${ascii('user')} 00 04 ${ascii('pass')}
      30 19                        # PUBLISH, QoS 0, Remaining Length 25: read as 5.0 all the same
      00 06 ${ascii('topicX')}     # topic name
      00                           # Property Length 0
      ${ascii('baabaablacksheep')} # payload
      30 0c                        # PUBLISH, Remaining Length 12
      00 01 ${ascii('t')}          # topic name
      20                           # Property Length 32: 8 bytes remain
      ${ascii('payload!')}
    `));
    expect(decoded.anomalies).toEqual([
      { name: 'invalid-property-length', detail: 'CONNECT properties: Property Length 4351 runs 4316 bytes past the end of the packet' },
      { name: 'invalid-property-length', detail: 'PUBLISH properties: Property Length 32 runs 24 bytes past the end of the packet' },
    ]);
    expect(decoded.packets).toHaveLength(1);
    expect(decoded.packets[0]).toMatchObject({ cmd: 'publish', topic: 'topicX' });
    expect((decoded.packets[0] as { payload: Buffer }).payload.toString()).toBe('baabaablacksheep');
    expect(decoded.decoder.protocolVersion).toBe(5);
  });

  it('unknown-topic-alias: a v5 PUBLISH by an alias the connection never set (a Protocol Error)', () => {
    const decoded = decode('client-to-server', bytes(`
      10 0d 00 04 ${ascii('MQTT')} 05 02 00 3c 00 00 00   # CONNECT 5.0, no properties, empty client id
      30 07                        # PUBLISH, Remaining Length 7
      00 00                        # topic name: empty
      03 23 00 02                  # Property Length 3, Topic Alias 2 (never set)
      ${ascii('x')}
    `));
    expect(decoded.names).toEqual(['unknown-topic-alias']);
    expect(cmds(decoded)).toEqual(['connect']);
  });

  it('oversize: a packet above maxPacketBytes is reported and passed over as it arrives, never held', () => {
    const big = Buffer.concat([bytes('30 cb 01 00 0a'), Buffer.from('ward/1/cmd'), Buffer.alloc(191, 0x41)]); // PUBLISH, Remaining Length 203
    const stream = Buffer.concat([CONNECT_311, big, DISCONNECT_311]);
    const chunks: Buffer[] = [];
    for (let at = 0; at < stream.length; at += 20) chunks.push(stream.subarray(at, at + 20));
    const decoder = new MqttStreamDecoder({ direction: 'client-to-server', maxPacketBytes: 64 });
    const seen: string[] = [];
    let held = 0;
    for (const chunk of chunks) {
      decoder.push(chunk, { packet: (p) => seen.push(p.cmd), anomaly: (n, d) => seen.push(`${n}: ${d}`) });
      held = Math.max(held, decoder.bufferedBytes);
    }
    expect(seen).toEqual(['connect', 'oversize: PUBLISH of 206 bytes, above the cap of 64: passed over', 'disconnect']);
    expect(held).toBeLessThanOrEqual(64);
  });

  it('malformed-packet: reserved flags, a body where none is allowed, bad topics, a reserved CONNACK code; each passed over by its length', () => {
    const decoded = decode('client-to-server', Buffer.concat([CONNECT_311, bytes(`
      80 0f 00 01 00 0a ${ascii('ward/1/cmd')} 00   # SUBSCRIBE with flags 0 instead of 0b0010 [MQTT-3.8.1-1]
      c0 01 00                                      # PINGREQ with a 1-byte body (§3.12: none)
      30 0e 00 0a ${ascii('ward/+/cmd')} 7b 7d      # PUBLISH to a topic name with a wildcard [MQTT-3.3.2-2]
      30 04 00 00 7b 7d                             # PUBLISH to an empty topic name [MQTT-4.7.3-1]
      82 0d 00 02 00 08 ${ascii('ward/#/x')} 00     # SUBSCRIBE to a filter with "#" not last [MQTT-4.7.1-2]
    `), PUBLISH_QOS0]));
    expect(decoded.anomalies.map((a) => a.detail)).toEqual([
      'SUBSCRIBE with flags 0x0, must be 0x2 [MQTT-2.2.2-1]',
      'PINGREQ with a 1-byte body, must be 0 bytes (MQTT 3.1.1)',
      'PUBLISH with a wildcard "+" in a topic name [MQTT-3.3.2-2]',
      'PUBLISH with an empty topic name [MQTT-4.7.3-1]',
      'SUBSCRIBE with a misplaced "#" in the topic filter "ward/#/x" [MQTT-4.7.1-2]',
    ]);
    expect(decoded.names.every((name) => name === 'malformed-packet')).toBe(true);
    expect(cmds(decoded)).toEqual(['connect', 'publish']);
    const connack = decode('server-to-client', bytes('20 02 00 06')); // return code 6: reserved (3.1.1 Table 3.1)
    expect(connack.anomalies).toEqual([{ name: 'malformed-packet', detail: 'CONNACK return code 6 is reserved (3.1.1 §3.2.2.3); the stream does not start with an MQTT packet: resynchronising' }]);
  });

  it('tls-stream: TLS records where MQTT was expected (port 8883): the direction is not decoded', () => {
    const decoded = decode('client-to-server', [bytes('16 03 01 00 05 01 00 00 01 00'), CONNECT_311]);
    expect(decoded.names).toEqual(['tls-stream']);
    expect(decoded.packets).toEqual([]);
    expect(decode('server-to-client', bytes('17 03 03 00 02 ab cd')).names).toEqual(['tls-stream']); // application_data, joined late
  });
});

describe('MqttStreamDecoder: resynchronisation', () => {
  it('after garbage that breaks the framing, the next good packet is decoded (one anomaly per episode)', () => {
    const decoded = decode('client-to-server', Buffer.concat([
      CONNECT_311,
      bytes('ff ff ff ff ff'),                // a Remaining Length with a fifth byte: framing lost
      Buffer.from('HTTP/1.1 400 Bad Request\r\n'), // text: no PUBLISH can start in it (topic length ≥ 0x2020)
      bytes('ff 00 13 37'),
      PUBLISH_QOS0,
      DISCONNECT_311,
    ]));
    expect(decoded.anomalies).toEqual([{ name: 'malformed-packet', detail: 'a Remaining Length longer than four bytes (first byte 0xff); framing lost: resynchronising' }]);
    expect(cmds(decoded)).toEqual(['connect', 'publish', 'disconnect']);
    expect(decoded.decoder.skippedBytes).toBe(5 + 26 + 4);
  });

  it('a stream that starts inside a packet (a capture joined mid-stream) resynchronises on the next packet', () => {
    const decoded = decode('client-to-server', Buffer.concat([PUBLISH_QOS0.subarray(9), PUBLISH_QOS0, DISCONNECT_311]));
    expect(decoded.names).toEqual(['malformed-packet', 'missing-connect']);
    expect(decoded.anomalies[0]?.detail).toMatch(/the stream does not start with an MQTT packet: resynchronising$/);
    expect(cmds(decoded)).toEqual(['publish', 'disconnect']);
  });

  it('after a gap the next bytes are checked before their length is believed', () => {
    const decoder = new MqttStreamDecoder({ direction: 'client-to-server' });
    const seen: string[] = [];
    const sink = { packet: (p: MqttPacket) => seen.push(p.cmd), anomaly: (n: string) => seen.push(n) };
    decoder.push(CONNECT_311, sink);
    decoder.gap(sink);
    // Resumes 5 bytes into a PUBLISH: "1/cmd{..." is not a packet; the next PUBLISH is.
    decoder.push(Buffer.concat([PUBLISH_QOS0.subarray(9), PUBLISH_QOS0]), sink);
    expect(seen).toEqual(['connect', 'malformed-packet', 'publish']);
  });

  it('never throws and never holds more than maxPacketBytes + 4 on random input', () => {
    fc.assert(fc.property(
      fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { maxLength: 20 }),
      fc.constantFrom<MqttStreamDirection>('client-to-server', 'server-to-client'),
      fc.constantFrom(3, 4, 5),
      (chunks, direction, version) => {
        const decoder = new MqttStreamDecoder({ direction, protocolVersion: version as 3 | 4 | 5, maxPacketBytes: 128 });
        const sink = { packet: () => undefined, anomaly: () => undefined };
        for (const chunk of chunks) {
          decoder.push(Buffer.from(chunk), sink);
          expect(decoder.bufferedBytes).toBeLessThanOrEqual(128 + 4);
        }
        decoder.end(sink);
      },
    ), { numRuns: 500 });
  });
});

// ---- mqtt-packet's own parse vectors (../shared/fixtures/vectors, see SOURCES.md) ---------

const VECTORS = fileURLToPath(new URL('../../../shared/fixtures/vectors/mqtt-packet-vectors.json', import.meta.url));
const haveVectors = existsSync(VECTORS);
if (!haveVectors && !IN_CI) console.warn(`skipping mqtt-packet vectors: ${VECTORS} not found (see the project README)`);

describe.skipIf(!haveVectors && !IN_CI)('MqttStreamDecoder on mqtt-packet\'s parse vectors', () => {
  interface Vector { kind: string; name?: string; expected?: string; buffer?: { $hex: string }; fixture?: { $hex: string }; object?: { cmd?: string; protocolVersion?: number }; opts?: { protocolVersion?: number } }

  /**
   * Where Wardwatch's checks refuse what mqtt-packet 9.0.2 accepts, and why. Everything
   * else must agree: a parse vector decodes, a parse-error vector is refused.
   */
  const DISAGREEMENTS: Record<string, string> = {
    // A 3.1.1 CONNACK given to a 5.0 parser: return code 1 is not a 5.0 CONNACK reason code
    // (5.0 §3.2.2.2 defines 0x00 and 0x80–0x9F only).
    'Version 4 CONACK in Version 5 mode': 'malformed-packet',
    // A 1-byte CONNACK: 5.0 §3.2.2 requires the flags and the reason code (and properties).
    'Version 5 CONNACK test 1': 'malformed-packet',
    // mqtt-packet 9.0.2 itself refuses this AUTH (its test comes from a newer version, see SOURCES.md).
    'minimal Success AUTH with reason code and property length omitted': 'malformed-packet',
  };
  const SERVER_TYPES = new Set(['connack', 'suback', 'unsuback', 'pingresp']);

  it('agrees with mqtt-packet on every parse vector but the pinned ones', () => {
    const vectors = JSON.parse(readFileSync(VECTORS, 'utf8')) as Vector[];
    const disagreements: Record<string, string> = {};
    let checked = 0;
    for (const vector of vectors) {
      const hex = (vector.buffer ?? vector.fixture)?.$hex;
      if (!vector.kind.startsWith('testParse') || hex === undefined) continue;
      checked += 1;
      const direction = SERVER_TYPES.has(vector.object?.cmd ?? '') ? 'server-to-client' : 'client-to-server';
      const version = (vector.opts?.protocolVersion ?? vector.object?.protocolVersion ?? 4) as 3 | 4 | 5;
      const decoded = decode(direction, Buffer.from(hex, 'hex'), { protocolVersion: version });
      // The order rules (first packet of a direction) do not apply to a lone packet.
      const names = decoded.names.filter((name) => name !== 'missing-connect' && name !== 'missing-connack' && name !== 'wrong-direction');
      const accepted = decoded.packets.length > 0 && names.length === 0;
      if (accepted !== (vector.kind !== 'testParseError')) disagreements[vector.name ?? vector.expected ?? hex] = names.join(',');
    }
    expect(checked).toBe(133); // SOURCES.md: 133 parse vectors
    expect(disagreements).toEqual(DISAGREEMENTS);
  });
});
