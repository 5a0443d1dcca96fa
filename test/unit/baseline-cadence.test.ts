import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acceptDeviation } from '../../agent/src/detect/baseline/baseline-accept.ts';
import { BaselineCadenceDetector, cadenceLearned } from '../../agent/src/detect/baseline/baseline-cadence-detector.ts';
import type { BaselineAcceptance } from '../../agent/src/detect/baseline/baseline-finding.ts';
import { publishedByDevice } from '../../agent/src/detect/baseline/baseline-learner.ts';
import { CADENCE_WINDOW_SLOTS, CadenceWindow } from '../../agent/src/detect/baseline/cadence-window.ts';
import { LogHistogram } from '../../agent/src/detect/baseline/log-histogram.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import type { ParamValue } from '../../agent/src/model/wire.ts';
import type { TelemetryEvent } from '../../agent/src/normalize/events.ts';
import type { AlertView } from '../../agent/src/server/dashboard-protocol.ts';
import { readBaselineFile, writeBaselineFile } from '../../agent/src/store/baseline-file.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { MonitorHarness } from '../helpers/monitor-harness.ts';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
/** The learning period of these tests, and how long the ward is learned before each. */
const LEARNING_HOURS = 2;
const LEARNED_FOR = 2.5 * HOUR;
const PERIOD = 5 * SECOND;
/** An idle pump's report: nothing for the dose, delivery or version detectors to judge. */
const IDLE: Record<string, ParamValue> = { state: 'idle', drug: '', care_area: '', weight_kg: 0, rate_ml_h: 0, infused_ml: 0, vtbi_ml: 0, alarm: '', battery_pct: 90, library_version: '4W-2026.11-demo' };

const PROGRAMMER_IDLE: Record<string, ParamValue> = { session: 'idle', implant_serial: '', mode: 'DDD', lower_rate_ppm: 60, battery_pct: 90, firmware: 'PM-4.2.1' };

function cadenceConfig(mode: SiteConfig['baseline']['mode'] = 'monitor', realertHours = 72): SiteConfig {
  const demo = loadDemoConfig();
  return { ...demo, baseline: { ...demo.baseline, mode, learningHours: LEARNING_HOURS, realertHours } };
}

/** Actions at event times, played in time order (two streams of one device interleave). */
class Timeline {
  private readonly items: { readonly ts: number; readonly order: number; readonly run: (harness: MonitorHarness) => void }[] = [];

  at(ts: number, run: (harness: MonitorHarness) => void): this {
    this.items.push({ ts, order: this.items.length, run });
    return this;
  }

  /** `deviceId` reports every `everyMs` from `from` until before `to`, each time moved by `jitter()` ms. */
  reports(deviceId: string, from: number, to: number, everyMs = PERIOD, jitter: () => number = () => 0): this {
    for (let ts = from; ts < to; ts += everyMs) this.at(ts + jitter(), (harness) => harness.telemetry(deviceId, IDLE));
    return this;
  }

  play(harness: MonitorHarness): void {
    this.items.sort((a, b) => a.ts - b.ts || a.order - b.order);
    for (const item of this.items) {
      harness.now = item.ts;
      item.run(harness);
    }
    this.items.length = 0;
  }
}

/** A ward learned for 2.5 h: the station's first command starts its kind's learning, pumps 1–3 report every 5 s. */
function learnedWard(config = cadenceConfig()): { readonly harness: MonitorHarness; readonly start: number; readonly learned: number } {
  const harness = new MonitorHarness(config);
  const start = harness.now;
  const timeline = new Timeline().at(start, (h) => h.command('station-4w', 'pump-01', 'pause'));
  for (const pump of ['pump-01', 'pump-02', 'pump-03']) timeline.reports(pump, start, start + LEARNED_FOR);
  timeline.play(harness);
  harness.sink.raised.length = 0;
  return { harness, start, learned: start + LEARNED_FOR };
}

