import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  TCP_FLAGS,
  TcpStreamAssembler,
  type FlowEndReason,
  type TcpFlow,
  type TcpSegment,
  type TcpStreamAnomalyName,
  type TcpStreamOptions,
} from '../../agent/src/protocol/pcap/index.ts';
import { RECENT_BYTES } from '../../agent/src/protocol/pcap/tcp-streams.ts';

const { SYN, ACK, FIN, RST, PSH } = TCP_FLAGS;
const CLIENT = { ip: '10.0.0.5', port: 50312 };
const SERVER = { ip: '10.0.0.9', port: 502 };
const KEY = '10.0.0.5:50312->10.0.0.9:502';

function seg(from: 'client' | 'server', seq: number, payload: string | Buffer = '', flags = ACK | PSH, ack = 0): TcpSegment {
  const [a, b] = from === 'client' ? [CLIENT, SERVER] : [SERVER, CLIENT];
  return {
    ipVersion: 4, src: a.ip, srcPort: a.port, dst: b.ip, dstPort: b.port,
    seq: seq >>> 0, ack: ack >>> 0, flags, payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
  };
}

interface Recorded {
  data: { key: string; direction: string; payload: string }[];
  anomalies: { name: TcpStreamAnomalyName; detail: string; direction: string | undefined }[];
  ends: { key: string; reason: FlowEndReason }[];
}

function assembler(options: TcpStreamOptions = {}): { streams: TcpStreamAssembler; seen: Recorded; text: (direction?: string) => string } {
  const seen: Recorded = { data: [], anomalies: [], ends: [] };
  const streams = new TcpStreamAssembler({
    onData: (flow: TcpFlow, payload) => seen.data.push({ key: flow.key, direction: flow.direction, payload: payload.toString() }),
    onAnomaly: (name, detail, flow) => seen.anomalies.push({ name, detail, direction: flow?.direction }),
    onEnd: (flow, reason) => seen.ends.push({ key: flow.key, reason }),
  }, options);
  const text = (direction = 'client-to-server') => seen.data.filter((d) => d.direction === direction).map((d) => d.payload).join('');
  return { streams, seen, text };
}

/** SYN, SYN-ACK, ACK: client ISN 1000, server ISN 5000. */
function handshake(streams: TcpStreamAssembler): void {
  streams.push(seg('client', 1000, '', SYN));
  streams.push(seg('server', 5000, '', SYN | ACK, 1001));
  streams.push(seg('client', 1001, '', ACK, 5001));
}

