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
// Commands 100 ms apart with distinct ids and timestamps that match event time, as a
// busy honest station sends them: no flood, no replay, no stale command, so the path
// measured is the one that raises nothing. More than a bench run uses.
const COMMAND_STEP_MS = 100;
const commandBase = ward.now + 1_000;
const commands = Array.from({ length: 200_000 }, (_, i) =>
  Buffer.from(JSON.stringify({ id: `b-${i}`, ts: new Date(commandBase + i * COMMAND_STEP_MS).toISOString(), issuer: 'station-4w', user: 'rn-1', command: 'set_rate', params: { rate_ml_h: 15.2 } })),
);
let nextCommand = 0;
const pipeline = ward.monitor.pipeline;
let ts = ward.now;
let commandTs = commandBase;

describe('pipeline hot path (one publish)', () => {
  bench('baseline: JSON.parse of the telemetry payload', () => {
    JSON.parse(telemetry.toString('utf8'));
  });

  bench('telemetry publish → event → detectors → device state', () => {
    // 100 ms apart: a busy but not flooding sender, so the path measured is the no-alert one.
    ts += 100;
    pipeline.ingest({ kind: 'mqtt-publish', ts, client: pumpClient, topic: 'ward/pump-01/telemetry', payload: telemetry, retain: false, qos: 0 });
  });

  bench('in-range set_rate command → drug library, policy, limits, replay, staleness', () => {
    const payload = commands[nextCommand] ?? commands[0];
    nextCommand = (nextCommand + 1) % commands.length;
    commandTs += COMMAND_STEP_MS;
    pipeline.ingest({ kind: 'mqtt-publish', ts: commandTs, client: stationClient, topic: 'ward/pump-01/command', payload: payload as Buffer, retain: false, qos: 1 });
  });
});
