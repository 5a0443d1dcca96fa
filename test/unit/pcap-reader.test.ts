import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CaptureReader,
  LINKTYPE,
  TCP_FLAGS,
  decodeIpTcp,
  decodeLinkLayer,
  readCapture,
  type CaptureAnomalyName,
  type CaptureRecord,
  type TcpSegment,
} from '../../agent/src/protocol/pcap/index.ts';
import { ethernet, extension, ipv4, ipv4Tcp, ipv6, MAC_SRC, pcapFile, tcpHeader, type TcpSpec } from '../helpers/packet-builders.ts';

// ---- builders: every byte below is laid out as the format documents describe ------------

/** A pcapng block (draft-ietf-opsawg-pcapng §3.1): type, total length, body padded to 32 bits, total length. */
function block(type: number, body: Buffer, le = true): Buffer {
  const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
  const total = 12 + padded.length;
  const out = Buffer.alloc(total);
  if (le) {
    out.writeUInt32LE(type, 0);
    out.writeUInt32LE(total, 4);
    out.writeUInt32LE(total, total - 4);
  } else {
    out.writeUInt32BE(type, 0);
    out.writeUInt32BE(total, 4);
    out.writeUInt32BE(total, total - 4);
  }
  padded.copy(out, 8);
  return out;
}

function option(code: number, value: Buffer, le = true): Buffer {
  const head = Buffer.alloc(4);
  if (le) { head.writeUInt16LE(code, 0); head.writeUInt16LE(value.length, 2); } else { head.writeUInt16BE(code, 0); head.writeUInt16BE(value.length, 2); }
  return Buffer.concat([head, value, Buffer.alloc((4 - (value.length % 4)) % 4)]);
}

const END_OF_OPTIONS = Buffer.alloc(4);

/** Section Header Block: byte-order magic, version 1.0, section length -1 (unknown). */
function shb(le = true, major = 1): Buffer {
  const body = Buffer.alloc(16);
  if (le) { body.writeUInt32LE(0x1a2b3c4d, 0); body.writeUInt16LE(major, 4); body.writeUInt16LE(0, 6); } else { body.writeUInt32BE(0x1a2b3c4d, 0); body.writeUInt16BE(major, 4); body.writeUInt16BE(0, 6); }
  body.writeBigInt64LE(-1n, 8); // -1 reads the same in both orders
  return block(0x0a0d0d0a, body, le);
}

/** Interface Description Block: link type, reserved, snaplen, options. */
function idb(linkType: number, options: Buffer[] = [], le = true, snapLength = 0): Buffer {
  const fixed = Buffer.alloc(8);
  if (le) { fixed.writeUInt16LE(linkType, 0); fixed.writeUInt32LE(snapLength, 4); } else { fixed.writeUInt16BE(linkType, 0); fixed.writeUInt32BE(snapLength, 4); }
  return block(1, Buffer.concat([fixed, ...options, ...(options.length > 0 ? [END_OF_OPTIONS] : [])]), le);
}

/** Enhanced Packet Block: interface, timestamp (high, low), captured length, original length, data. */
function epb(interfaceId: number, timestamp: bigint, data: Buffer, le = true, originalLength = data.length): Buffer {
  const fixed = Buffer.alloc(20);
  const high = Number(timestamp >> 32n);
  const low = Number(timestamp & 0xffff_ffffn);
  const values = [interfaceId, high, low, data.length, originalLength];
  values.forEach((value, i) => (le ? fixed.writeUInt32LE(value, i * 4) : fixed.writeUInt32BE(value, i * 4)));
  return block(6, Buffer.concat([fixed, data]), le);
}

/** Simple Packet Block: original length, data (no interface id, no timestamp). */
function spb(data: Buffer, le = true): Buffer {
  const fixed = Buffer.alloc(4);
  if (le) fixed.writeUInt32LE(data.length, 0); else fixed.writeUInt32BE(data.length, 0);
  return block(3, Buffer.concat([fixed, data]), le);
}

/** Linux cooked v1 (LINKTYPE_LINUX_SLL): packet type, ARPHRD, address length, address(8), protocol. */
function sll(packet: Buffer, protocol = 0x0800): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt16BE(0, 0); // to us
  header.writeUInt16BE(1, 2); // ARPHRD_ETHER
  header.writeUInt16BE(6, 4);
  MAC_SRC.copy(header, 6);
  header.writeUInt16BE(protocol, 14);
  return Buffer.concat([header, packet]);
}