describe('TCP streams: order and direction', () => {
  it('delivers both directions in order, with the SYN sender as client', () => {
    const { streams, seen, text } = assembler();
    handshake(streams);
    streams.push(seg('client', 1001, 'req1', ACK | PSH, 5001));
    streams.push(seg('server', 5001, 'resp1', ACK | PSH, 1005));
    streams.push(seg('client', 1005, 'req2', ACK | PSH, 5006));
    expect(text()).toBe('req1req2');
    expect(text('server-to-client')).toBe('resp1');
    expect(seen.data[0]).toEqual({ key: KEY, direction: 'client-to-server', payload: 'req1' });
    expect(seen.anomalies).toEqual([]);
  });

  it('hands out one flow object per direction, with client and server endpoints', () => {
    const flows: TcpFlow[] = [];
    const streams = new TcpStreamAssembler({ onData: (flow) => flows.push(flow) });
    handshake(streams);
    streams.push(seg('client', 1001, 'a'));
    streams.push(seg('client', 1002, 'b'));
    streams.push(seg('server', 5001, 'c'));
    expect(flows[0]).toBe(flows[1]);
    expect(flows[0]).toEqual({ key: KEY, client: CLIENT, server: SERVER, direction: 'client-to-server' });
    expect(flows[2]).toEqual({ key: KEY, client: CLIENT, server: SERVER, direction: 'server-to-client' });
  });

  it('believes the SYN over the port: a host that connects from port 502 is the client', () => {
    // As in suricata-verify's modbus.pcap, where 10.0.0.8:502 opens a connection to 10.0.0.57:4446.
    const { streams, seen } = assembler();
    streams.push(seg('server', 7000, '', SYN));
    streams.push(seg('client', 9000, '', SYN | ACK, 7001));
    streams.push(seg('server', 7001, 'x', ACK | PSH, 9001));
    expect(seen.data).toEqual([{ key: '10.0.0.9:502->10.0.0.5:50312', direction: 'client-to-server', payload: 'x' }]);
  });

  it('without a SYN, the end on a well-known port (502, 1883, 8883) is the server', () => {
    const { streams, seen } = assembler();
    streams.push(seg('server', 5001, 'resp'));
    streams.push(seg('client', 1001, 'req'));
    expect(seen.data).toEqual([
      { key: KEY, direction: 'server-to-client', payload: 'resp' },
      { key: KEY, direction: 'client-to-server', payload: 'req' },
    ]);
  });

  it('server ports are configurable; without one, the lower port is the server', () => {
    const custom = assembler({ serverPorts: [50312] });
    custom.streams.push(seg('client', 1, 'x'));
    expect(custom.seen.data[0]?.key).toBe('10.0.0.9:502->10.0.0.5:50312');
    const none = assembler({ serverPorts: [] });
    none.streams.push(seg('client', 1, 'x'));
    expect(none.seen.data[0]?.key).toBe(KEY);
  });

  it('a pure ACK or a RST of an unknown connection opens no flow', () => {
    const { streams } = assembler();
    streams.push(seg('client', 1, '', ACK));
    streams.push(seg('client', 1, '', RST));
    expect(streams.size).toBe(0);
  });

  it('keys IPv6 endpoints in brackets', () => {
    const { streams, seen } = assembler();
    streams.push({ ipVersion: 6, src: 'fd00::5', srcPort: 50000, dst: 'fd00::9', dstPort: 1883, seq: 1, ack: 0, flags: ACK | PSH, payload: Buffer.from('c') });
    expect(seen.data[0]?.key).toBe('[fd00::5]:50000->[fd00::9]:1883');
  });
});

