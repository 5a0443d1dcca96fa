import { bench, describe } from 'vitest';
import { Inventory } from '../../agent/src/normalize/inventory.ts';
import type { TelemetryEvent } from '../../agent/src/normalize/events.ts';
import { DeviceHistoryStore } from '../../agent/src/store/device-history.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';

/**
 * The device history's share of the hot path (agent/src/store/device-history.ts): every
 * telemetry event of a pump goes through `observe` after the detectors. Compared in one run
 * with a bare JSON.parse of the same payload, the floor any JSON-speaking monitor pays
 * per message, so the ratio holds on a noisy shared machine (docs/benchmarks.md).
 */
const config = loadDemoConfig();
const pump = new Inventory(config).device('pump-01');
if (pump === undefined) throw new Error('pump-01 is not in the demo config');
const fields = { state: 'running', drug: 'heparin', care_area: 'ICU', weight_kg: 80, rate_ml_h: 14.4, infused_ml: 12.5, vtbi_ml: 250, alarm: '', battery_pct: 88, library_version: '4W-2026.11-demo' };
const payload = JSON.stringify({ ts: '2026-11-28T08:00:00.000Z', ...fields });
const store = new DeviceHistoryStore(config.drugLibrary, () => null);
let ts = Date.UTC(2026, 10, 28, 8);

describe('device history (one telemetry event)', () => {
  bench('baseline: JSON.parse of the telemetry payload', () => {
    JSON.parse(payload);
  });

  bench('observe: rate, volume, battery and the heparin dose into their minute buckets', () => {
    // 5 s apart, as a pump reports: the axis moves a minute every twelfth event.
    ts += 5_000;
    const event: TelemetryEvent = { kind: 'telemetry', ts, device: pump, fields, source: null };
    store.observe(event);
  });
});