/** Linux cooked v2 (LINKTYPE_LINUX_SLL2): protocol, reserved, ifindex, ARPHRD, packet type, address length, address(8). */
function sll2(packet: Buffer, protocol = 0x0800): Buffer {
  const header = Buffer.alloc(20);
  header.writeUInt16BE(protocol, 0);
  header.writeUInt32BE(3, 4); // interface index
  header.writeUInt16BE(1, 8); // ARPHRD_ETHER
  header[10] = 4; // outgoing
  header[11] = 6;
  MAC_SRC.copy(header, 12);
  return Buffer.concat([header, packet]);
}

// ---- helpers ----------------------------------------------------------------------------

interface Collected {
  records: CaptureRecord[];
  anomalies: { name: CaptureAnomalyName; detail: string }[];
}

function collect(chunks: readonly Buffer[], maxRecordBytes?: number): Collected & { reader: CaptureReader } {
  const out: Collected = { records: [], anomalies: [] };
  const reader = new CaptureReader(
    { record: (r) => out.records.push({ ...r, data: Buffer.from(r.data) }), anomaly: (name, detail) => out.anomalies.push({ name, detail }) },
    maxRecordBytes === undefined ? {} : { maxRecordBytes },
  );
  for (const chunk of chunks) reader.push(chunk);
  reader.end();
  return { ...out, reader };
}

function bytewise(buffer: Buffer): Buffer[] {
  return [...buffer].map((b) => Buffer.from([b]));
}

function tcpOf(result: ReturnType<typeof decodeIpTcp>): TcpSegment {
  if (result.kind !== 'tcp') throw new Error(`expected a TCP segment, got ${JSON.stringify(result)}`);
  return result.segment;
}

const MODBUS_READ = Buffer.from('000100000006010300000002', 'hex'); // tid 1, unit 1, FC3 read 2 registers at 0
// 2017-04-28 14:12:01 UTC
const T0 = 1_493_388_721;

// ---- classic pcap -------------------------------------------------------------------------