describe('TCP streams: out of order, retransmission, gaps', () => {
  it('holds an early segment until the one before it arrives', () => {
    const { streams, text } = assembler();
    handshake(streams);
    streams.push(seg('client', 1005, 'BBBB'));
    expect(text()).toBe('');
    streams.push(seg('client', 1001, 'AAAA'));
    expect(text()).toBe('AAAABBBB');
  });

  it('drops an exact retransmission and keeps only the new tail of an overlapping one', () => {
    const { streams, seen, text } = assembler();
    handshake(streams);
    streams.push(seg('client', 1001, 'AAAA'));
    streams.push(seg('client', 1001, 'AAAA'));
    streams.push(seg('client', 1001, 'AAAABBBB')); // frame 1131 of iti-mb2.pcap does this
    expect(text()).toBe('AAAABBBB');
    expect(seen.data.map((d) => d.payload)).toEqual(['AAAA', 'BBBB']);
  });

  it('drops a repeated out-of-order segment, keeping the longer copy', () => {
    const { streams, text } = assembler();
    handshake(streams);
    streams.push(seg('client', 1005, 'BB'));
    streams.push(seg('client', 1005, 'BBBB'));
    streams.push(seg('client', 1005, 'BB'));
    streams.push(seg('client', 1001, 'AAAA'));
    expect(text()).toBe('AAAABBBB');
  });

  it('follows sequence numbers across the 2^32 wrap', () => {
    const { streams, text } = assembler();
    streams.push(seg('client', 0xfffffffc, 'AAAA'));
    streams.push(seg('client', 4, 'CCCC'));
    streams.push(seg('client', 0, 'BBBB'));
    expect(text()).toBe('AAAABBBBCCCC');
  });

  it('tcp-gap: bytes the receiver acknowledged but the capture never showed are given up', () => {
    const { streams, seen, text } = assembler();
    handshake(streams);
    streams.push(seg('client', 1001, 'AAAA'));
    // 1005..1009 is never captured.
    streams.push(seg('client', 1009, 'CCCC'));
    expect(text()).toBe('AAAA');
    streams.push(seg('server', 5001, '', ACK, 1013)); // the server has everything up to 1013
    expect(text()).toBe('AAAACCCC');
    expect(seen.anomalies).toEqual([{ name: 'tcp-gap', detail: '4 bytes missing before sequence 1009 (acknowledged by the receiver)', direction: 'client-to-server' }]);
    streams.push(seg('client', 1013, 'DDDD'));
    expect(text()).toBe('AAAACCCCDDDD');
  });

  it('tcp-gap: an acknowledgement inside a hole gives up only the acknowledged part', () => {
    const { streams, seen, text } = assembler();
    handshake(streams);
    streams.push(seg('client', 1001, 'AAAA'));
    streams.push(seg('client', 1013, 'DDDD'));
    streams.push(seg('server', 5001, '', ACK, 1009)); // received up to 1009: 1005..1009 lost to the capture
    expect(seen.anomalies.map((a) => a.detail)).toEqual(['4 bytes missing before sequence 1009 (acknowledged by the receiver)']);
    streams.push(seg('client', 1009, 'CCCC')); // 1009..1013 still arrives: nothing more is lost
    expect(text()).toBe('AAAACCCCDDDD');
    expect(seen.anomalies).toHaveLength(1);
  });

  it('tcp-gap: an acknowledgement seen before the later segment still gives up the hole when it comes', () => {
    // suricata-verify mqtt-events-missing-connect: the CONNECT was cut out of the capture.
    const { streams, seen, text } = assembler();
    handshake(streams);
    streams.push(seg('server', 5001, '', ACK, 1017)); // acknowledges 16 bytes never seen
    expect(seen.anomalies).toEqual([]);
    streams.push(seg('client', 1017, 'SUBSCRIBE'));
    expect(text()).toBe('SUBSCRIBE');
    expect(seen.anomalies.map((a) => a.name)).toEqual(['tcp-gap']);
  });

  it('tcp-segment-overflow: more held segments than the cap force a gap', () => {
    const { streams, seen, text } = assembler({ maxOutOfOrderSegments: 2 });
    handshake(streams);
    streams.push(seg('client', 1003, 'B'));
    streams.push(seg('client', 1005, 'C'));
    streams.push(seg('client', 1007, 'D'));
    expect(seen.anomalies.map((a) => a.name)).toEqual(['tcp-segment-overflow', 'tcp-gap']);
    expect(text()).toBe('B');
    streams.push(seg('client', 1004, 'x'));
    expect(text()).toBe('BxC');
  });

  it('tcp-buffer-overflow: more held bytes than the per-flow cap force gaps until it fits', () => {
    const { streams, seen, text } = assembler({ maxBufferedBytesPerFlow: 8 });
    handshake(streams);
    streams.push(seg('client', 1011, 'CCCC'));
    streams.push(seg('client', 1021, 'EEEEEE'));
    expect(seen.anomalies.map((a) => a.name)).toEqual(['tcp-buffer-overflow', 'tcp-gap']);
    expect(text()).toBe('CCCC');
  });

  it('copies held segments, so the producer may reuse its buffer', () => {
    const { streams, text } = assembler();
    handshake(streams);
    const reused = Buffer.from('BBBB');
    streams.push(seg('client', 1005, reused));
    reused.fill('Z');
    streams.push(seg('client', 1001, 'AAAA'));
    expect(text()).toBe('AAAABBBB');
  });

  it('delivers whatever arrives, in order, and never throws, for any arrival order', () => {
    const chunks = ['Mod', 'bus', '/TC', 'P f', 'ram', 'es'];
    fc.assert(
      fc.property(fc.shuffledSubarray(chunks.map((_, i) => i), { minLength: chunks.length }), fc.array(fc.nat(chunks.length - 1), { maxLength: 4 }), (order, repeats) => {
        const { streams, text, seen } = assembler();
        handshake(streams);
        const offsets = chunks.map((_, i) => chunks.slice(0, i).join('').length);
        for (const i of [...order, ...repeats]) streams.push(seg('client', 1001 + (offsets[i] ?? 0), chunks[i] ?? ''));
        expect(text()).toBe(chunks.join(''));
        // Faithful copies in any order are never an overlap conflict.
        expect(seen.anomalies.filter((anomaly) => anomaly.name === 'tcp-overlap-conflict')).toEqual([]);
      }),
    );
  });
});

