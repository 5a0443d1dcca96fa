import { describe, expect, it } from 'vitest';
import { PUBLISH_FLOOD_MAX_KEYS, PublishFloodDetector } from '../../agent/src/detect/publish-flood-detector.ts';
import { MonitorHarness } from '../helpers/monitor-harness.ts';

const floods = (ward: MonitorHarness) => ward.sink.raised.filter((alert) => alert.type === 'publish-flood');

describe('publish flood (detection.publishFlood, default 200 within 10 s)', () => {
  it('200 commands from the station within 10 s: one high alert with count, span and threshold', () => {
    const ward = new MonitorHarness();
    for (let i = 0; i < 199; i += 1) ward.advance(40).command('station-4w', 'pump-01', 'pause');
    expect(ward.sink.raised).toEqual([]);
    ward.advance(40).command('station-4w', 'pump-01', 'pause');
    expect(ward.raised()).toEqual([['publish-flood', 'high']]);
    const alert = ward.sink.raised[0];
    expect(alert?.deviceId).toBeNull();
    expect(alert?.title).toBe('Publish flood: station-4w sent 200 messages in 8 s (threshold 200 within 10 s)');
    expect(alert?.evidence).toMatchObject({ sender: 'station-4w', messages: 200, spanMs: 7_960, latest: 'command for pump-01' });
  });

  it('199 within the window is not a flood, nor 200 over 12 s', () => {
    const ward = new MonitorHarness();
    for (let i = 0; i < 199; i += 1) ward.advance(50).command('station-4w', 'pump-02', 'pause');
    ward.advance(2_100).command('station-4w', 'pump-02', 'pause');
    expect(ward.sink.raised).toEqual([]);
  });

  it('a device flooding with telemetry is shown on the device', () => {
    const ward = new MonitorHarness();
    for (let i = 0; i < 250; i += 1) ward.advance(20).telemetry('pump-02', { state: 'idle' });
    const flood = floods(ward);
    expect(flood).toHaveLength(1);
    expect(flood[0]?.deviceId).toBe('pump-02');
    expect(flood[0]?.title).toBe("Bed 2 · pump-02: 200 messages from this device's account in 4 s (threshold 200 within 10 s)");
  });

  it('payloads that do not decode count too; an anonymous sender is keyed by address', () => {
    const ward = new MonitorHarness();
    const anonymous = ward.client(null, '10.66.0.9', 'x');
    for (let i = 0; i < 200; i += 1) ward.advance(10).publish(anonymous, 'ward/pump-01/command', `junk ${i}`);
    const flood = floods(ward);
    expect(flood).toHaveLength(1);
    expect(flood[0]?.title).toBe('Publish flood: anonymous@10.66.0.9 sent 200 messages in 2 s (threshold 200 within 10 s)');
    expect(flood[0]?.evidence.latest).toBe('anomaly payload-not-json on ward/pump-01/command');
  });

  it('publishes outside the ward contract count too: a flood need not aim at a device', () => {
    const ward = new MonitorHarness();
    const guest = ward.client('guest', '10.66.0.40', 'chatty');
    for (let i = 0; i < 200; i += 1) ward.advance(5).publish(guest, `lobby/screen/${i % 7}`, 'x');
    const flood = floods(ward);
    expect(flood).toHaveLength(1);
    expect(flood[0]?.evidence).toMatchObject({ sender: 'guest', latest: 'publish on lobby/screen/3' });
  });

  it('messages the broker publishes itself (no sender) are nobody\'s flood', () => {
    const ward = new MonitorHarness();
    for (let i = 0; i < 1_000; i += 1) ward.advance(1).publish(null, 'ward/pump-01/status', 'offline', true);
    expect(floods(ward)).toEqual([]);
  });

  it('a busy ward stays well below: 8 devices reporting every 5 s with acks, 30 commands at a shift change', () => {
    const ward = new MonitorHarness();
    const devices = ward.config.devices.map((d) => d.id);
    for (let second = 0; second < 600; second += 1) {
      ward.advance(1_000);
      if (second % 5 === 0) for (const id of devices) ward.telemetry(id, { battery_pct: 90 });
      if (second >= 60 && second < 90) {
        // One command a second for 30 s, each acknowledged and followed by fresh telemetry.
        const pump = `pump-0${(second % 6) + 1}`;
        ward.command('station-4w', pump, 'pause');
        ward.publish(ward.client(pump, '10.4.1.10', pump), `ward/${pump}/ack`, JSON.stringify({ id: 'x', ts: new Date(ward.now).toISOString(), ok: true }));
        ward.telemetry(pump, { state: 'paused' });
      }
    }
    expect(ward.sink.raised).toEqual([]);
  });

  it('state stays bounded: 50,000 anonymous senders keep 10,000 keys, evictions counted', () => {
    const ward = new MonitorHarness();
    for (let i = 0; i < 50_000; i += 1) {
      ward.advance(1).publish(ward.client(null, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, `c-${i}`), 'ward/no-such-device/telemetry', '{}');
    }
    const detector = ward.detector(PublishFloodDetector);
    expect(detector.senderKeys).toBe(PUBLISH_FLOOD_MAX_KEYS);
    expect(detector.evictions).toBe(50_000 - PUBLISH_FLOOD_MAX_KEYS);
    expect(floods(ward)).toEqual([]);
  });
});