describe('classic pcap', () => {
  const frames = [ethernet(ipv4Tcp({ payload: MODBUS_READ })), ethernet(ipv4Tcp({ seq: 1012, payload: MODBUS_READ }))];

  it('reads a little-endian microsecond file', () => {
    const file = pcapFile([{ seconds: T0, fraction: 299_588, data: frames[0]! }, { seconds: T0 + 1, fraction: 5, data: frames[1]! }]);
    const { records, anomalies, reader } = collect([file]);
    expect(anomalies).toEqual([]);
    expect(reader.format).toBe('pcap');
    expect(records).toHaveLength(2);
    expect(records[0]).toEqual({ linkType: 1, tsMicros: T0 * 1_000_000 + 299_588, data: frames[0], originalLength: frames[0]!.length });
    expect(records[1]!.tsMicros).toBe((T0 + 1) * 1_000_000 + 5);
  });

  it('reads a big-endian file (magic a1 b2 c3 d4 in file order)', () => {
    const file = pcapFile([{ seconds: T0, fraction: 1, data: frames[0]! }], { littleEndian: false });
    expect(file.subarray(0, 4).toString('hex')).toBe('a1b2c3d4');
    const { records, anomalies } = collect([file]);
    expect(anomalies).toEqual([]);
    expect(records.map((r) => r.tsMicros)).toEqual([T0 * 1_000_000 + 1]);
    expect(records[0]!.data).toEqual(frames[0]);
  });

  it.each([true, false])('reads nanosecond files (magic a1 b2 3c 4d), little-endian %s, truncating to whole µs', (littleEndian) => {
    const file = pcapFile([{ seconds: T0, fraction: 123_456_789, data: frames[0]! }], { littleEndian, nanoseconds: true });
    expect(file.subarray(0, 4).toString('hex')).toBe(littleEndian ? '4d3cb2a1' : 'a1b23c4d');
    const { records, anomalies } = collect([file]);
    expect(anomalies).toEqual([]);
    expect(records[0]!.tsMicros).toBe(T0 * 1_000_000 + 123_456);
  });

  it('keeps the link type of the file header (LINKTYPE_LINUX_SLL2 = 276) and the original length of a snaplen-cut record', () => {
    const frame = sll2(ipv4Tcp({ payload: MODBUS_READ }));
    const file = pcapFile([{ seconds: T0, fraction: 0, data: frame.subarray(0, 40), originalLength: frame.length }], { linkType: LINKTYPE.LINUX_SLL2 });
    const { records } = collect([file]);
    expect(records[0]).toMatchObject({ linkType: 276, originalLength: frame.length });
    expect(records[0]!.data).toHaveLength(40);
  });

  it('gives the same records whether the file comes whole, byte by byte, or in any chunking', () => {
    const file = pcapFile(frames.map((data, i) => ({ seconds: T0 + i, fraction: i, data })));
    const whole = collect([file]);
    expect(collect(bytewise(file))).toMatchObject({ records: whole.records, anomalies: [] });
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: file.length }), { maxLength: 12 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const chunks = [0, ...points].map((from, i) => file.subarray(from, points[i] ?? file.length)).filter((c) => c.length > 0);
        const split = collect(chunks);
        expect(split.records).toEqual(whole.records);
        expect(split.anomalies).toEqual([]);
      }),
    );
  });

  it('pcap-truncated-record: a file cut inside its last record delivers the records before it', () => {
    const file = pcapFile(frames.map((data, i) => ({ seconds: T0 + i, fraction: 0, data })));
    const { records, anomalies } = collect([file.subarray(0, file.length - 5)]);
    expect(records).toHaveLength(1);
    expect(anomalies).toEqual([{ name: 'pcap-truncated-record', detail: expect.stringContaining('inside a record') }]);
  });

  it('pcap-truncated-record: a file cut inside its header', () => {
    const { records, anomalies } = collect([pcapFile([]).subarray(0, 10)]);
    expect(records).toEqual([]);
    expect(anomalies.map((a) => a.name)).toEqual(['pcap-truncated-record']);
  });

  it('an empty input is no capture and no anomaly', () => {
    expect(collect([])).toMatchObject({ records: [], anomalies: [] });
  });

  it('pcap-bad-magic: garbage is reported once and the rest ignored', () => {
    const garbage = Buffer.from('GET / HTTP/1.1\r\nHost: ward\r\n\r\n');
    const { records, anomalies, reader } = collect([garbage, garbage, pcapFile([{ seconds: 0, fraction: 0, data: frames[0]! }])]);
    expect(records).toEqual([]);
    expect(anomalies).toEqual([{ name: 'pcap-bad-magic', detail: expect.stringContaining('0x47455420') }]);
    expect(reader.format).toBeNull();
  });

  it('pcap-record-too-large: a record above the cap is skipped unbuffered and the next one is read', () => {
    const big = Buffer.alloc(5000, 0xaa);
    const file = pcapFile([{ seconds: T0, fraction: 0, data: big }, { seconds: T0, fraction: 1, data: frames[0]! }]);
    let maxBuffered = 0;
    const records: CaptureRecord[] = [];
    const anomalies: string[] = [];
    const reader = new CaptureReader({ record: (r) => records.push(r), anomaly: (name) => anomalies.push(name) }, { maxRecordBytes: 1024 });
    for (const chunk of bytewise(file)) {
      reader.push(chunk);
      maxBuffered = Math.max(maxBuffered, reader.bufferedBytes);
    }
    reader.end();
    expect(anomalies).toEqual(['pcap-record-too-large']);
    expect(records).toHaveLength(1);
    expect(records[0]!.data).toEqual(frames[0]);
    expect(maxBuffered).toBeLessThanOrEqual(1024 + 16);
  });

  it('never throws and never buffers more than a record on random bytes after a valid header', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 1, max: 64 }), (bytes, chunkSize) => {
        const input = Buffer.concat([pcapFile([]), Buffer.from(bytes)]);
        const reader = new CaptureReader({ record: () => undefined, anomaly: () => undefined }, { maxRecordBytes: 256 });
        for (let at = 0; at < input.length; at += chunkSize) {
          reader.push(input.subarray(at, at + chunkSize));
          expect(reader.bufferedBytes).toBeLessThanOrEqual(256 + 16);
        }
        reader.end();
      }),
      { numRuns: 500 },
    );
  });
});

// ---- pcapng -------------------------------------------------------------------------------