describe('TCP streams: lifecycle and bounds', () => {
  it('ends a flow after FIN both ways, and stays quiet about late retransmissions', () => {
    const { streams, seen, text } = assembler();
    handshake(streams);
    streams.push(seg('client', 1001, 'req', ACK | PSH | FIN, 5001));
    streams.push(seg('server', 5001, 'resp', ACK | PSH | FIN, 1005));
    expect(seen.ends).toEqual([{ key: KEY, reason: 'closed' }]);
    streams.push(seg('client', 1001, 'req', ACK | PSH | FIN, 5006));
    expect(text()).toBe('req');
    expect(seen.anomalies).toEqual([]);
  });

  it('tcp-data-after-close: new data after a RST is shown as a new flow', () => {
    // zeek-modbus-and-non-modbus-p502.pcap frames 62–66: SYN, SYN-ACK, RST, then an HTTP GET.
    const { streams, seen, text } = assembler();
    handshake(streams);
    streams.push(seg('client', 1001, '', RST));
    expect(seen.ends).toEqual([{ key: KEY, reason: 'reset' }]);
    streams.push(seg('client', 1001, 'GET / HTTP/1.1', ACK | PSH, 5001));
    expect(text()).toBe('GET / HTTP/1.1');
    expect(seen.anomalies.map((a) => [a.name, a.direction])).toEqual([['tcp-data-after-close', 'client-to-server']]);
  });

  it('a RST delivers what was held, after reporting the hole', () => {
    const { streams, seen, text } = assembler();
    handshake(streams);
    streams.push(seg('client', 1005, 'late'));
    streams.push(seg('server', 5001, '', RST | ACK, 1001));
    expect(text()).toBe('late');
    expect(seen.anomalies.map((a) => a.name)).toEqual(['tcp-gap']);
    expect(seen.ends).toEqual([{ key: KEY, reason: 'reset' }]);
  });

  it('a repeated SYN resets its direction; a SYN after data starts a new connection on the same four-tuple', () => {
    const { streams, seen, text } = assembler();
    streams.push(seg('client', 1000, '', SYN));
    streams.push(seg('client', 1000, '', SYN)); // retransmitted SYN
    streams.push(seg('client', 1001, 'one'));
    streams.push(seg('client', 90000, '', SYN)); // port reused without a FIN seen
    streams.push(seg('client', 90001, 'two'));
    expect(text()).toBe('onetwo');
    expect(seen.ends).toEqual([{ key: KEY, reason: 'reused' }]);
  });

  it('tcp-flow-overflow: above maxFlows the least recently active flow is evicted', () => {
    const { streams, seen } = assembler({ maxFlows: 2 });
    const from = (port: number, payload: string): TcpSegment => ({ ...seg('client', 1, payload), srcPort: port });
    streams.push(from(40001, 'a'));
    streams.push(from(40002, 'b'));
    streams.push(from(40001, 'a2')); // 40002 is now the least recently active
    streams.push(from(40003, 'c'));
    expect(streams.size).toBe(2);
    expect(seen.anomalies.map((a) => a.name)).toEqual(['tcp-flow-overflow']);
    expect(seen.ends).toEqual([{ key: '10.0.0.5:40002->10.0.0.9:502', reason: 'evicted' }]);
  });

  it('flush delivers held data after reporting the hole, and ends every flow', () => {
    const { streams, seen, text } = assembler();
    handshake(streams);
    streams.push(seg('client', 1005, 'held'));
    streams.flush();
    expect(text()).toBe('held');
    expect(seen.anomalies.map((a) => a.detail)).toEqual(['4 bytes missing before sequence 1005 (end of input)']);
    expect(seen.ends).toEqual([{ key: KEY, reason: 'flushed' }]);
    expect(streams.size).toBe(0);
  });

  it('holds no more than the byte cap whatever arrives', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ seq: fc.nat(400), len: fc.integer({ min: 1, max: 40 }), from: fc.constantFrom('client', 'server') as fc.Arbitrary<'client' | 'server'>, flags: fc.constantFrom(ACK, ACK | PSH, SYN, FIN | ACK, RST), ack: fc.nat(400) }), { maxLength: 60 }), (segments) => {
        let delivered = 0;
        const streams = new TcpStreamAssembler({ onData: (_flow, payload) => { delivered += payload.length; } }, { maxBufferedBytesPerFlow: 64, maxOutOfOrderSegments: 4 });
        for (const s of segments) {
          streams.push(seg(s.from, 1000 + s.seq, Buffer.alloc(s.flags === RST ? 0 : s.len, 0x41), s.flags, 5000 + s.ack));
          expect(streams.bufferedBytes).toBeLessThanOrEqual(64); // one four-tuple: one live flow at a time
        }
        streams.flush();
        expect(streams.bufferedBytes).toBe(0);
        expect(delivered).toBeLessThanOrEqual(segments.reduce((sum, s) => sum + s.len, 0));
      }),
      { numRuns: 500 },
    );
  });
});

