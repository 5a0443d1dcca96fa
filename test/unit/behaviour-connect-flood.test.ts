import { describe, expect, it } from 'vitest';
import { CONNECT_FLOOD_MAX_KEYS, ConnectFloodDetector } from '../../agent/src/detect/connect-flood-detector.ts';
import { MonitorHarness } from '../helpers/monitor-harness.ts';

const floods = (ward: MonitorHarness) => ward.sink.raised.filter((alert) => alert.type === 'connect-flood');

describe('connect flood (detection.connectFlood, default 20 within 10 s)', () => {
  it('20 connections from one address within 10 s: one high alert that gives the count, the span and the threshold', () => {
    const ward = new MonitorHarness();
    for (let i = 0; i < 19; i += 1) ward.advance(100).connect(null, '10.66.0.5', `bot-${i}`);
    expect(ward.sink.raised).toEqual([]);
    ward.advance(100).connect(null, '10.66.0.5', 'bot-19');
    expect(ward.raised()).toEqual([['connect-flood', 'high']]);
    const alert = ward.sink.raised[0];
    expect(alert?.deviceId).toBeNull();
    expect(alert?.title).toBe('Connection flood: 20 MQTT connection attempts from 10.66.0.5 in 1.9 s (threshold 20 within 10 s)');
    expect(alert?.evidence).toMatchObject({ countedBy: 'address', attempts: 20, spanMs: 1_900, address: '10.66.0.5', latestOutcome: 'connected' });
  });

  it('keeps flooding: the alert count grows, no new alert within the suppression window', () => {
    const ward = new MonitorHarness();
    for (let i = 0; i < 500; i += 1) ward.advance(50).connect(null, '10.66.0.5', `bot-${i}`);
    expect(floods(ward)).toHaveLength(1);
    ward.monitor.alerts.flush();
    expect(ward.monitor.alerts.list().find((a) => a.type === 'connect-flood')?.count).toBe(500 - 19);
  });

  it('19 within the window is not a flood, nor are 20 spread over more than 10 s', () => {
    const ward = new MonitorHarness();
    for (let i = 0; i < 19; i += 1) ward.advance(500).connect(null, '10.66.0.6', `c-${i}`);
    expect(ward.sink.raised).toEqual([]);
    // The 20th comes 10.5 s after the first.
    ward.advance(1_500).connect(null, '10.66.0.6', 'c-19');
    expect(ward.sink.raised).toEqual([]);
  });

  it('counts refused logins and accepted ones together, per account across many addresses', () => {
    const ward = new MonitorHarness();
    for (let i = 0; i < 20; i += 1) {
      ward.advance(200);
      if (i % 2 === 0) ward.connect('station-4w', `10.66.1.${i}`, `s-${i}`);
      else ward.authFailure('station-4w', `10.66.1.${i}`, `s-${i}`);
    }
    const flood = floods(ward);
    expect(flood.map((a) => a.severity)).toEqual(['high']);
    expect(flood[0]?.title).toBe('Connection flood: 20 MQTT connection attempts for account station-4w in 3.8 s (threshold 20 within 10 s)');
    expect(flood[0]?.evidence).toMatchObject({ countedBy: 'account', account: 'station-4w', latestOutcome: 'bad-password' });
  });

  it('a device account in a reconnect loop shows on the device', () => {
    const ward = new MonitorHarness();
    for (let i = 0; i < 20; i += 1) ward.advance(250).connect('pump-03', `10.4.1.${i}`, 'pump-03');
    const flood = floods(ward);
    expect(flood).toHaveLength(1);
    expect(flood[0]?.deviceId).toBe('pump-03');
    expect(flood[0]?.title).toBe("Bed 3 · pump-03: 20 MQTT connection attempts with this device's account in 4.8 s (threshold 20 within 10 s)");
  });

  it('a ward coming up (every account once) and devices reconnecting now and then raise nothing', () => {
    const ward = new MonitorHarness();
    // (Only connect-flood is judged: devices that connect and never report are device-silent.)
    for (const account of ward.config.mqtt.accounts) ward.advance(20).connect(account.username, '10.4.0.20', `${account.username}-client`);
    for (let minute = 0; minute < 30; minute += 1) {
      for (const device of ward.config.devices) ward.advance(1_000).connect(device.account, '10.4.1.10', device.id);
    }
    expect(floods(ward)).toEqual([]);
  });

  it('follows the configured threshold', () => {
    const config = new MonitorHarness().config;
    const ward = new MonitorHarness({ ...config, detection: { ...config.detection, connectFlood: { count: 3, windowSeconds: 1 } } });
    for (let i = 0; i < 3; i += 1) ward.advance(100).connect(null, '10.66.0.7', `c-${i}`);
    expect(floods(ward)[0]?.title).toBe('Connection flood: 3 MQTT connection attempts from 10.66.0.7 in 0.2 s (threshold 3 within 1 s)');
  });

  it('state stays bounded: 50,000 addresses and usernames keep 10,000 keys each, evictions counted', () => {
    const ward = new MonitorHarness();
    for (let i = 0; i < 50_000; i += 1) ward.advance(1).authFailure(`user-${i}-${'x'.repeat(300)}`, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, `c-${i}`);
    const detector = ward.detector(ConnectFloodDetector);
    expect(detector.addressKeys).toBe(CONNECT_FLOOD_MAX_KEYS);
    expect(detector.accountKeys).toBe(CONNECT_FLOOD_MAX_KEYS);
    expect(detector.evictions).toBe(2 * (50_000 - CONNECT_FLOOD_MAX_KEYS));
    expect(floods(ward)).toEqual([]);
  });
});
