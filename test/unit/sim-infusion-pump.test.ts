import { describe, expect, it } from 'vitest';
import { infusionPumpProfile } from '../../agent/src/model/profiles/infusion-pump.ts';
import type { AckMessage, ParamValue } from '../../agent/src/model/wire.ts';
import { VirtualClock } from '../../simulators/src/clock.ts';
import { InfusionPumpSim } from '../../simulators/src/devices/infusion-pump-sim.ts';
import type { InfusionPumpSimOptions } from '../../simulators/src/devices/infusion-pump-sim.ts';
import { deviceLinkIdentity } from '../../simulators/src/devices/simulated-device.ts';
import { Random } from '../../simulators/src/random.ts';
import { MemoryBus } from '../../simulators/src/transports/memory-bus.ts';
import type { MemoryLink } from '../../simulators/src/transports/memory-bus.ts';

const START = Date.UTC(2026, 0, 12, 7, 0, 0);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

type Telemetry = Record<string, ParamValue>;

/** A pump on a MemoryBus with a test station that sends commands and records what comes back. */
function pumpHarness(options: Partial<InfusionPumpSimOptions> = {}, recordTelemetry = true) {
  const clock = new VirtualClock(START);
  const bus = new MemoryBus();
  const deviceLink = bus.connect(deviceLinkIdentity('pump-01', 'pump-01', 'pw'));
  const pump = new InfusionPumpSim({
    deviceId: 'pump-01',
    link: deviceLink,
    clock,
    random: new Random(1),
    libraryVersion: 'lib-1',
    occlusionMeanRunningHours: Number.POSITIVE_INFINITY,
    ...options,
  });
  pump.start();
  const station: MemoryLink = bus.connect({ clientId: 'station', username: 'station-4w', password: 'pw' });
  const acks: AckMessage[] = [];
  const telemetry: Array<Telemetry & { ts: string }> = [];
  station.subscribe('ward/pump-01/ack', (_topic, payload) => acks.push(JSON.parse(payload.toString()) as AckMessage));
  if (recordTelemetry) station.subscribe('ward/pump-01/telemetry', (_topic, payload) => telemetry.push(JSON.parse(payload.toString()) as Telemetry & { ts: string }));
  let sequence = 0;
  const send = (command: string, params: Record<string, ParamValue> = {}): AckMessage => {
    const id = `cmd-${++sequence}`;
    station.publish('ward/pump-01/command', JSON.stringify({ id, ts: new Date(clock.now()).toISOString(), issuer: 'station-4w', user: 'rn-4w-01', command, params }), { qos: 1 });
    const ack = acks.find((candidate) => candidate.id === id);
    if (ack === undefined) throw new Error(`no ack for ${command}`);
    return ack;
  };
  const program = (rate: number, vtbi: number): AckMessage =>
    send('program_infusion', { drug: 'heparin', rate_ml_h: rate, vtbi_ml: vtbi, weight_kg: 80, care_area: 'ICU' });
  const latest = (): Telemetry => {
    const last = telemetry[telemetry.length - 1];
    if (last === undefined) throw new Error('no telemetry yet');
    return last;
  };
  return { clock, bus, pump, station, deviceLink, acks, telemetry, send, program, latest };
}

