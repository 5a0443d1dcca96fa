import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { CaptureIngest } from '../../agent/src/ingest/capture-ingest.ts';
import { createMonitor } from '../../agent/src/monitor.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { ethernet, fragmentIpv4, frame, ipv4, mqttConnect, mqttPublish, pcapFile, tcpHeader, type Direction } from '../helpers/packet-builders.ts';

const T0 = 1_764_316_800;
const MODBUS_WRITE = Buffer.from('00070000000f0110001000040800010002000300040005', 'hex');

/** A capture through the real ingest and monitor: the alerts raised and the anomalies counted in health (/metrics). */
function judge(frames: readonly Buffer[]): { alerts: { type: string; title: string }[]; anomalies: ReadonlyMap<string, number> } {
  const config = loadDemoConfig();
  const monitor = createMonitor(config, { sinks: [], logger: pino({ level: 'silent' }) });
  const ingest = new CaptureIngest({ config, ingest: (observation) => monitor.pipeline.ingest(observation, 'capture'), onInspectionFailure: () => undefined });
  // frame() gives whole Ethernet frames (EtherType 0x0800 at byte 12); the fragment builders give bare IPv4 packets.
  ingest.push(pcapFile(frames.map((data, index) => ({ seconds: T0, fraction: index, data: data.readUInt16BE(12) === 0x0800 ? data : ethernet(data) }))));
  ingest.end();
  return { alerts: monitor.alerts.list().map((alert) => ({ type: alert.type, title: alert.title })), anomalies: monitor.health.anomalies };
}

const write = ipv4(tcpHeader({ payload: MODBUS_WRITE }), { src: '10.4.0.66', dst: '10.4.1.11' });

describe('capture-evasion (a capture\'s IP-layer anomalies reach health and the alert list)', () => {
  it('overlapping fragments with different bytes raise one high alert naming the sender, counted by name in health; not a malformed-payload burst', () => {
    const pieces = fragmentIpv4(write, [16, 32]);
    const frames: Buffer[] = [];
    // Six datagrams, each with a forged overlap: repeats fold into one alert (same sender), and six anomalies are counted.
    for (let id = 1; id <= 6; id += 1) {
      const withId = pieces.map((piece) => {
        const copy = Buffer.from(piece);
        copy.writeUInt16BE(id, 4);
        return copy;
      });
      const forged = Buffer.from(withId[1] ?? Buffer.alloc(0));
      forged.writeUInt8(forged.readUInt8(forged.length - 1) ^ 0xff, forged.length - 1);
      frames.push(withId[0] ?? Buffer.alloc(0), withId[1] ?? Buffer.alloc(0), forged);
    }
    const { alerts, anomalies } = judge(frames);
    expect(alerts.map((alert) => alert.type)).toEqual(['capture-evasion']);
    expect(alerts[0]?.title).toBe('Capture: 10.4.0.66 sent IP fragments that overlap with different bytes (RFC 1858 §4): the device may keep either copy, so what it received was not judged');
    expect(anomalies.get('ip-fragment-overlap')).toBe(6);
  });

  it('a datagram left incomplete (a capture starting mid-datagram) is counted, never alerted', () => {
    const pieces = fragmentIpv4(write, [16, 32]);
    const { alerts, anomalies } = judge([pieces[1] ?? Buffer.alloc(0), pieces[2] ?? Buffer.alloc(0)]);
    expect(alerts).toEqual([]);
    expect(anomalies.get('ip-fragment-incomplete')).toBe(1);
  });

  it('a TCP segment repeating sequence numbers with other bytes (an insertion) raises capture-evasion naming the sender; the first copy is the one judged', () => {
    const up: Direction = { seq: 1000, src: [10, 4, 0, 66], dst: [10, 4, 0, 2], srcPort: 40_066, dstPort: 1883 };
    const down: Direction = { seq: 7000, src: [10, 4, 0, 2], dst: [10, 4, 0, 66], srcPort: 1883, dstPort: 40_066 };
    const command = (rate: string): string => JSON.stringify({ id: '0f8e2a57-1c2d-4e8f-9a0b-7c6d5e4f3a21', ts: '2025-11-28T08:00:00.000Z', issuer: 'station-4w', user: 'rn', command: 'set_rate', params: {} }).replace('"params":{}', `"params":{"rate_ml_h":${rate}}`);
    const frames = [frame(up, Buffer.alloc(0), 'syn'), frame(down, Buffer.alloc(0), 'syn-ack'), frame(up, mqttConnect('station-4w-1', 'station-4w', 'demo')), frame(down, Buffer.from([0x20, 2, 0, 0]))];
    const before = up.seq;
    frames.push(frame(up, mqttPublish('ward/pump-01/command', command('  5'))));
    up.seq = before;
    frames.push(frame(up, mqttPublish('ward/pump-01/command', command('320'))));
    const { alerts, anomalies } = judge(frames);
    expect(anomalies.get('tcp-overlap-conflict')).toBe(1);
    const evasion = alerts.filter((alert) => alert.type === 'capture-evasion');
    expect(evasion).toHaveLength(1);
    expect(evasion[0]?.title).toContain('Capture: 10.4.0.66 sent TCP segments that carry other bytes for sequence numbers already seen');
  });
});