function cadenceAlerts(harness: MonitorHarness): AlertView[] {
  return harness.sink.raised.filter((alert) => alert.type === 'baseline-telemetry-cadence');
}

/** A fixed pseudo-random sequence in [0, 1) (a linear congruential generator), so that jitter is the same on every run. */
function sequence(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

describe('learned telemetry cadence', () => {
  it('a second stream at the pump\'s own cadence, sustained, is a warning about 8 minutes in that gives both rates', () => {
    const { harness, learned } = learnedWard();
    const attackFrom = learned + 10 * MINUTE;
    const timeline = new Timeline();
    for (const pump of ['pump-01', 'pump-02', 'pump-03']) timeline.reports(pump, learned, learned + 40 * MINUTE);
    // The second sender uses pump-01's own account, 2.3 s out of phase: every single report is valid.
    timeline.reports('pump-01', attackFrom + 2_300, learned + 40 * MINUTE);
    timeline.play(harness);

    const alerts = cadenceAlerts(harness);
    expect(alerts.map((alert) => [alert.deviceId, alert.severity])).toEqual([['pump-01', 'warning']]);
    const alert = alerts[0] as AlertView;
    const latency = Date.parse(alert.ts) - attackFrom;
    expect(latency).toBeGreaterThanOrEqual(8 * MINUTE);
    expect(latency).toBeLessThanOrEqual(10 * MINUTE);
    expect(alert.title).toBe('Bed 1 · pump-01: telemetry 2 times as fast as learned for 8 min of the last 10 min (24 reports a minute, not counting those after commands); in 3 hours of learning this device reported every 5 s: a second sender using its identity, or changed firmware');
    expect(alert.evidence.baseline).toMatchObject({ level: 'device', key: 'telemetry', learnedSeconds: 5, ratio: 2, fastSlots: 8, slotSeconds: 60, accept: { device: 'pump-01', table: 'cadence', key: 'telemetry', value: 2.5, unit: 's', level: 'device' } });
  });

  it('waits for review: one alert while it lasts, the second stream is not learned, and it alerts again after realertHours', () => {
    const { harness, learned } = learnedWard(cadenceConfig('monitor', 1));
    const intervals = () => harness.monitor.baseline.devices.get('pump-01')?.telemetrySeconds.count;
    const timeline = new Timeline().reports('pump-01', learned, learned + 100 * MINUTE).reports('pump-01', learned + 2_500, learned + 100 * MINUTE);
    timeline.play(harness);
    const first = cadenceAlerts(harness);
    expect(first).toHaveLength(2);
    const [alertedAt, realertedAt] = first.map((alert) => Date.parse(alert.ts));
    // Pending for realertHours (1 h here): repeated only once that is over, the rate still doubled.
    expect((realertedAt ?? 0) - (alertedAt ?? 0)).toBeGreaterThanOrEqual(HOUR);
    expect((realertedAt ?? 0) - (alertedAt ?? 0)).toBeLessThan(HOUR + 2 * MINUTE);
    expect(harness.monitor.baseline.devices.get('pump-01')?.pending.has('cadence|telemetry')).toBe(true);
    // While fast, the device's reports are not learned: its cadence stays what it was.
    const before = intervals();
    new Timeline().reports('pump-01', learned + 100 * MINUTE, learned + 110 * MINUTE).reports('pump-01', learned + 100 * MINUTE + 2_500, learned + 110 * MINUTE).play(harness);
    expect(intervals()).toBe(before);
    expect(harness.monitor.baseline.devices.get('pump-01')?.telemetrySeconds.trimmedMean(0.1, 0.9)).toBeCloseTo(5, 1);
  });

  it('accepting the alert makes the new rate the pump\'s cadence, which survives the baseline file', async () => {
    const { harness, learned } = learnedWard();
    new Timeline().reports('pump-01', learned, learned + 15 * MINUTE).reports('pump-01', learned + 2_500, learned + 15 * MINUTE).play(harness);
    const alert = cadenceAlerts(harness)[0];
    expect(alert).toBeDefined();
    const acceptance = (alert?.evidence.baseline as { accept: BaselineAcceptance }).accept;
    acceptDeviation(harness.monitor.baseline, acceptance, 'infusion-pump', harness.now);
    const device = harness.monitor.baseline.devices.get('pump-01');
    expect(device?.pending.has('cadence|telemetry')).toBe(false);
    expect(device?.telemetrySeconds.quantile(0.5)).toBeCloseTo(2.5, 1);
    expect(cadenceLearned(device?.telemetrySeconds ?? new LogHistogram(), harness.config.baseline)).toBe(true);

    // As `baseline accept` leaves it: in baseline.json, read back by a restarted agent.
    const dir = await mkdtemp(join(tmpdir(), 'wardwatch-cadence-'));
    try {
      const file = join(dir, 'baseline.json');
      await writeBaselineFile(file, harness.monitor.baseline.toJSON());
      const read = await readBaselineFile(file);
      if (!read.ok) throw new Error(read.problem);
      const restarted = new MonitorHarness(harness.config);
      restarted.monitor.baseline.load(read.baseline, () => true);
      restarted.now = harness.now + MINUTE;
      const from = restarted.now;
      const timeline = new Timeline().reports('pump-01', from, from + 30 * MINUTE).reports('pump-01', from + 2_500, from + 30 * MINUTE);
      for (const pump of ['pump-02', 'pump-03']) timeline.reports(pump, from, from + 30 * MINUTE);
      timeline.play(restarted);
      expect(cadenceAlerts(restarted)).toEqual([]);
      // The other pumps kept their own cadence: a second stream on one of them is still seen.
      new Timeline().reports('pump-02', restarted.now, restarted.now + 15 * MINUTE).reports('pump-02', restarted.now + 2_500, restarted.now + 15 * MINUTE).play(restarted);
      expect(cadenceAlerts(restarted).map((found) => found.deviceId)).toEqual(['pump-02']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('jitter, reports after commands, and one burst after a reconnect are not a faster device', () => {
    const { harness, learned } = learnedWard();
    const end = learned + 60 * MINUTE;
    const random = sequence(7);
    const timeline = new Timeline()
      // pump-01: each report up to 2 s early or late.
      .reports('pump-01', learned, end, PERIOD, () => (random() - 0.5) * 4_000)
      .reports('pump-02', learned, end);
    // pump-02: a busy titration, 10 commands a minute for 15 minutes, each followed by a report (22 a minute in all).
    for (let ts = learned + 5 * MINUTE; ts < learned + 20 * MINUTE; ts += 6 * SECOND) {
      timeline.at(ts + 1_000, (h) => h.command('station-4w', 'pump-02', 'pause'));
      timeline.at(ts + 1_100, (h) => h.telemetry('pump-02', IDLE));
    }
    // pump-03: off the network for 10 minutes, then the 120 reports it queued arrive within a second.
    timeline.reports('pump-03', learned, learned + 20 * MINUTE).at(learned + 20 * MINUTE, (h) => h.status('pump-03', 'offline'));
    timeline.at(learned + 30 * MINUTE, (h) => h.status('pump-03', 'online'));
    for (let queued = 0; queued < 120; queued++) timeline.at(learned + 30 * MINUTE + queued * 5, (h) => h.telemetry('pump-03', IDLE));
    timeline.reports('pump-03', learned + 30 * MINUTE + PERIOD, end);
    timeline.play(harness);
    expect(cadenceAlerts(harness)).toEqual([]);
    // The run was long enough to judge: the same pumps with a second stream do alert.
    new Timeline().reports('pump-03', harness.now, harness.now + 15 * MINUTE).reports('pump-03', harness.now + 2_500, harness.now + 15 * MINUTE).play(harness);
    expect(cadenceAlerts(harness).map((alert) => alert.deviceId)).toEqual(['pump-03']);
  });

  it('nothing is judged while the ward is still learning, nor in learn mode', () => {
    const harness = new MonitorHarness(cadenceConfig());
    const start = harness.now;
    const timeline = new Timeline().at(start, (h) => h.command('station-4w', 'pump-01', 'pause'));
    // Doubled from 30 minutes in to 1 h 45 min in: the learning period is 2 h.
    timeline.reports('pump-01', start, start + 105 * MINUTE).reports('pump-01', start + 30 * MINUTE + 2_500, start + 105 * MINUTE);
    timeline.play(harness);
    expect(cadenceAlerts(harness)).toEqual([]);

    const learning = learnedWard(cadenceConfig('learn'));
    new Timeline().reports('pump-01', learning.learned, learning.learned + 20 * MINUTE).reports('pump-01', learning.learned + 2_500, learning.learned + 20 * MINUTE).play(learning.harness);
    expect(cadenceAlerts(learning.harness)).toEqual([]);
    expect(learning.harness.detector(BaselineCadenceDetector).devicesTracked).toBe(0);
  });

  it('a pump with little history is judged by the fastest cadence learned on its kind; a slower pump is not judged', () => {
    const { harness, learned } = learnedWard();
    const end = learned + 30 * MINUTE;
    const timeline = new Timeline()
      // pump-04 is new, and has a second sender from its very first report.
      .reports('pump-04', learned, end)
      .reports('pump-04', learned + 2_500, end)
      // pump-05 is new too, at the kind's ordinary rate.
      .reports('pump-05', learned, end)
      // pump-02 slows to a report every 12 s (device-silent's business only past 15 s).
      .reports('pump-02', learned, end, 12 * SECOND)
      .reports('pump-01', learned, end)
      .reports('pump-03', learned, end);
    timeline.play(harness);
    const alerts = cadenceAlerts(harness);
    expect(alerts.map((alert) => alert.deviceId)).toEqual(['pump-04']);
    expect(alerts[0]?.evidence.baseline).toMatchObject({ level: 'group', learnedSeconds: 5, fastestDevice: expect.stringMatching(/^pump-0[13]$/) });
    expect(alerts[0]?.title).toMatch(/in 3 hours of learning the fastest infusion pump \(pump-0[13]\) reported every 5 s/);
    expect(harness.raised().filter(([type]) => type === 'device-silent')).toEqual([]);
  });

  it('through the MQTT tap, where no sender is visible, a second stream is still seen', () => {
    const { harness, learned } = learnedWard();
    const timeline = new Timeline().reports('pump-01', learned, learned + 15 * MINUTE);
    for (let ts = learned + 2_500; ts < learned + 15 * MINUTE; ts += PERIOD) timeline.at(ts, (h) => h.tapPublish('ward/pump-01/telemetry', JSON.stringify({ ts: new Date(ts).toISOString(), ...IDLE })));
    timeline.play(harness);
    expect(cadenceAlerts(harness).map((alert) => alert.deviceId)).toEqual(['pump-01']);
    // Telemetry from another account is device-impersonation's: it is not the device's cadence.
    const other = learnedWard();
    const impersonated = new Timeline().reports('pump-01', other.learned, other.learned + 15 * MINUTE);
    for (let ts = other.learned + 2_500; ts < other.learned + 15 * MINUTE; ts += PERIOD) impersonated.at(ts, (h) => h.telemetry('pump-01', IDLE, 'guest'));
    impersonated.play(other.harness);
    expect(cadenceAlerts(other.harness)).toEqual([]);
    expect(other.harness.raised()).toContainEqual(['device-impersonation', 'high']);
  });

  it('keeps one fixed-size window per inventory device that reports', () => {
    const { harness, learned } = learnedWard();
    const detector = harness.detector(BaselineCadenceDetector);
    expect(detector.devicesTracked).toBe(3);
    // Topics of devices that are not in the inventory add nothing.
    for (let index = 0; index < 500; index++) harness.publish(harness.client('pump-01', '10.4.1.10', 'pump-01'), `ward/ghost-${index}/telemetry`, JSON.stringify(IDLE));
    harness.now = learned;
    for (const device of harness.config.devices) harness.telemetry(device.id, device.profile === 'infusion-pump' ? IDLE : PROGRAMMER_IDLE, device.account ?? device.id);
    expect(detector.devicesTracked).toBe(harness.config.devices.length);
  });
});

describe('the cadence window', () => {
  it('counts reports beyond one per command in slots, keeps ten, and closes the slots a silence skipped', () => {
    const window = new CadenceWindow(MINUTE, 0);
    for (let report = 0; report < 30; report++) window.countTelemetry();
    window.countCommand();
    expect(window.advance(30 * SECOND)).toBe(false);
    expect(window.advance(MINUTE)).toBe(true);
    expect(window.recent()).toEqual([29]);
    // Nothing until minute 5: the open slot and the three after it close at once, empty.
    window.advance(5 * MINUTE);
    expect(window.recent()).toEqual([29, 0, 0, 0, 0]);
    expect(window.slotsAbove(20)).toBe(1);
    // A day later: never more than ten slots, whatever happened in between.
    for (let minute = 6; minute < 24 * 60; minute++) {
      for (let report = 0; report < 12; report++) window.countTelemetry();
      window.advance(minute * MINUTE);
    }
    expect(window.slots).toBe(CADENCE_WINDOW_SLOTS);
    expect(window.recent()).toHaveLength(CADENCE_WINDOW_SLOTS);
    window.advance(10 * 24 * 60 * MINUTE);
    expect(window.recent()).toEqual(new Array<number>(CADENCE_WINDOW_SLOTS).fill(0));
  });

  it('learns the period between the 10th and 90th percentiles of the intervals: both tails drop out, two messages per period average out', () => {
    const periodic = new LogHistogram();
    periodic.add(5, 17_000);
    periodic.add(12 * 3_600); // a night switched off
    periodic.add(40);
    periodic.add(0.2, 300); // reports right after commands
    expect(periodic.trimmedMean(0.1, 0.9)).toBeCloseTo(5, 1);
    const twoPerPeriod = new LogHistogram();
    twoPerPeriod.add(0.05, 1_000);
    twoPerPeriod.add(4.95, 1_000);
    // The median is 0.05 or 4.95; the trimmed mean is the true 2.5.
    expect(twoPerPeriod.trimmedMean(0.1, 0.9)).toBeCloseTo(2.5, 1);
    expect(new LogHistogram().trimmedMean(0.1, 0.9)).toBeNaN();
    expect(periodic.trimmedMean(0.5, 0.5)).toBeNaN();
  });

  it('the cadence is the device\'s own MQTT publishes, not a Modbus master\'s reads', () => {
    const inventory = loadDemoConfig().devices[0];
    if (inventory === undefined) throw new Error('no device');
    const base = { kind: 'telemetry', ts: 0, fields: IDLE, device: { config: inventory, profile: { id: 'infusion-pump' } } } as unknown as TelemetryEvent;
    expect(publishedByDevice({ ...base, source: null })).toBe(false);
    expect(publishedByDevice({ ...base, source: { transport: 'mqtt', clientId: 'pump-01', account: inventory.account ?? null, role: 'device', address: '10.4.1.10' } })).toBe(true);
    expect(publishedByDevice({ ...base, source: { transport: 'mqtt-tap', clientId: '(not visible)', account: null, role: null, address: '(not visible)' } })).toBe(true);
    expect(publishedByDevice({ ...base, source: { transport: 'mqtt', clientId: 'x', account: 'guest', role: null, address: '10.66.0.5' } })).toBe(false);
  });
});
