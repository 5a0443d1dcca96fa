import { describe, expect, it } from 'vitest';
import { DATAGRAM_OVERHEAD_BYTES, PIECE_OVERHEAD_BYTES } from '../../agent/src/protocol/pcap/ip-defrag.ts';
import { IpDefragmenter, readCapture, type IpDefragAnomalyName, type IpFragment } from '../../agent/src/protocol/pcap/index.ts';
import { decodeIpTcp } from '../../agent/src/protocol/pcap/index.ts';
import { ethernet, fragmentIpv4, fragmentIpv6, ipv4, ipv6, pcapFile, tcpHeader } from '../helpers/packet-builders.ts';

/** FC16 write of 4 registers at 0x0010 (tid 7, unit 1): long enough to be cut in three. */
const MODBUS_WRITE = Buffer.from('00070000000f0110001000040800010002000300040005', 'hex');
const T0 = 1_764_316_800;

function fragmentOf(packet: Buffer): IpFragment {
  const result = decodeIpTcp(packet);
  if (result.kind !== 'fragment') throw new Error(`expected a fragment, got ${result.kind}`);
  return result.fragment;
}

function defragmenter(options: ConstructorParameters<typeof IpDefragmenter>[1] = {}): { defrag: IpDefragmenter; seen: IpDefragAnomalyName[] } {
  const seen: IpDefragAnomalyName[] = [];
  return { defrag: new IpDefragmenter((name) => seen.push(name), options), seen };
}

/** The Modbus bytes the whole capture delivers to the TCP stream, and its anomalies. */
function streamOf(frames: readonly Buffer[]): { payload: Buffer; anomalies: Record<string, number | undefined>; ipReassembled: number } {
  const chunks: Buffer[] = [];
  const summary = readCapture(pcapFile(frames.map((data, index) => ({ seconds: T0, fraction: index, data: ethernet(data) }))), { onData: (_flow, payload) => chunks.push(Buffer.from(payload)) });
  return { payload: Buffer.concat(chunks), anomalies: summary.anomalies, ipReassembled: summary.ipReassembled };
}

const whole = ipv4(tcpHeader({ payload: MODBUS_WRITE }));