describe('InfusionPumpSim commands', () => {
  it('programs, starts, pauses and stops as commanded, acking each command and reporting the new state at once', () => {
    const h = pumpHarness();
    expect(h.program(14.4, 250)).toMatchObject({ id: 'cmd-1', ok: true });
    expect(h.latest()).toMatchObject({ state: 'paused', drug: 'heparin', care_area: 'ICU', weight_kg: 80, rate_ml_h: 14.4, vtbi_ml: 250, infused_ml: 0, alarm: '' });
    expect(h.send('start').ok).toBe(true);
    expect(h.latest().state).toBe('running');
    expect(h.send('set_rate', { rate_ml_h: 16 }).ok).toBe(true);
    expect(h.latest().rate_ml_h).toBe(16);
    expect(h.send('pause').ok).toBe(true);
    expect(h.latest().state).toBe('paused');
    expect(h.send('stop').ok).toBe(true);
    expect(h.latest()).toMatchObject({ state: 'idle', drug: '', rate_ml_h: 0, vtbi_ml: 0, infused_ml: 0 });
    expect(h.acks.map((ack) => ack.ok)).toEqual([true, true, true, true, true]);
    expect(h.acks.every((ack) => ack.ts === new Date(START).toISOString())).toBe(true);
  });

  it('refuses a rate above the device limit of 999 mL/h and keeps the infusion as it was', () => {
    const h = pumpHarness();
    const tooFast = h.program(1_200, 250);
    expect(tooFast.ok).toBe(false);
    expect(tooFast.error).toMatch(/rate_ml_h 1200 mL\/h is outside the device limits 0\.1–999/);
    expect(h.pump.snapshot().state).toBe('idle');
    h.program(14.4, 250);
    h.send('start');
    const titration = h.send('set_rate', { rate_ml_h: 999.1 });
    expect(titration.ok).toBe(false);
    expect(h.pump.snapshot().rateMlH).toBe(14.4);
    // The limit itself is accepted: the device enforces its envelope, not the drug library.
    expect(h.send('set_rate', { rate_ml_h: 999 }).ok).toBe(true);
  });

  it('refuses set_rate, bolus and start when no infusion is programmed', () => {
    const h = pumpHarness();
    for (const [command, params] of [['set_rate', { rate_ml_h: 10 }], ['bolus', { volume_ml: 5 }], ['start', {}]] as const) {
      const ack = h.send(command, params);
      expect(ack.ok, command).toBe(false);
      expect(ack.error).toBe('no infusion programmed');
    }
  });

  it('gives a bolus only while running and never more than is left to infuse', () => {
    const h = pumpHarness();
    h.program(10, 50);
    expect(h.send('bolus', { volume_ml: 5 })).toMatchObject({ ok: false, error: 'a bolus needs a running infusion' });
    h.send('start');
    expect(h.send('bolus', { volume_ml: 20 }).ok).toBe(true);
    expect(h.latest().infused_ml).toBe(20);
    const tooMuch = h.send('bolus', { volume_ml: 31 });
    expect(tooMuch.ok).toBe(false);
    expect(tooMuch.error).toMatch(/exceeds the 30 mL left/);
  });

  it('refuses to reprogram a running infusion', () => {
    const h = pumpHarness();
    h.program(10, 100);
    h.send('start');
    expect(h.program(20, 100)).toMatchObject({ ok: false, error: 'cannot program a running infusion; pause or stop it first' });
  });

  it('acks a malformed command that has an id with the anomaly, and ignores one it cannot answer', () => {
    const h = pumpHarness();
    h.station.publish('ward/pump-01/command', JSON.stringify({ id: 'bad-1', ts: 'x', issuer: 'a', user: 'b', command: 'set_rate', params: { rate_ml_h: 'fast' } }));
    h.station.publish('ward/pump-01/command', JSON.stringify({ id: 'bad-2', ts: 'x', issuer: 'a', user: 'b', command: 'self_destruct' }));
    h.station.publish('ward/pump-01/command', '{not json');
    expect(h.acks).toEqual([
      { id: 'bad-1', ts: new Date(START).toISOString(), ok: false, error: 'payload-schema: params.rate_ml_h must be a finite number (mL/h)' },
      { id: 'bad-2', ts: new Date(START).toISOString(), ok: false, error: 'unknown-command: infusion-pump has no command "self_destruct"' },
    ]);
  });
});