describe('TCP streams: overlaps with other bytes (the insertion attack)', () => {
  it('a retransmission that repeats the delivered bytes is quiet; one that changes them is tcp-overlap-conflict, and the first copy stays', () => {
    const { streams, seen, text } = assembler();
    handshake(streams);
    streams.push(seg('client', 1001, 'set_rate 5;', ACK | PSH, 5001));
    streams.push(seg('client', 1001, 'set_rate 5;', ACK | PSH, 5001));
    expect(seen.anomalies).toEqual([]);
    // The device may have dropped the first (a bad checksum) and taken this one.
    streams.push(seg('client', 1001, 'set_rate 320', ACK | PSH, 5001));
    expect(seen.anomalies.map((anomaly) => [anomaly.name, anomaly.direction])).toEqual([['tcp-overlap-conflict', 'client-to-server']]);
    // The first copy was delivered, and the one new byte of the longer copy after it.
    expect(text()).toBe('set_rate 5;0');
  });

  it('a partial overlap is compared on the bytes it repeats; a copy older than the kept bytes is counted as unverified', () => {
    const { streams, seen } = assembler();
    handshake(streams);
    streams.push(seg('client', 1001, 'abcdefgh', ACK | PSH, 5001));
    streams.push(seg('client', 1005, 'efghijkl', ACK | PSH, 5001));
    expect(seen.anomalies).toEqual([]);
    streams.push(seg('client', 1007, 'Xhijkl', ACK | PSH, 5001));
    expect(seen.anomalies.map((anomaly) => anomaly.name)).toEqual(['tcp-overlap-conflict']);
    const far = assembler();
    handshake(far.streams);
    far.streams.push(seg('client', 1001, Buffer.alloc(RECENT_BYTES + 100, 0x41), ACK | PSH, 5001));
    far.streams.push(seg('client', 1001, Buffer.alloc(50, 0x42), ACK | PSH, 5001));
    expect(far.seen.anomalies.map((anomaly) => anomaly.name)).toEqual(['tcp-overlap-unverified']);
    far.streams.push(seg('client', 1001 + 200, Buffer.alloc(10, 0x42), ACK | PSH, 5001));
    expect(far.seen.anomalies.map((anomaly) => anomaly.name)).toEqual(['tcp-overlap-unverified', 'tcp-overlap-conflict']);
  });

  it('two out-of-order copies of the same segment with other bytes are a conflict too', () => {
    const { streams, seen, text } = assembler();
    handshake(streams);
    streams.push(seg('client', 1011, 'later', ACK | PSH, 5001));
    streams.push(seg('client', 1011, 'LATER', ACK | PSH, 5001));
    expect(seen.anomalies.map((anomaly) => anomaly.name)).toEqual(['tcp-overlap-conflict']);
    streams.push(seg('client', 1001, '0123456789', ACK | PSH, 5001));
    expect(text()).toBe('0123456789later');
  });
});

