/**
 * The device page's history (issue 6, agent/src/store/device-history.ts): telemetry and
 * commands fed through the agent's real monitor (normalizer, detectors, device state) as
 * the embedded broker reports them, then read back as the API does. Every time here is
 * event time in 2021, far from the wall clock, so a store that read Date.now() would fail.
 */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import { createMonitor, type Monitor } from '../../agent/src/monitor.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import { DEVICE_HISTORY_CAPS, DeviceHistoryStore, doseSeriesKey } from '../../agent/src/store/device-history.ts';
import { HistoryBuckets, type BucketCounters } from '../../agent/src/store/history-buckets.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';

const T0 = Date.UTC(2021, 2, 1, 8, 0, 0);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

interface Harness {
  readonly monitor: Monitor;
  readonly history: DeviceHistoryStore;
  telemetry(ts: number, deviceId: string, fields: Record<string, number | string>, account?: string): void;
  command(ts: number, deviceId: string, command: string, params: Record<string, number | string | boolean>, account?: string): void;
}

function harness(config: SiteConfig = loadDemoConfig()): Harness {
  let history: DeviceHistoryStore | null = null;
  const monitor = createMonitor(config, { sinks: [], logger: pino({ level: 'silent' }), onEvent: (event) => history?.observe(event) });
  history = new DeviceHistoryStore(config.drugLibrary, (deviceId) => monitor.state.get(deviceId)?.infusion ?? null);
  const publish = (ts: number, account: string, topic: string, body: object): void => {
    monitor.pipeline.ingest({ kind: 'mqtt-publish', ts, client: { clientId: `${account}-sim`, username: account, address: '10.4.1.20' }, topic, payload: Buffer.from(JSON.stringify(body)), retain: false, qos: 1 });
  };
  let sequence = 0;
  return {
    monitor,
    history,
    telemetry: (ts, deviceId, fields, account = deviceId) => publish(ts, account, `ward/${deviceId}/telemetry`, { ts: new Date(ts).toISOString(), ...fields }),
    command: (ts, deviceId, command, params, account = 'station-4w') => {
      sequence += 1;
      publish(ts, account, `ward/${deviceId}/command`, { id: `cmd-${sequence}`, ts: new Date(ts).toISOString(), issuer: account, user: 'nurse.unit', command, params });
    },
  };
}

const HEPARIN = { state: 'running', drug: 'heparin', care_area: 'ICU', weight_kg: 80, vtbi_ml: 250, battery_pct: 90, library_version: '4W-2026.11-demo', alarm: '' };