describe('IP fragment reassembly (RFC 791 §3.2, RFC 8200 §4.5)', () => {
  it('IPv4 in three fragments, in any order, gives back the datagram, whose Modbus write reaches the stream', () => {
    const pieces = fragmentIpv4(whole, [16, 32]);
    expect(pieces).toHaveLength(3);
    for (const order of [[0, 1, 2], [2, 0, 1], [1, 2, 0]]) {
      const { defrag, seen } = defragmenter();
      const results = order.map((index) => defrag.push(fragmentOf(pieces[index] ?? Buffer.alloc(0)), T0 * 1e6));
      expect(results.slice(0, 2).map((result) => result.kind)).toEqual(['pending', 'pending']);
      const last = results[2];
      if (last?.kind !== 'complete') throw new Error('not reassembled');
      // The datagram as it was sent, but for the fragment field (DF kept) and the checksum, which is not verified.
      expect(last.packet.subarray(20)).toEqual(whole.subarray(20));
      expect(last.packet.readUInt16BE(2)).toBe(whole.length);
      expect(decodeIpTcp(last.packet)).toMatchObject({ kind: 'tcp', segment: { dstPort: 502, payload: MODBUS_WRITE } });
      expect(seen).toEqual([]);
      expect(defrag.pending).toBe(0);
      expect(defrag.budgetSpent).toBe(0);
    }
    const captured = streamOf([pieces[2], pieces[0], pieces[1]].map((piece) => piece ?? Buffer.alloc(0)));
    expect(captured.payload).toEqual(MODBUS_WRITE);
    expect(captured.ipReassembled).toBe(1);
  });

  it('IPv6 with a Fragment header: reassembled to TCP', () => {
    const packet = ipv6(6, tcpHeader({ dstPort: 1883, payload: MODBUS_WRITE }), '2001:db8::5', '2001:db8::9');
    const pieces = fragmentIpv6(packet, [24]);
    const captured = streamOf([pieces[1] ?? Buffer.alloc(0), pieces[0] ?? Buffer.alloc(0)]);
    expect(captured.payload).toEqual(MODBUS_WRITE);
    expect(captured.anomalies).toEqual({});
  });

  it('an identical repeat of a fragment (a mirror port copying a frame twice) is taken once', () => {
    const pieces = fragmentIpv4(whole, [16, 32]);
    const captured = streamOf([pieces[0], pieces[1], pieces[1], pieces[2]].map((piece) => piece ?? Buffer.alloc(0)));
    expect(captured.payload).toEqual(MODBUS_WRITE);
    expect(captured.anomalies).toEqual({});
  });

  it('overlapping fragments with different bytes: the datagram is dropped and named, never guessed at', () => {
    const pieces = fragmentIpv4(whole, [16, 32]);
    // The classic evasion (RFC 1858 §4): a second copy of the middle piece with other register values.
    const forged = Buffer.from(pieces[1] ?? Buffer.alloc(0));
    forged.writeUInt8(forged.readUInt8(forged.length - 1) ^ 0xff, forged.length - 1);
    const { defrag, seen } = defragmenter();
    expect(defrag.push(fragmentOf(pieces[0] ?? Buffer.alloc(0)), T0 * 1e6).kind).toBe('pending');
    expect(defrag.push(fragmentOf(pieces[1] ?? Buffer.alloc(0)), T0 * 1e6).kind).toBe('pending');
    expect(defrag.push(fragmentOf(forged), T0 * 1e6).kind).toBe('dropped');
    expect(seen).toEqual(['ip-fragment-overlap']);
    expect(defrag.pending).toBe(0);
    expect(defrag.budgetSpent).toBe(0);

    const captured = streamOf([pieces[0], forged, pieces[1], pieces[2]].map((piece) => piece ?? Buffer.alloc(0)));
    expect(captured.payload).toHaveLength(0);
    // The pieces after the drop start a new datagram, which never completes: named too.
    expect(captured.anomalies).toEqual({ 'ip-fragment-overlap': 1, 'ip-fragment-incomplete': 1 });
  });

  it('a decoy overlap does not hide the real datagram sent after it under the same id (as Linux since 4.19)', () => {
    const decoy = fragmentIpv4(whole, [16, 32]);
    const forged = Buffer.from(decoy[0] ?? Buffer.alloc(0));
    forged.writeUInt8(forged.readUInt8(forged.length - 1) ^ 0xff, forged.length - 1);
    const real = fragmentIpv4(whole, [16, 32]);
    const captured = streamOf([decoy[0], forged, ...real].map((piece) => piece ?? Buffer.alloc(0)));
    expect(captured.payload).toEqual(MODBUS_WRITE);
    expect(captured.anomalies).toEqual({ 'ip-fragment-overlap': 1 });
  });

  it('a forged overlap that straddles two pieces is caught as well as one inside a piece', () => {
    const pieces = fragmentIpv4(whole, [16, 32]);
    // Bytes 8..24 of the datagram, one of which (payload byte 20, in the second piece) differs.
    const altered = Buffer.from(whole);
    altered.writeUInt8(altered.readUInt8(40) ^ 0xff, 40);
    const straddling = fragmentIpv4(altered, [8, 24])[1] ?? Buffer.alloc(0);
    const { defrag, seen } = defragmenter();
    defrag.push(fragmentOf(pieces[0] ?? Buffer.alloc(0)), T0 * 1e6);
    defrag.push(fragmentOf(pieces[1] ?? Buffer.alloc(0)), T0 * 1e6);
    expect(defrag.push(fragmentOf(straddling), T0 * 1e6).kind).toBe('dropped');
    expect(seen).toEqual(['ip-fragment-overlap']);
  });

  it('two different ends, or a fragment past the end, are overlaps too', () => {
    const pieces = fragmentIpv4(whole, [16, 32]);
    const last = pieces[2] ?? Buffer.alloc(0);
    const shorter = Buffer.from(last.subarray(0, last.length - 8));
    shorter.writeUInt16BE(shorter.length, 2);
    const { defrag, seen } = defragmenter();
    defrag.push(fragmentOf(last), T0 * 1e6);
    expect(defrag.push(fragmentOf(shorter), T0 * 1e6).kind).toBe('dropped');
    expect(seen).toEqual(['ip-fragment-overlap']);
  });

  it('a datagram never completed is named at its timeout (30 s for IPv4, capture time) and at the end of the capture', () => {
    const pieces = fragmentIpv4(whole, [16, 32]);
    const { defrag, seen } = defragmenter();
    defrag.push(fragmentOf(pieces[0] ?? Buffer.alloc(0)), T0 * 1e6);
    const other = fragmentIpv4(ipv4(tcpHeader({ payload: MODBUS_WRITE }), { src: '10.0.0.6' }), [16]);
    defrag.push(fragmentOf(other[0] ?? Buffer.alloc(0)), (T0 + 29) * 1e6);
    expect(seen).toEqual([]);
    // The missing pieces arrive too late: the first datagram is gone, so the late pieces start a new one.
    expect(defrag.push(fragmentOf(pieces[1] ?? Buffer.alloc(0)), (T0 + 30) * 1e6).kind).toBe('pending');
    expect(seen).toEqual(['ip-fragment-incomplete']);
    defrag.flush();
    expect(seen).toEqual(['ip-fragment-incomplete', 'ip-fragment-incomplete', 'ip-fragment-incomplete']);
    expect(defrag.pending).toBe(0);
    expect(defrag.budgetSpent).toBe(0);
  });

  it('is bounded by one memory budget that charges every datagram and piece; past it the oldest unfinished datagram goes, named', () => {
    const firstOf = (source: number): IpFragment => fragmentOf(fragmentIpv4(ipv4(tcpHeader({ payload: MODBUS_WRITE }), { src: `10.0.1.${source}` }), [16])[0] ?? Buffer.alloc(0));
    const oneDatagram = DATAGRAM_OVERHEAD_BYTES + 16 + PIECE_OVERHEAD_BYTES;
    const { defrag, seen } = defragmenter({ maxBytes: 4 * oneDatagram });
    for (let source = 1; source <= 6; source += 1) defrag.push(firstOf(source), T0 * 1e6);
    expect(defrag.pending).toBe(4);
    expect(seen).toEqual(['ip-fragment-overflow', 'ip-fragment-overflow']);
    expect(defrag.budgetSpent).toBe(4 * oneDatagram);

    const big = ipv4(Buffer.concat([tcpHeader({}), Buffer.alloc(1_200)]), { src: '10.0.2.1' });
    const bigPieces = fragmentIpv4(big, [600]);
    const bytes = defragmenter({ maxBytes: 1_000 });
    expect(bytes.defrag.push(fragmentOf(bigPieces[0] ?? Buffer.alloc(0)), T0 * 1e6).kind).toBe('dropped');
    expect(bytes.seen).toEqual(['ip-fragment-overflow']);
    expect(bytes.defrag.budgetSpent).toBe(0);
  });

  it('a flood of decoy datagrams cannot push a real one out quietly: the real one is named when it goes', () => {
    const { defrag, seen } = defragmenter();
    const real = fragmentIpv4(whole, [16, 32]);
    defrag.push(fragmentOf(real[0] ?? Buffer.alloc(0)), T0 * 1e6);
    // Decoys of 8 bytes with fresh ids until the budget is spent (about 13,000 of them).
    let id = 0;
    while (!seen.includes('ip-fragment-overflow')) {
      id += 1;
      const decoy = ipv4(Buffer.alloc(16), { fragment: 0x2000, src: '10.0.9.9' });
      decoy.writeUInt16BE(id, 4);
      defrag.push(fragmentOf(decoy), T0 * 1e6);
    }
    expect(id).toBeGreaterThan(10_000);
    expect(seen).toEqual(['ip-fragment-overflow']);
  });

  it('tiny fragments: a datagram in 8-byte pieces, in any order, is reassembled, not given up', () => {
    const padded = ipv4(tcpHeader({ payload: Buffer.concat([MODBUS_WRITE, Buffer.alloc(600, 0x41)]) }));
    const cuts = Array.from({ length: Math.floor((padded.length - 20 - 1) / 8) }, (_, index) => (index + 1) * 8);
    const pieces = fragmentIpv4(padded, cuts);
    expect(pieces.length).toBeGreaterThan(75);
    for (const order of [pieces, [...pieces].reverse(), pieces.map((_, index) => pieces[(index * 37) % pieces.length] ?? Buffer.alloc(0))]) {
      const { defrag, seen } = defragmenter();
      const results = order.map((piece) => defrag.push(fragmentOf(piece), T0 * 1e6));
      const last = results.at(-1);
      if (last?.kind !== 'complete') throw new Error(`not reassembled: ${last?.kind}`);
      expect(last.packet.subarray(20)).toEqual(padded.subarray(20));
      expect(seen).toEqual([]);
    }
  });

  it('a fragment with more to follow whose length is not a multiple of 8 is dropped and named (RFC 791 §3.2)', () => {
    const bad = ipv4(Buffer.alloc(13), { fragment: 0x2000 });
    const { defrag, seen } = defragmenter();
    expect(defrag.push(fragmentOf(bad), T0 * 1e6).kind).toBe('dropped');
    expect(seen).toEqual(['ip-fragment-misaligned']);
    expect(defrag.pending).toBe(0);
  });

  it('fragments reaching past 65,535 bytes are oversize (the "ping of death" shape)', () => {
    const piece = ipv4(Buffer.alloc(64), { fragment: 8_190 }); // offset 65,520 + 64 bytes
    const { defrag, seen } = defragmenter();
    expect(defrag.push(fragmentOf(piece), T0 * 1e6).kind).toBe('dropped');
    expect(seen).toEqual(['ip-fragment-oversize']);
    expect(defrag.pending).toBe(0);
  });
});