describe('pcapng', () => {
  const frame = ethernet(ipv4Tcp({ payload: MODBUS_READ }));
  const tsMicros = BigInt(T0) * 1_000_000n + 685_083n;

  it('reads SHB, IDB and EPB in a little-endian section, skipping blocks it does not need', () => {
    const nameResolution = block(4, Buffer.from('0100040a0000090077617264000000000000', 'hex')); // NRB: ipv4 record, then end
    const statistics = block(5, Buffer.alloc(12)); // ISB
    const custom = block(0x00000bad, Buffer.from('0000a0b1deadbeef', 'hex'));
    const file = Buffer.concat([shb(), idb(LINKTYPE.ETHERNET), nameResolution, epb(0, tsMicros, frame), statistics, custom]);
    const { records, anomalies, reader } = collect([file]);
    expect(anomalies).toEqual([]);
    expect(reader.format).toBe('pcapng');
    expect(records).toEqual([{ linkType: 1, tsMicros: Number(tsMicros), data: frame, originalLength: frame.length }]);
  });

  it('reads a big-endian section (byte-order magic 1a 2b 3c 4d in file order)', () => {
    const file = Buffer.concat([shb(false), idb(LINKTYPE.ETHERNET, [], false), epb(0, tsMicros, frame, false)]);
    expect(file.subarray(8, 12).toString('hex')).toBe('1a2b3c4d');
    const { records, anomalies } = collect([file]);
    expect(anomalies).toEqual([]);
    expect(records[0]).toMatchObject({ linkType: 1, tsMicros: Number(tsMicros), data: frame });
  });

  it('follows each section\'s byte order and interfaces, and per-interface link types', () => {
    const raw = ipv4Tcp({ payload: MODBUS_READ });
    const file = Buffer.concat([
      shb(true), idb(LINKTYPE.ETHERNET), idb(LINKTYPE.RAW), epb(1, tsMicros, raw), epb(0, tsMicros + 1n, frame),
      shb(false), idb(LINKTYPE.LINUX_SLL2, [], false), epb(0, tsMicros + 2n, sll2(raw), false),
    ]);
    const { records, anomalies } = collect(bytewise(file));
    expect(anomalies).toEqual([]);
    expect(records.map((r) => [r.linkType, r.tsMicros - Number(tsMicros)])).toEqual([[101, 0], [1, 1], [276, 2]]);
  });

  it('converts if_tsresol (10^-9 and 2^-20) and applies if_tsoffset', () => {
    const nanos = BigInt(T0) * 1_000_000_000n + 123_456_789n;
    const binary = BigInt(T0) * 1_048_576n + 524_288n; // T0 + 0.5 s in units of 2^-20 s
    const file = Buffer.concat([
      shb(),
      idb(LINKTYPE.ETHERNET, [option(9, Buffer.from([9]))]),
      idb(LINKTYPE.ETHERNET, [option(9, Buffer.from([0x80 | 20]))]),
      idb(LINKTYPE.ETHERNET, [option(14, Buffer.from('0a00000000000000', 'hex'))]), // +10 s, little-endian int64
      epb(0, nanos, frame), epb(1, binary, frame), epb(2, tsMicros, frame),
    ]);
    const { records, anomalies } = collect([file]);
    expect(anomalies).toEqual([]);
    expect(records.map((r) => r.tsMicros)).toEqual([T0 * 1_000_000 + 123_456, T0 * 1_000_000 + 500_000, Number(tsMicros) + 10_000_000]);
  });

  it('reads a Simple Packet Block on interface 0, with the time of the record before it', () => {
    const file = Buffer.concat([shb(), idb(LINKTYPE.ETHERNET), epb(0, tsMicros, frame), spb(frame)]);
    const { records, anomalies } = collect([file]);
    expect(anomalies).toEqual([]);
    expect(records[1]).toEqual({ linkType: 1, tsMicros: Number(tsMicros), data: frame, originalLength: frame.length });
  });

  it('pcapng-bad-block: a packet for an undeclared interface is reported and the next block read', () => {
    const file = Buffer.concat([shb(), idb(LINKTYPE.ETHERNET), epb(3, tsMicros, frame), epb(0, tsMicros, frame)]);
    const { records, anomalies } = collect([file]);
    expect(anomalies).toEqual([{ name: 'pcapng-bad-block', detail: expect.stringContaining('interface 3') }]);
    expect(records).toHaveLength(1);
  });

  it('pcapng-bad-block: a block length that is not a multiple of 4 loses framing until the next section', () => {
    const broken = epb(0, tsMicros, frame);
    broken.writeUInt32LE(broken.length - 2, 4); // total length 2 bytes short: not a multiple of 4
    const file = Buffer.concat([shb(), idb(LINKTYPE.ETHERNET), broken, epb(0, tsMicros, frame), shb(), idb(LINKTYPE.RAW), epb(0, tsMicros, ipv4Tcp())]);
    const { records, anomalies } = collect(bytewise(file));
    expect(anomalies.map((a) => a.name)).toEqual(['pcapng-bad-block']);
    // The block after the broken one is lost with the framing; the next section is read.
    expect(records.map((r) => r.linkType)).toEqual([101]);
  });

  it('pcapng-bad-block: a trailing length that differs from the leading one', () => {
    const broken = epb(0, tsMicros, frame);
    broken.writeUInt32LE(broken.length + 4, broken.length - 4);
    const { records, anomalies } = collect([Buffer.concat([shb(), idb(LINKTYPE.ETHERNET), broken, shb(), idb(LINKTYPE.ETHERNET), epb(0, tsMicros, frame)])]);
    expect(anomalies).toEqual([{ name: 'pcapng-bad-block', detail: expect.stringContaining('trailing length') }]);
    expect(records).toHaveLength(1);
  });

  it('pcapng-bad-block: a section of unknown major version is skipped up to the next section', () => {
    const file = Buffer.concat([shb(true, 2), idb(LINKTYPE.ETHERNET), epb(0, tsMicros, frame), shb(), idb(LINKTYPE.RAW), epb(0, tsMicros, ipv4Tcp())]);
    const { records, anomalies } = collect([file]);
    expect(anomalies).toEqual([{ name: 'pcapng-bad-block', detail: expect.stringContaining('major version 2') }]);
    expect(records.map((r) => r.linkType)).toEqual([101]);
  });

  it('pcap-record-too-large: an EPB above the cap is passed over and the next one read', () => {
    const file = Buffer.concat([shb(), idb(LINKTYPE.ETHERNET), epb(0, tsMicros, Buffer.alloc(9000)), epb(0, tsMicros, frame)]);
    const { records, anomalies } = collect(bytewise(file), 2048);
    expect(anomalies.map((a) => a.name)).toEqual(['pcap-record-too-large']);
    expect(records).toHaveLength(1);
  });

  it('pcap-truncated-record: a file cut inside a block', () => {
    const file = Buffer.concat([shb(), idb(LINKTYPE.ETHERNET), epb(0, tsMicros, frame), epb(0, tsMicros, frame)]);
    const { records, anomalies } = collect([file.subarray(0, file.length - 9)]);
    expect(records).toHaveLength(1);
    expect(anomalies).toEqual([{ name: 'pcap-truncated-record', detail: expect.stringContaining('inside a block') }]);
  });

  it('never throws on random bytes after a valid section header', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        collect([Buffer.concat([shb(), idb(LINKTYPE.ETHERNET), Buffer.from(bytes)])], 512);
      }),
      { numRuns: 500 },
    );
  });
});

