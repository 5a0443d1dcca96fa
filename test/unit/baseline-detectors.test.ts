import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { AlertView } from '../../agent/src/server/dashboard-protocol.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import { acceptDeviation } from '../../agent/src/detect/baseline/baseline-accept.ts';
import { exportBaselineYaml } from '../../agent/src/detect/baseline/baseline-export.ts';
import type { BaselineAcceptance } from '../../agent/src/detect/baseline/baseline-finding.ts';
import { applyBaselineImport, parseBaselineImport } from '../../agent/src/detect/baseline/baseline-import.ts';
import { BaselineModel, type BaselineJson } from '../../agent/src/detect/baseline/baseline-model.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { MonitorHarness } from '../helpers/monitor-harness.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** The demo site with a 2-hour learning period, and the EP clinic allowed to pause pumps (a float nurse's workstation). */
function learningConfig(mode: SiteConfig['baseline']['mode'] = 'monitor'): SiteConfig {
  const demo = loadDemoConfig();
  return {
    ...demo,
    baseline: { ...demo.baseline, mode, learningHours: 2 },
    policy: { rules: [...demo.policy.rules, { id: 'ep-may-pause', accounts: ['ep-clinic'], devices: { profile: 'infusion-pump' }, commands: ['pause'] }] },
  };
}

/**
 * Three hours of an ICU morning: heparin on pumps 1–3 titrated between 10 and 11 mL/h
 * (12.5–13.75 units/kg/h for 80 kg), boluses, and the EP clinic programming between
 * 08:00 and 11:00. Starts 08:00 UTC.
 */
function learnMorning(harness: MonitorHarness): void {
  for (const pump of ['pump-01', 'pump-02', 'pump-03']) {
    harness.programHeparin(pump, 10);
    harness.command('station-4w', pump, 'start');
  }
  for (let step = 0; step < 9; step++) {
    harness.advance(20 * MINUTE);
    for (const pump of ['pump-01', 'pump-02', 'pump-03']) {
      harness.command('station-4w', pump, 'set_rate', { rate_ml_h: step % 2 === 0 ? 11 : 10 });
      if (step % 3 === 0) harness.command('station-4w', pump, 'bolus', { volume_ml: 5 });
      if (step % 3 === 0) harness.command('station-4w', pump, 'set_rate', { rate_ml_h: 10.5 });
    }
    for (const programmer of ['prog-01', 'prog-02']) {
      harness.command('ep-clinic', programmer, 'start_session', { implant_serial: 'PJN100200' });
      harness.command('ep-clinic', programmer, 'program', { mode: 'DDD', lower_rate_ppm: 60, upper_rate_ppm: 120, amplitude_v: 3.5, pulse_width_ms: 0.4, tachy_therapy: true });
      harness.command('ep-clinic', programmer, 'end_session');
    }
  }
  harness.advance(10 * MINUTE);
}

function learned(mode: SiteConfig['baseline']['mode'] = 'monitor'): MonitorHarness {
  const harness = new MonitorHarness(learningConfig(mode));
  learnMorning(harness);
  harness.sink.raised.length = 0;
  return harness;
}

function last(harness: MonitorHarness): AlertView | undefined {
  return harness.sink.raised[harness.sink.raised.length - 1];
}

describe('learned value envelopes', () => {
  it('learn mode learns and never alerts', () => {
    const harness = learned('learn');
    harness.command('station-4w', 'pump-01', 'set_rate', { rate_ml_h: 17.6 });
    expect(harness.raised()).toEqual([]);
    expect(harness.monitor.baseline.devices.get('pump-01')?.values.envelopes.get('heparin/dose')?.samples).toBeGreaterThan(10);
  });

  it('learns a soft-limit override but not a dose that raised a critical alert, so an attack cannot widen the envelope', () => {
    const harness = learned('learn');
    const envelope = () => harness.monitor.baseline.devices.get('pump-01')?.values.envelopes.get('heparin/dose')?.bounds()?.high;
    // 36 mL/h of 100 units/mL for 80 kg is 45 units/kg/h: above the ICU hard maximum of 40.
    harness.command('station-4w', 'pump-01', 'set_rate', { rate_ml_h: 36 });
    expect(harness.raised()).toContainEqual(['dose-above-hard-limit', 'critical']);
    expect(envelope()).toBe(13.75);
    // 21.6 mL/h is 27 units/kg/h: above the soft maximum of 25, a clinician's override, learned.
    harness.command('station-4w', 'pump-01', 'set_rate', { rate_ml_h: 21.6 });
    expect(harness.raised()).toContainEqual(['dose-above-soft-limit', 'warning']);
    expect(envelope()).toBe(27);
  });

  it('a dose inside the soft limit but outside what the pump ran is a warning that gives both figures', () => {
    const harness = learned();
    harness.command('station-4w', 'pump-01', 'set_rate', { rate_ml_h: 10.8 });
    expect(harness.raised()).toEqual([]);
    harness.command('station-4w', 'pump-01', 'set_rate', { rate_ml_h: 17.6 });
    expect(harness.raised()).toEqual([['baseline-value-unusual', 'warning']]);
    const alert = last(harness);
    // 17.6 mL/h of 100 units/mL for 80 kg is 22 units/kg/h; the pump learned 12.5–13.75.
    expect(alert?.title).toBe('Bed 1 · pump-01: heparin dose 22 units/kg/h (sent by station-4w); in 3 hours of learning this device received 12.5–13.8 units/kg/h');
    expect(alert?.evidence.baseline).toMatchObject({ level: 'device', key: 'heparin/dose', low: 12.5, high: 13.75, accept: { table: 'value', key: 'heparin/dose' } });
    // The same deviation is on the screen already: the next titration does not repeat it, nor is it learned.
    harness.command('station-4w', 'pump-01', 'set_rate', { rate_ml_h: 17.2 });
    expect(harness.raised()).toHaveLength(1);
    expect(harness.monitor.baseline.devices.get('pump-01')?.values.envelopes.get('heparin/dose')?.bounds()?.high).toBe(13.75);
  });

  it('a high-alert drug far outside its envelope is high: a normal dose per kg behind a 300 kg weight', () => {
    const harness = learned();
    harness.command('station-4w', 'pump-02', 'stop');
    harness.command('station-4w', 'pump-02', 'program_infusion', { drug: 'heparin', rate_ml_h: 75, vtbi_ml: 250, weight_kg: 300, care_area: 'ICU' });
    const types = harness.raised();
    expect(types).toContainEqual(['baseline-value-far', 'high']);
    expect(types.filter(([, severity]) => severity === 'critical')).toEqual([]);
    expect(harness.sink.raised.find((alert) => alert.type === 'baseline-value-far')?.title).toMatch(/heparin rate 75 mL\/h .*devices of this kind in ICU received 10–11 mL\/h/);
  });

  it('a programmer parameter outside what the programmer sent is unusual, in its own unit', () => {
    const harness = learned();
    harness.command('ep-clinic', 'prog-01', 'start_session', { implant_serial: 'PJN100200' });
    harness.command('ep-clinic', 'prog-01', 'program', { mode: 'DDD', lower_rate_ppm: 120, upper_rate_ppm: 120, amplitude_v: 3.5, pulse_width_ms: 0.4, tachy_therapy: true });
    expect(harness.raised()).toEqual([['baseline-value-unusual', 'warning']]);
    expect(last(harness)?.title).toBe('EP clinic room 1 · prog-01: lower_rate_ppm 120 ppm (sent by ep-clinic); in 3 hours of learning this device received 60 ppm');
  });

  it('nothing is judged before the learning period is over', () => {
    const harness = new MonitorHarness(learningConfig());
    harness.programHeparin('pump-01', 10);
    harness.advance(30 * MINUTE);
    harness.command('station-4w', 'pump-01', 'set_rate', { rate_ml_h: 17.6 });
    expect(harness.raised()).toEqual([]);
  });
});

describe('who, when and in which order', () => {
  it('a commander the policy allows but that never commanded this pump is a warning; a spare without history is judged by its kind', () => {
    const harness = learned();
    harness.command('ep-clinic', 'pump-01', 'pause');
    expect(harness.raised()).toEqual([['baseline-new-commander', 'warning']]);
    expect(last(harness)?.title).toMatch(/^Bed 1 · pump-01: pause from ep-clinic, which never commanded this device in 3 hours of learning \(known: station-4w\)$/);
    harness.command('ep-clinic', 'pump-01', 'start');
    expect(harness.raised().filter(([type]) => type === 'baseline-new-commander')).toHaveLength(1);
    // pump-06 was never commanded: the station commands pumps, so taking it into use is normal.
    harness.programHeparin('pump-06', 10);
    expect(harness.raised().filter(([type]) => type === 'baseline-new-commander')).toHaveLength(1);
  });

  it('a known account commanding from an address it never used is a new commander', () => {
    const harness = learned();
    harness.rawCommand('station-4w', 'pump-02', { id: 'from-laptop', ts: new Date(harness.now).toISOString(), command: 'set_rate', params: { rate_ml_h: 10.5 } }, { address: '10.66.0.5' });
    expect(harness.raised()).toEqual([['baseline-new-commander', 'warning']]);
    expect(last(harness)?.title).toMatch(/set_rate from station-4w at 10\.66\.0\.5, an address it never commanded from in 3 hours of learning \(known: 10\.4\.0\.20\)/);
  });

  it('a bolus right after stop is a sequence never seen; library pushes stay out of sequences', () => {
    const harness = learned();
    harness.command('station-4w', 'pump-01', 'stop');
    expect(harness.raised()).toEqual([]);
    harness.command('station-4w', 'pump-01', 'bolus', { volume_ml: 5 });
    expect(harness.raised()).toContainEqual(['baseline-unusual-sequence', 'warning']);
    expect(harness.sink.raised.find((alert) => alert.type === 'baseline-unusual-sequence')?.title).toMatch(/bolus right after stop, never seen/);
  });

  it('a programmer session at 03:00 in a clinic that programs from 08:00 to 11:00 is an unusual hour', () => {
    const harness = learned();
    harness.now = Date.parse('2026-11-29T03:05:00Z');
    harness.command('ep-clinic', 'prog-01', 'start_session', { implant_serial: 'PJN100200' });
    expect(harness.raised()).toEqual([['baseline-unusual-hour', 'warning']]);
    expect(last(harness)?.title).toMatch(/start_session at 03:00–03:59 \(UTC\); in 19 hours of learning pacemaker programmers were never commanded 14:00–05:59/);
    harness.now = Date.parse('2026-11-29T10:30:00Z');
    harness.command('ep-clinic', 'prog-01', 'start_session', { implant_serial: 'PJN100200' });
    expect(harness.raised().filter(([type]) => type === 'baseline-unusual-hour')).toHaveLength(1);
  });

  it('a push from an account with the pharmacy role that never pushed is high', () => {
    const harness = learned();
    harness.command('pharmacy-backup', 'pump-03', 'load_drug_library', { version: '4W-x', sha256: 'b'.repeat(64) });
    expect(harness.raised()).toEqual([['baseline-unknown-pusher', 'high']]);
  });
});

describe('behaviour the limits cannot see', () => {
  it('four small rate rises within an hour, together 1.5 times, are a creep; hourly titrations are not', () => {
    const harness = learned();
    for (const rate of [10.5, 10, 10.6]) {
      harness.advance(2 * HOUR);
      harness.command('station-4w', 'pump-03', 'set_rate', { rate_ml_h: rate });
    }
    const creeps = (): [string, string][] => harness.raised().filter(([type]) => type === 'baseline-rate-creep');
    expect(creeps()).toEqual([]);
    for (const rate of [11, 12.2, 13.5, 15]) {
      harness.advance(5 * MINUTE);
      harness.command('station-4w', 'pump-03', 'set_rate', { rate_ml_h: rate });
    }
    expect(creeps()).toEqual([['baseline-rate-creep', 'warning']]);
    expect(harness.sink.raised.find((alert) => alert.type === 'baseline-rate-creep')?.title).toMatch(/heparin rate walked up from 10 to 15 mL\/h in 5 small steps within 20 min/);
  });

  it('a pump that infuses twice what it reports is high; one that infuses what it reports is quiet', () => {
    const harness = learned();
    for (const [pump, factor] of [['pump-01', 1], ['pump-02', 2]] as const) {
      let infused = 20;
      for (let tick = 0; tick < 240; tick++) {
        harness.telemetry(pump, { state: 'running', drug: 'heparin', care_area: 'ICU', weight_kg: 80, rate_ml_h: 10, infused_ml: Math.round(infused * 100) / 100, vtbi_ml: 250 });
        harness.advance(5_000);
        infused += factor * 10 * (5 / 3600);
      }
      harness.advance(-240 * 5_000);
    }
    const mismatches = harness.sink.raised.filter((alert) => alert.type === 'delivery-mismatch');
    expect(mismatches.map((alert) => [alert.deviceId, alert.severity])).toEqual([['pump-02', 'high']]);
    expect(mismatches[0]?.title).toMatch(/pump reports 10 mL\/h but infused 3.3\d? mL in 10 min, where 1.6\d? mL were expected \(2× the programmed rate\)/);
  });

  it('a library version that appears with no allowed push before it is high; a sanctioned push is quiet', () => {
    const harness = learned();
    harness.telemetry('pump-04', { state: 'idle', library_version: '4W-2026.11-demo' });
    harness.command('pharmacy', 'pump-04', 'load_drug_library', { version: '4W-2026.12', sha256: 'c'.repeat(64) });
    harness.advance(MINUTE);
    harness.telemetry('pump-04', { state: 'idle', library_version: '4W-2026.12' });
    harness.telemetry('pump-05', { state: 'idle', library_version: '4W-2026.11-demo' });
    harness.advance(MINUTE);
    harness.telemetry('pump-05', { state: 'idle', library_version: '4W-2026.12-usb' });
    const changes = harness.sink.raised.filter((alert) => alert.type === 'baseline-version-change');
    expect(changes.map((alert) => alert.deviceId)).toEqual(['pump-05']);
    expect(changes[0]?.title).toBe('Bed 5 · pump-05: drug library changed from 4W-2026.11-demo to 4W-2026.12-usb, but no push of it was seen');
  });
});

describe('the baseline as a file', () => {
  it('survives a JSON round trip (a restart) with the same export', () => {
    const harness = learned();
    const site = 'Demo, 4W';
    const saved = JSON.parse(JSON.stringify(harness.monitor.baseline.toJSON(), (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value))) as BaselineJson;
    const restored = new BaselineModel(harness.config.baseline);
    restored.load(saved, () => true);
    expect(exportBaselineYaml(restored, site)).toBe(exportBaselineYaml(harness.monitor.baseline, site));
  });

  it('export → edit → import: the edited bound is what the agent judges by, and exports again as edited', () => {
    const harness = learned();
    harness.command('station-4w', 'pump-01', 'set_rate', { rate_ml_h: 17.6 });
    expect(harness.raised()).toEqual([['baseline-value-unusual', 'warning']]);
    const yaml = exportBaselineYaml(harness.monitor.baseline, 'Demo, 4W');
    const document = parse(yaml) as { devices: Record<string, { values: { envelopes: Record<string, { high: number }> } }> };
    const envelope = document.devices['pump-01']?.values.envelopes['heparin/dose'];
    expect(envelope?.high).toBe(13.75);
    if (envelope !== undefined) envelope.high = 22.5;
    const inventory = new Map(harness.config.devices.map((device) => [device.id, device.profile]));
    const parsed = parseBaselineImport(JSON.stringify(document), inventory);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    // Into a fresh model, as `baseline import` does on the saved file of a stopped agent.
    const fresh = new MonitorHarness(learningConfig());
    learnMorning(fresh);
    fresh.sink.raised.length = 0;
    applyBaselineImport(fresh.monitor.baseline, parsed.document, inventory, fresh.now);
    fresh.command('station-4w', 'pump-01', 'set_rate', { rate_ml_h: 17.6 });
    expect(fresh.raised()).toEqual([]);
    const again = parse(exportBaselineYaml(fresh.monitor.baseline, 'Demo, 4W')) as typeof document;
    expect(again.devices['pump-01']?.values.envelopes['heparin/dose']?.high).toBe(22.5);
  });

  it('a bad import lists every problem by path and applies nothing', () => {
    const inventory = new Map(loadDemoConfig().devices.map((device) => [device.id, device.profile]));
    const result = parseBaselineImport(
      `format: wardwatch-baseline-export/1
devices:
  pump-01:
    hours: [25]
    values: { envelopes: { heparin/dose: { low: 20, high: 10 } } }
  pump-99: {}
`,
      inventory,
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((issue) => issue.path).sort()).toEqual(['devices.pump-01.hours[0]', 'devices.pump-01.values.envelopes.heparin/dose']);
    const unknown = parseBaselineImport('format: wardwatch-baseline-export/1\ndevices:\n  pump-99: {}\n', inventory);
    expect(unknown.ok ? [] : unknown.issues).toEqual([{ path: 'devices.pump-99', message: 'is not a device of the site config' }]);
  });

  it('accepting an alert makes the same thing normal', () => {
    const harness = learned();
    harness.command('ep-clinic', 'pump-01', 'pause');
    const alert = last(harness);
    const acceptance = (alert?.evidence.baseline as { accept: BaselineAcceptance }).accept;
    acceptDeviation(harness.monitor.baseline, acceptance, 'infusion-pump', harness.now);
    harness.advance(25 * HOUR);
    harness.command('ep-clinic', 'pump-01', 'pause');
    expect(harness.raised()).toEqual([['baseline-new-commander', 'warning']]);
  });
});