describe('InfusionPumpSim delivery', () => {
  it('infuses rate × time while running, nothing while paused, and follows rate changes', () => {
    const h = pumpHarness();
    h.program(120, 1_000);
    h.send('start');
    h.clock.advanceBy(90 * MINUTE);
    expect(h.pump.snapshot().infusedMl).toBeCloseTo(180, 6);
    h.send('pause');
    h.clock.advanceBy(30 * MINUTE);
    expect(h.pump.snapshot().infusedMl).toBeCloseTo(180, 6);
    h.send('start');
    h.send('set_rate', { rate_ml_h: 30 });
    h.clock.advanceBy(2 * HOUR);
    expect(h.pump.snapshot().infusedMl).toBeCloseTo(240, 6);
    // The periodic telemetry says the same, to the 0.01 mL it reports.
    const at240 = h.clock.now();
    h.clock.advanceBy(5_000);
    const last = h.latest();
    expect(Date.parse(String(last.ts))).toBeGreaterThan(at240);
    expect(last.infused_ml).toBeCloseTo(240 + 30 * ((Date.parse(String(last.ts)) - at240) / HOUR), 2);
  });

  it('completes exactly when the volume to be infused is reached, raising the complete alarm at once', () => {
    const h = pumpHarness();
    h.program(100, 50);
    h.send('start');
    h.clock.advanceBy(30 * MINUTE - 1);
    expect(h.pump.snapshot().state).toBe('running');
    h.clock.advanceBy(1);
    expect(h.pump.snapshot()).toMatchObject({ state: 'complete', alarm: 'complete', infusedMl: 50 });
    expect(h.latest()).toMatchObject({ ts: new Date(START + 30 * MINUTE).toISOString(), state: 'complete', alarm: 'complete', infused_ml: 50 });
    h.clock.advanceBy(HOUR);
    expect(h.pump.snapshot().infusedMl).toBe(50);
    expect(h.send('start')).toMatchObject({ ok: false, error: 'infusion complete; program a new infusion' });
    expect(h.program(10, 100).ok).toBe(true);
    expect(h.pump.snapshot()).toMatchObject({ state: 'paused', infusedMl: 0, alarm: '' });
  });

  it('brings completion forward by the bolus volume', () => {
    const h = pumpHarness();
    h.program(60, 100);
    h.send('start');
    h.clock.advanceBy(30 * MINUTE);
    h.send('bolus', { volume_ml: 40 });
    // 30 mL infused + 40 mL bolus leaves 30 mL: 30 more minutes at 60 mL/h.
    h.clock.advanceBy(30 * MINUTE - 1);
    expect(h.pump.snapshot().state).toBe('running');
    h.clock.advanceBy(1);
    expect(h.pump.snapshot().state).toBe('complete');
  });

  it('raises occlusion alarms about once per 8 running hours, halting the infusion until restarted', () => {
    const h = pumpHarness({ occlusionMeanRunningHours: 8, random: new Random(2024) }, false);
    let occlusionReports = 0;
    h.station.subscribe('ward/pump-01/telemetry', (_topic, payload) => {
      if (payload.includes('"alarm":"occlusion"')) occlusionReports++;
    });
    h.program(10, 9_999);
    h.send('start');
    let occlusions = 0;
    let haltedCorrectly = true;
    for (let hour = 0; hour < 800; hour++) {
      h.clock.advanceBy(HOUR);
      const snapshot = h.pump.snapshot();
      if (snapshot.state === 'alarm') {
        expect(snapshot.alarm).toBe('occlusion');
        occlusions++;
        h.clock.advanceBy(HOUR);
        haltedCorrectly &&= h.pump.snapshot().infusedMl === snapshot.infusedMl;
        expect(h.send('start').ok).toBe(true);
        expect(h.pump.snapshot().alarm).toBe('');
      }
    }
    // 800 h at one per 8 running hours (the check loop catches at most one per hour): about 90–100.
    expect(occlusions).toBeGreaterThan(70);
    expect(occlusions).toBeLessThan(130);
    expect(haltedCorrectly).toBe(true);
    // Reported at once and then every 5 s while the alarm lasts (an hour here).
    expect(occlusionReports).toBeGreaterThan(occlusions * 700);
  });
});

describe('InfusionPumpSim telemetry and status', () => {
  it('reports every profile telemetry field every 5 s of sim time, stamped with sim time', () => {
    const h = pumpHarness();
    h.clock.advanceBy(60_000);
    expect(h.telemetry.length).toBe(60_000 / infusionPumpProfile.telemetryIntervalMs);
    const stamps = h.telemetry.map((t) => Date.parse(t.ts));
    for (let i = 1; i < stamps.length; i++) expect((stamps[i] as number) - (stamps[i - 1] as number)).toBe(5_000);
    expect(Object.keys(h.latest()).sort()).toEqual(['ts', ...Object.keys(infusionPumpProfile.telemetry)].sort());
    expect(h.latest()).toMatchObject({ library_version: 'lib-1', state: 'idle' });
  });

  it('drains the battery while running and recharges it while idle, within 0–100 %', () => {
    const h = pumpHarness({ initialBatteryPct: 80 });
    h.program(10, 9_000);
    h.send('start');
    h.clock.advanceBy(10 * HOUR);
    expect(h.pump.snapshot().batteryPct).toBeCloseTo(65, 6);
    h.send('stop');
    h.clock.advanceBy(10 * HOUR);
    expect(h.pump.snapshot().batteryPct).toBe(100);
  });

  it('is online (retained) once connected, offline (retained) after a clean stop, and offline by will when it drops', async () => {
    const h = pumpHarness();
    expect(h.bus.retainedMessage('ward/pump-01/status')?.toString()).toBe('online');
    await h.pump.stop();
    expect(h.bus.retainedMessage('ward/pump-01/status')?.toString()).toBe('offline');
    const count = h.telemetry.length;
    h.clock.advanceBy(HOUR);
    expect(h.telemetry.length).toBe(count);
    expect(h.clock.pendingTimers).toBe(0);

    const other = pumpHarness();
    other.deviceLink.drop();
    expect(other.bus.retainedMessage('ward/pump-01/status')?.toString()).toBe('offline');
  });
});