// ---- link layer ---------------------------------------------------------------------------

describe('link layer', () => {
  const packet = ipv4Tcp({ payload: MODBUS_READ });

  it('Ethernet II to IPv4, with the Ethernet padding of a short frame left for IP to trim', () => {
    const short = ipv4Tcp({ flags: TCP_FLAGS.ACK });
    const padded = Buffer.concat([ethernet(short), Buffer.alloc(6)]); // 54 bytes padded to the 60-byte minimum
    const link = decodeLinkLayer(LINKTYPE.ETHERNET, padded);
    expect(link.kind).toBe('ip');
    if (link.kind !== 'ip') return;
    expect(tcpOf(decodeIpTcp(link.packet)).payload).toHaveLength(0);
  });

  it.each([
    ['802.1Q', [[0x8100, 20]] as [number, number][]],
    ['802.1ad + 802.1Q (QinQ)', [[0x88a8, 100], [0x8100, 20]] as [number, number][]],
    ['pre-standard 0x9100 + 802.1Q', [[0x9100, 7], [0x8100, 20]] as [number, number][]],
  ])('skips %s VLAN tags', (_name, tags) => {
    expect(decodeLinkLayer(LINKTYPE.ETHERNET, ethernet(packet, 0x0800, tags))).toEqual({ kind: 'ip', packet });
  });

  it('Linux cooked v1 (113) and v2 (276, tcpdump -i any)', () => {
    expect(decodeLinkLayer(LINKTYPE.LINUX_SLL, sll(packet))).toEqual({ kind: 'ip', packet });
    expect(decodeLinkLayer(LINKTYPE.LINUX_SLL2, sll2(packet))).toEqual({ kind: 'ip', packet });
    const v6 = ipv6(6, tcpHeader({ payload: MODBUS_READ }));
    expect(decodeLinkLayer(LINKTYPE.LINUX_SLL2, sll2(v6, 0x86dd))).toEqual({ kind: 'ip', packet: v6 });
  });

  it.each([LINKTYPE.RAW, LINKTYPE.RAW_DLT12, LINKTYPE.RAW_DLT14, LINKTYPE.IPV4])('raw IP on link type %i', (linkType) => {
    expect(decodeLinkLayer(linkType, packet)).toEqual({ kind: 'ip', packet });
  });

  it('BSD loopback: the address family in either byte order (DLT_NULL), or network order (DLT_LOOP)', () => {
    const little = Buffer.concat([Buffer.from('02000000', 'hex'), packet]);
    const big = Buffer.concat([Buffer.from('00000002', 'hex'), packet]);
    const darwinV6 = Buffer.concat([Buffer.from('1e000000', 'hex'), ipv6(59, Buffer.alloc(0))]);
    expect(decodeLinkLayer(LINKTYPE.NULL, little)).toEqual({ kind: 'ip', packet });
    expect(decodeLinkLayer(LINKTYPE.NULL, big)).toEqual({ kind: 'ip', packet });
    expect(decodeLinkLayer(LINKTYPE.LOOP, big)).toEqual({ kind: 'ip', packet });
    expect(decodeLinkLayer(LINKTYPE.NULL, darwinV6).kind).toBe('ip');
  });

  it('ARP and LLC frames are not IP, and not anomalies', () => {
    expect(decodeLinkLayer(LINKTYPE.ETHERNET, ethernet(Buffer.alloc(28), 0x0806))).toEqual({ kind: 'not-ip', etherType: 0x0806 });
    expect(decodeLinkLayer(LINKTYPE.ETHERNET, ethernet(Buffer.alloc(40), 38))).toEqual({ kind: 'not-ip', etherType: 38 });
  });

  it('unsupported-link-type: IEEE 802.11 radiotap (127)', () => {
    expect(decodeLinkLayer(127, packet)).toEqual({ kind: 'anomaly', name: 'unsupported-link-type', detail: 'link type 127' });
  });

  it('link-truncated: a frame shorter than its header or VLAN tag', () => {
    expect(decodeLinkLayer(LINKTYPE.ETHERNET, Buffer.alloc(10))).toMatchObject({ kind: 'anomaly', name: 'link-truncated' });
    expect(decodeLinkLayer(LINKTYPE.ETHERNET, ethernet(Buffer.alloc(0), 0x8100))).toMatchObject({ kind: 'anomaly', name: 'link-truncated' });
    expect(decodeLinkLayer(LINKTYPE.LINUX_SLL2, Buffer.alloc(19))).toMatchObject({ kind: 'anomaly', name: 'link-truncated' });
  });
});