describe('device history: downsampling to one point a minute', () => {
  it('keeps the last value of each minute with its minimum and maximum, at the start of the minute in event time', () => {
    const { history, telemetry } = harness();
    // 08:00:00–08:02:55 every 5 s: 14.4 mL/h, a 20-second spike to 320 in the second minute, then 16.
    for (let second = 0; second < 180; second += 5) {
      const ts = T0 + second * 1000;
      const rate = second >= 70 && second < 90 ? 320 : second >= 120 ? 16 : 14.4;
      telemetry(ts, 'pump-01', { ...HEPARIN, rate_ml_h: rate, infused_ml: second / 10 });
    }
    const snapshot = history.snapshot('pump-01');
    const rate = snapshot?.series.get('rate_ml_h');
    expect(rate?.t).toEqual([T0, T0 + MINUTE, T0 + 2 * MINUTE]);
    expect(rate?.last).toEqual([14.4, 14.4, 16]);
    expect(rate?.min).toEqual([14.4, 14.4, 16]);
    expect(rate?.max).toEqual([14.4, 320, 16]);
    // The dose in the drug's library unit: 14.4 mL/h × 100 units/mL ÷ 80 kg = 18 units/kg/h.
    const dose = snapshot?.series.get(doseSeriesKey('ICU', 'heparin'));
    expect(dose?.last).toEqual([18, 18, 20]);
    expect(dose?.max).toEqual([18, 400, 20]);
    expect(snapshot?.series.get('infused_ml')?.last).toEqual([5.5, 11.5, 17.5]);
    expect(snapshot?.series.get('battery_pct')?.last).toEqual([90, 90, 90]);
    // Strings and fields the page does not chart are not series.
    expect([...(snapshot?.series.keys() ?? [])].sort()).toEqual(['battery_pct', 'dose:ICU/heparin', 'infused_ml', 'rate_ml_h']);
    expect(snapshot?.newest).toBe(T0 + 175_000);
  });

  it('keeps 24 hours: after 30 hours the oldest point is 23 h 59 min before the newest, and the memory is the cap', () => {
    const { history, telemetry } = harness();
    for (let minute = 0; minute < 30 * 60; minute += 1) telemetry(T0 + minute * MINUTE + 1_000, 'pump-01', { ...HEPARIN, rate_ml_h: 10 + (minute % 7) });
    const snapshot = history.snapshot('pump-01');
    const rate = snapshot?.series.get('rate_ml_h');
    expect(rate?.t.length).toBe(DEVICE_HISTORY_CAPS.buckets);
    const newestMinute = T0 + (30 * 60 - 1) * MINUTE;
    expect(rate?.t.at(-1)).toBe(newestMinute);
    expect(rate?.t[0]).toBe(newestMinute - (DEVICE_HISTORY_CAPS.buckets - 1) * MINUTE);
    expect(snapshot?.windowStart).toBe(rate?.t[0]);
    // Three series (rate, battery, dose; no infused_ml here) of 1,440 minutes × 3 float32.
    expect(history.seriesBytes).toBe(3 * DEVICE_HISTORY_CAPS.buckets * 12);
  });

  it('reads event time, not the wall clock: an event older than the window is dropped and counted, a gap empties the minutes it spans', () => {
    const { history, telemetry } = harness();
    telemetry(T0, 'pump-02', { ...HEPARIN, rate_ml_h: 12 });
    telemetry(T0 + 30 * HOUR, 'pump-02', { ...HEPARIN, rate_ml_h: 13 });
    // Late by more than a day: refused; late by an hour, inside the window: kept in its minute.
    telemetry(T0 + 5 * HOUR, 'pump-02', { ...HEPARIN, rate_ml_h: 99 });
    telemetry(T0 + 29 * HOUR, 'pump-02', { ...HEPARIN, rate_ml_h: 14 });
    const snapshot = history.snapshot('pump-02');
    const rate = snapshot?.series.get('rate_ml_h');
    expect(rate?.t).toEqual([T0 + 29 * HOUR, T0 + 30 * HOUR]);
    expect(rate?.last).toEqual([14, 13]);
    expect(snapshot?.counters.late).toBe(1);
    expect(snapshot?.newest).toBe(T0 + 30 * HOUR);
    expect(snapshot?.windowStart).toBe(T0 + 30 * HOUR - (DEVICE_HISTORY_CAPS.buckets - 1) * MINUTE);
  });
});

