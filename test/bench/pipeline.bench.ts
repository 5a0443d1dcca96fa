import { bench, describe } from 'vitest';
import { MonitorHarness } from '../helpers/monitor-harness.ts';

/**
 * The per-message hot path: a publish through normalizer, detectors and device state.
 * Compared in one run with a bare JSON.parse of the same payload (the floor any
 * JSON-speaking monitor pays), so the ratio holds on a noisy shared machine.
 */
const ward = new MonitorHarness();
ward.programHeparin('pump-01', 14.4);
const pumpClient = ward.client('pump-01', '10.4.1.10', 'pump-01');
const stationClient = ward.client('station-4w');
const telemetry = Buffer.from(JSON.stringify({ ts: '2026-11-28T08:00:00.000Z', state: 'running', drug: 'heparin', care_area: 'ICU', weight_kg: 80, rate_ml_h: 14.4, infused_ml: 12.5, vtbi_ml: 250, alarm: '', battery_pct: 88, library_version: '4W-2026.11-demo' }));
const command = Buffer.from(JSON.stringify({ id: 'b-1', ts: '2026-11-28T08:00:00.000Z', issuer: 'station-4w', user: 'rn-1', command: 'set_rate', params: { rate_ml_h: 15.2 } }));
const pipeline = ward.monitor.pipeline;
let ts = ward.now;

describe('pipeline hot path (one publish)', () => {
  bench('baseline: JSON.parse of the telemetry payload', () => {
    JSON.parse(telemetry.toString('utf8'));
  });

  bench('telemetry publish → event → detectors → device state', () => {
    ts += 5;
    pipeline.ingest({ kind: 'mqtt-publish', ts, client: pumpClient, topic: 'ward/pump-01/telemetry', payload: telemetry, retain: false, qos: 0 });
  });

  bench('in-range set_rate command → drug library, policy, limits', () => {
    ts += 5;
    pipeline.ingest({ kind: 'mqtt-publish', ts, client: stationClient, topic: 'ward/pump-01/command', payload: command, retain: false, qos: 1 });
  });
});