// ---- IP and TCP ---------------------------------------------------------------------------

describe('IPv4, IPv6 and the TCP header', () => {
  it('reads addresses, ports, sequence numbers, flags and the payload after TCP options', () => {
    const mss = Buffer.from('020405b4', 'hex'); // MSS 1460: the payload starts after it
    const segment = tcpOf(decodeIpTcp(ipv4Tcp({ src: '192.168.0.156', dst: '192.168.0.7', srcPort: 49153, dstPort: 502, seq: 0xfffffff0, ack: 77, options: mss, payload: MODBUS_READ })));
    expect(segment).toEqual({
      ipVersion: 4, src: '192.168.0.156', dst: '192.168.0.7', srcPort: 49153, dstPort: 502,
      seq: 0xfffffff0, ack: 77, flags: TCP_FLAGS.ACK | TCP_FLAGS.PSH, payload: MODBUS_READ,
    });
  });

  it('takes the captured length when the IPv4 total length is 0 (segmentation offload)', () => {
    expect(tcpOf(decodeIpTcp(ipv4(tcpHeader({ payload: MODBUS_READ }), { totalLength: 0 }))).payload).toEqual(MODBUS_READ);
  });

  it('an IPv4 first fragment (MF) and a later one (offset) come back as fragments of one datagram, for ip-defrag.ts', () => {
    const first = decodeIpTcp(ipv4(tcpHeader({ payload: MODBUS_READ }), { fragment: 0x2000 }));
    expect(first).toMatchObject({ kind: 'fragment', fragment: { ipVersion: 4, key: '4|10.0.0.5|10.0.0.9|6|4660', offset: 0, more: true } });
    const later = decodeIpTcp(ipv4(Buffer.alloc(16), { fragment: 0x0003 }));
    expect(later).toMatchObject({ kind: 'fragment', fragment: { key: '4|10.0.0.5|10.0.0.9|6|4660', offset: 24, more: false, data: Buffer.alloc(16) } });
  });

  it('ip-truncated: a total length beyond the captured bytes', () => {
    expect(decodeIpTcp(ipv4(tcpHeader({}), { totalLength: 35124 }))).toMatchObject({ kind: 'anomaly', name: 'ip-truncated' });
    expect(decodeIpTcp(Buffer.from('4500', 'hex'))).toMatchObject({ kind: 'anomaly', name: 'ip-truncated' });
  });

  it('ip-bad-header: IHL below 5 words, or an IP version that is neither 4 nor 6', () => {
    const shortIhl = ipv4Tcp();
    shortIhl[0] = 0x44;
    expect(decodeIpTcp(shortIhl)).toMatchObject({ kind: 'anomaly', name: 'ip-bad-header' });
    expect(decodeIpTcp(Buffer.from('25000034', 'hex'))).toMatchObject({ kind: 'anomaly', name: 'ip-bad-header', detail: 'IP version 2' });
  });

  it('UDP and ICMP are not TCP, and not anomalies', () => {
    expect(decodeIpTcp(ipv4(Buffer.alloc(8), { protocol: 17 }))).toEqual({ kind: 'not-tcp', protocol: 17 });
  });

  it('tcp-bad-header and tcp-truncated: data offset below 5, or beyond the segment', () => {
    const badOffset = tcpHeader({});
    badOffset[12] = 4 << 4;
    expect(decodeIpTcp(ipv4(badOffset))).toMatchObject({ kind: 'anomaly', name: 'tcp-bad-header' });
    const longOffset = tcpHeader({});
    longOffset[12] = 15 << 4; // 60-byte header in a 20-byte segment
    expect(decodeIpTcp(ipv4(longOffset))).toMatchObject({ kind: 'anomaly', name: 'tcp-truncated' });
    expect(decodeIpTcp(ipv4(Buffer.alloc(12)))).toMatchObject({ kind: 'anomaly', name: 'tcp-truncated' });
  });

  it('IPv6: walks hop-by-hop, destination options and an atomic fragment to TCP', () => {
    const tcp = tcpHeader({ srcPort: 50000, dstPort: 1883, payload: Buffer.from('c000', 'hex') });
    const atomicFragment = Buffer.from('0600000000000001', 'hex'); // next TCP, offset 0, M clear
    const chain = Buffer.concat([extension(60, 0), extension(44, 1), atomicFragment, tcp]); // hop-by-hop → dest opts (16 bytes) → fragment → TCP
    const segment = tcpOf(decodeIpTcp(ipv6(0, chain, '2001:db8::1', '2001:db8:0:1:1:1:1:1')));
    expect(segment).toMatchObject({ ipVersion: 6, src: '2001:db8::1', dst: '2001:db8:0:1:1:1:1:1', srcPort: 50000, dstPort: 1883 });
    expect(segment.payload.toString('hex')).toBe('c000');
  });

  it('IPv6 text follows RFC 5952: longest zero run compressed, a single zero group kept', () => {
    const text = (address: string) => tcpOf(decodeIpTcp(ipv6(6, tcpHeader({}), address))).src;
    expect(text('::1')).toBe('::1');
    expect(text('2001:0:0:1:0:0:0:1')).toBe('2001:0:0:1::1');
    expect(text('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(text('fe80:0:0:0:20c:29ff:fe6b:2dd2')).toBe('fe80::20c:29ff:fe6b:2dd2');
  });

  it('an IPv6 fragment with more to come: the unfragmentable part, with the Fragment header\'s next header in its place', () => {
    const fragment = Buffer.from('0600000100000001', 'hex'); // next TCP, offset 0, M set, id 1
    const result = decodeIpTcp(ipv6(60, Buffer.concat([extension(44), fragment, Buffer.alloc(20)])));
    if (result.kind !== 'fragment') throw new Error(`expected a fragment, got ${result.kind}`);
    expect(result.fragment).toMatchObject({ ipVersion: 6, key: '6|fe80::1|fe80::2|1', offset: 0, more: true, data: Buffer.alloc(20) });
    // The fixed header still names destination options (60); the destination options header now names TCP.
    expect(result.fragment.header).toHaveLength(48);
    expect([result.fragment.header[6], result.fragment.header[40]]).toEqual([60, 6]);
  });

  it('IPv6: UDP, ESP and No Next Header end the walk as not TCP', () => {
    expect(decodeIpTcp(ipv6(17, Buffer.alloc(8)))).toEqual({ kind: 'not-tcp', protocol: 17 });
    expect(decodeIpTcp(ipv6(0, Buffer.concat([extension(50), Buffer.alloc(8)])))).toEqual({ kind: 'not-tcp', protocol: 50 });
    expect(decodeIpTcp(ipv6(59, Buffer.alloc(0)))).toEqual({ kind: 'not-tcp', protocol: 59 });
  });

  it('ip-truncated: an IPv6 extension header running past the packet', () => {
    expect(decodeIpTcp(ipv6(0, Buffer.from('0605000000000000', 'hex')))).toMatchObject({ kind: 'anomaly', name: 'ip-truncated' });
  });

  it('never throws on random IP packets', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.constantFrom(0x45, 0x46, 0x4f, 0x60, 0x00), (bytes, first) => {
        const packet = Buffer.from(bytes);
        if (packet.length > 0) packet[0] = first;
        decodeIpTcp(packet);
        for (const linkType of [0, 1, 101, 108, 113, 276, 999]) decodeLinkLayer(linkType, packet);
      }),
      { numRuns: 2000 },
    );
  });
});