describe('TCP streams: overlaps across the sequence number wrap', () => {
  it('compares bytes on both sides of 2^32', () => {
    const { streams, seen, text } = assembler();
    const isn = 0xffff_fffa;
    streams.push(seg('client', isn, '', SYN));
    streams.push(seg('server', 5000, '', SYN | ACK, isn + 1));
    streams.push(seg('client', isn + 1, '0123456789', ACK | PSH, 5001));
    streams.push(seg('client', isn + 1, '0123456789', ACK | PSH, 5001));
    expect(seen.anomalies).toEqual([]);
    streams.push(seg('client', (isn + 8) >>> 0, '789', ACK | PSH, 5001));
    expect(seen.anomalies).toEqual([]);
    streams.push(seg('client', (isn + 8) >>> 0, '7X9', ACK | PSH, 5001));
    expect(seen.anomalies.map((anomaly) => anomaly.name)).toEqual(['tcp-overlap-conflict']);
    expect(text()).toBe('0123456789');
  });
});

describe('TCP streams: keep-alives', () => {
  it('a keep-alive with one garbage octet at the sequence number before the next (RFC 9293 §3.8.4), once all is acknowledged, is not an overlap', () => {
    const { streams, seen } = assembler();
    handshake(streams);
    streams.push(seg('client', 1001, 'abcd', ACK | PSH, 5001));
    streams.push(seg('server', 5001, '', ACK, 1005));
    streams.push(seg('client', 1004, 'Z', ACK, 5001));
    expect(seen.anomalies).toEqual([]);
  });

  it('one octet there before the acknowledgement is an ordinary copy and is compared (the last byte of a register value swapped)', () => {
    const { streams, seen } = assembler();
    handshake(streams);
    streams.push(seg('client', 1001, 'SAF1', ACK | PSH, 5001));
    streams.push(seg('client', 1001, 'SAF', ACK | PSH, 5001));
    streams.push(seg('client', 1004, '9', ACK, 5001));
    expect(seen.anomalies.map((anomaly) => anomaly.name)).toEqual(['tcp-overlap-conflict']);
  });
});

describe('TCP streams: the comparison outlives a forged end or a skipped hole', () => {
  it('after a RST (or FINs both ways) a copy of decoded bytes with other content is still a conflict', () => {
    for (const close of [[seg('client', 1005, '', RST)], [seg('client', 1005, '', FIN | ACK, 5001), seg('server', 5001, '', FIN | ACK, 1006)]]) {
      const { streams, seen } = assembler();
      handshake(streams);
      streams.push(seg('client', 1001, 'SAFE', ACK | PSH, 5001));
      for (const segment of close) streams.push(segment);
      streams.push(seg('client', 1001, 'EVIL', ACK | PSH, 5001));
      expect(seen.anomalies.map((anomaly) => anomaly.name)).toEqual(['tcp-overlap-conflict']);
    }
  });

  it('after a hole skipped on the receiver\'s acknowledgement, bytes before the hole are still compared, and bytes in it are unverified', () => {
    const { streams, seen } = assembler();
    handshake(streams);
    streams.push(seg('client', 1001, 'SAFE', ACK | PSH, 5001));
    streams.push(seg('client', 1009, 'more', ACK | PSH, 5001));
    // The receiver acknowledges past the hole [1005, 1009): the monitor gives it up.
    streams.push(seg('server', 5001, '', ACK, 1013));
    expect(seen.anomalies.map((anomaly) => anomaly.name)).toEqual(['tcp-gap']);
    streams.push(seg('client', 1001, 'EVIL', ACK | PSH, 5001));
    streams.push(seg('client', 1005, 'hole', ACK | PSH, 5001));
    expect(seen.anomalies.map((anomaly) => anomaly.name)).toEqual(['tcp-gap', 'tcp-overlap-conflict', 'tcp-overlap-unverified']);
  });

  it('a copy reaching back further than the ring holds is counted as unverified, not silently passed', () => {
    const { streams, seen } = assembler();
    handshake(streams);
    const padding = Buffer.alloc(RECENT_BYTES, 0x41);
    streams.push(seg('client', 1001, Buffer.concat([Buffer.from('SAFE'), padding]), ACK | PSH, 5001));
    streams.push(seg('client', 1001, Buffer.concat([Buffer.from('EVIL'), padding]), ACK | PSH, 5001));
    expect(seen.anomalies.map((anomaly) => anomaly.name)).toEqual(['tcp-overlap-unverified']);
  });
});