describe('device history: commands as markers', () => {
  it('marks each command with its time, name, sender and the rate and dose it set (dose through the infusion running after it)', () => {
    const { history, command } = harness();
    command(T0, 'pump-01', 'program_infusion', { drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' });
    command(T0 + 10 * MINUTE, 'pump-01', 'set_rate', { rate_ml_h: 24 });
    command(T0 + 11 * MINUTE, 'pump-01', 'pause', {});
    const markers = history.snapshot('pump-01')?.markers ?? [];
    expect(markers.map((marker) => [marker.ts, marker.command, marker.sender, marker.transport])).toEqual([
      [T0, 'program_infusion', 'station-4w', 'mqtt'],
      [T0 + 10 * MINUTE, 'set_rate', 'station-4w', 'mqtt'],
      [T0 + 11 * MINUTE, 'pause', 'station-4w', 'mqtt'],
    ]);
    expect(markers[0]?.params).toEqual({ drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' });
    expect(markers[0]?.values).toEqual({ rate_ml_h: 14.4, 'dose:ICU/heparin': 18 });
    expect(markers[1]?.values).toEqual({ rate_ml_h: 24, 'dose:ICU/heparin': 30 });
    expect(markers[2]?.values).toEqual({});
  });

  it('records a programmer\'s programmed values from its program commands, and names a sender without an account by its address', () => {
    const { history, command, monitor } = harness();
    command(T0, 'prog-01', 'start_session', { implant_serial: 'PM-1234' }, 'ep-clinic');
    command(T0 + MINUTE, 'prog-01', 'program', { mode: 'DDD', lower_rate_ppm: 60, upper_rate_ppm: 120, amplitude_v: 3.5, pulse_width_ms: 0.4, tachy_therapy: true }, 'ep-clinic');
    command(T0 + 2 * MINUTE, 'prog-01', 'program', { mode: 'VOO', lower_rate_ppm: 90, upper_rate_ppm: 130, amplitude_v: 0, pulse_width_ms: 0.4, tachy_therapy: false }, 'ep-clinic');
    const snapshot = history.snapshot('prog-01');
    expect(snapshot?.series.get('lower_rate_ppm')?.last).toEqual([60, 90]);
    expect(snapshot?.series.get('upper_rate_ppm')?.last).toEqual([120, 130]);
    expect(snapshot?.series.get('amplitude_v')?.last).toEqual([3.5, 0]);
    expect(snapshot?.series.get('pulse_width_ms')?.last).toEqual([0.4, 0.4]);
    expect(snapshot?.markers.map((marker) => marker.command)).toEqual(['start_session', 'program', 'program']);
    expect(snapshot?.markers[2]?.params).toMatchObject({ mode: 'VOO', amplitude_v: 0, tachy_therapy: false });
    // An anonymous Modbus-like sender has no account: the store says who as far as it can.
    monitor.pipeline.ingest({ kind: 'mqtt-publish', ts: T0 + 3 * MINUTE, client: { clientId: 'rogue', username: null, address: '10.9.9.9' }, topic: 'ward/prog-01/command', payload: Buffer.from(JSON.stringify({ id: 'x1', ts: new Date(T0).toISOString(), issuer: 'rogue', user: 'x', command: 'end_session', params: {} })), retain: false, qos: 0 });
    expect(history.snapshot('prog-01')?.markers.at(-1)?.sender).toBe('client "rogue"');
  });

  it('keeps at most markersPerDevice markers, the newest, and counts the ones pushed out', () => {
    const { history, command } = harness();
    command(T0, 'pump-03', 'program_infusion', { drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' });
    const extra = 15;
    for (let index = 1; index < DEVICE_HISTORY_CAPS.markersPerDevice + extra; index += 1) command(T0 + index * 1_000, 'pump-03', 'set_rate', { rate_ml_h: 10 + (index % 5) });
    const snapshot = history.snapshot('pump-03');
    expect(snapshot?.markers.length).toBe(DEVICE_HISTORY_CAPS.markersPerDevice);
    expect(snapshot?.counters.markersEvicted).toBe(extra);
    expect(snapshot?.markers[0]?.ts).toBe(T0 + extra * 1_000);
    expect(snapshot?.markers.at(-1)?.ts).toBe(T0 + (DEVICE_HISTORY_CAPS.markersPerDevice + extra - 1) * 1_000);
    expect(history.totals().markersEvicted).toBe(extra);
  });
});

describe('device history: bounds', () => {
  it('makes room for a new series at seriesPerDevice by dropping the one written longest ago, and counts it', () => {
    const { history, telemetry } = harness();
    // Three charted fields, then a dose series for each of four drugs in turn: seven series for six places.
    const drugs = ['heparin', 'insulin', 'morphine', 'propofol'];
    drugs.forEach((drug, index) => telemetry(T0 + index * MINUTE, 'pump-01', { ...HEPARIN, drug, rate_ml_h: 5, infused_ml: 1 }));
    const snapshot = history.snapshot('pump-01');
    expect(snapshot?.counters.seriesEvicted).toBe(1);
    expect([...(snapshot?.series.keys() ?? [])].sort()).toEqual(['battery_pct', 'dose:ICU/insulin', 'dose:ICU/morphine', 'dose:ICU/propofol', 'infused_ml', 'rate_ml_h']);
  });

  it('lets a series go once nothing of it is left in the window (expiry, not eviction)', () => {
    const { history, telemetry } = harness();
    telemetry(T0, 'pump-01', { ...HEPARIN, rate_ml_h: 5 });
    telemetry(T0 + 25 * HOUR, 'pump-01', { ...HEPARIN, drug: 'insulin', rate_ml_h: 5 });
    const snapshot = history.snapshot('pump-01');
    expect(snapshot?.series.has('dose:ICU/heparin')).toBe(false);
    expect(snapshot?.series.has('dose:ICU/insulin')).toBe(true);
    expect(snapshot?.counters.seriesEvicted).toBe(0);
  });

  it('keeps telemetry forged by another account out of the device\'s history', () => {
    const { history, telemetry } = harness();
    telemetry(T0, 'pump-01', { ...HEPARIN, rate_ml_h: 14.4 });
    telemetry(T0 + MINUTE, 'pump-01', { ...HEPARIN, rate_ml_h: 2 }, 'pump-02');
    expect(history.snapshot('pump-01')?.series.get('rate_ml_h')?.last).toEqual([14.4]);
  });

  it('counts a value a 32-bit float cannot hold instead of storing Infinity', () => {
    const counters: BucketCounters = { late: 0, seriesEvicted: 0, unrepresentable: 0 };
    const buckets = new HistoryBuckets({ bucketMs: MINUTE, buckets: 10, maxSeries: 2 }, counters);
    buckets.record('x', T0, 1e39);
    buckets.record('x', T0, 2);
    expect(counters.unrepresentable).toBe(1);
    expect(buckets.read('x')?.last).toEqual([2]);
  });

  it('stays under 6 MB of series for the 54 devices of config/large-ward.yaml with every series full for a day', () => {
    const result = parseSiteConfig(readFileSync(new URL('../../config/large-ward.yaml', import.meta.url), 'utf8'));
    if (!result.ok) throw new Error('config/large-ward.yaml is invalid');
    const config = result.config;
    expect(config.devices.length).toBe(54);
    const counters: BucketCounters = { late: 0, seriesEvicted: 0, unrepresentable: 0 };
    let bytes = 0;
    for (let device = 0; device < config.devices.length; device += 1) {
      const buckets = new HistoryBuckets({ bucketMs: DEVICE_HISTORY_CAPS.bucketMs, buckets: DEVICE_HISTORY_CAPS.buckets, maxSeries: DEVICE_HISTORY_CAPS.seriesPerDevice }, counters);
      // More series than the cap, every minute of 26 hours.
      for (let minute = 0; minute < 26 * 60; minute += 1) {
        for (let series = 0; series < DEVICE_HISTORY_CAPS.seriesPerDevice + 2; series += 1) buckets.record(`s${series}`, T0 + minute * MINUTE, minute);
      }
      expect(buckets.seriesCount).toBe(DEVICE_HISTORY_CAPS.seriesPerDevice);
      bytes += buckets.bytes;
    }
    expect(bytes).toBe(54 * DEVICE_HISTORY_CAPS.seriesPerDevice * DEVICE_HISTORY_CAPS.buckets * 12);
    expect(bytes).toBeLessThan(6 * 1024 * 1024);
  });
});