// ---- the whole chain ----------------------------------------------------------------------

describe('readCapture', () => {
  it('takes VLAN-tagged Ethernet, SLL2 and raw IPv6 records to the same stream payloads', () => {
    const syn = { flags: TCP_FLAGS.SYN, seq: 999, payload: Buffer.alloc(0) };
    const cases: [linkType: number, wrap: (ip: Buffer) => Buffer, v6: boolean][] = [
      [LINKTYPE.ETHERNET, (ip) => ethernet(ip, 0x0800, [[0x8100, 42]]), false],
      [LINKTYPE.LINUX_SLL2, (ip) => sll2(ip), false],
      [LINKTYPE.RAW, (ip) => ip, true],
    ];
    for (const [linkType, wrap, v6] of cases) {
      const packet = (spec: TcpSpec) => (v6 ? ipv6(6, tcpHeader(spec), 'fd00::5', 'fd00::9') : ipv4Tcp(spec));
      const file = pcapFile([
        { seconds: T0, fraction: 0, data: wrap(packet(syn)) },
        { seconds: T0, fraction: 1, data: wrap(packet({ seq: 1000, payload: MODBUS_READ.subarray(0, 5) })) },
        { seconds: T0, fraction: 2, data: wrap(packet({ seq: 1005, payload: MODBUS_READ.subarray(5) })) },
      ], { linkType });
      const data: { key: string; direction: string; payload: string; ts: number }[] = [];
      const summary = readCapture(file, { onData: (flow, payload, ts) => data.push({ key: flow.key, direction: flow.direction, payload: payload.toString('hex'), ts }) });
      expect(summary).toMatchObject({ records: 3, tcpSegments: 3, anomalies: {}, streamBytes: 12 });
      const key = v6 ? '[fd00::5]:50000->[fd00::9]:502' : '10.0.0.5:50000->10.0.0.9:502';
      expect(data).toEqual([
        { key, direction: 'client-to-server', payload: '0001000000', ts: T0 * 1_000_000 + 1 },
        { key, direction: 'client-to-server', payload: '06010300000002', ts: T0 * 1_000_000 + 2 },
      ]);
    }
  });

  it('counts every layer\'s anomalies in the summary', () => {
    const file = pcapFile([
      { seconds: T0, fraction: 0, data: ethernet(ipv4(tcpHeader({}), { fragment: 0x2000 })) },
      { seconds: T0, fraction: 1, data: Buffer.alloc(4) },
      { seconds: T0, fraction: 2, data: ethernet(Buffer.alloc(28), 0x0806) },
      { seconds: T0, fraction: 3, data: ethernet(ipv4(Buffer.alloc(8), { protocol: 17 })) },
    ]);
    const seen: string[] = [];
    const summary = readCapture(file.subarray(0, file.length - 1), { onAnomaly: (name) => seen.push(name) });
    // A first fragment of 20 bytes with more to follow: not a multiple of 8 (RFC 791 §3.2), dropped at once.
    expect(summary).toMatchObject({ records: 3, nonIp: 1, ipFragments: 1, ipReassembled: 0, anomalies: { 'ip-fragment-misaligned': 1, 'link-truncated': 1, 'pcap-truncated-record': 1 } });
    expect(seen).toEqual(['ip-fragment-misaligned', 'link-truncated', 'pcap-truncated-record']);
  });
});
