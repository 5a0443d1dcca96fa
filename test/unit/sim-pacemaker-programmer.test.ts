import { describe, expect, it } from 'vitest';
import { pacemakerProgrammerProfile } from '../../agent/src/model/profiles/pacemaker-programmer.ts';
import type { AckMessage, ParamValue } from '../../agent/src/model/wire.ts';
import { VirtualClock } from '../../simulators/src/clock.ts';
import { PacemakerProgrammerSim } from '../../simulators/src/devices/pacemaker-programmer-sim.ts';
import { deviceLinkIdentity } from '../../simulators/src/devices/simulated-device.ts';
import { Random } from '../../simulators/src/random.ts';
import { MemoryBus } from '../../simulators/src/transports/memory-bus.ts';

const START = Date.UTC(2026, 0, 12, 9, 0, 0);

function programmerHarness() {
  const clock = new VirtualClock(START);
  const bus = new MemoryBus();
  const programmer = new PacemakerProgrammerSim({
    deviceId: 'prog-01',
    link: bus.connect(deviceLinkIdentity('prog-01', 'prog-01', 'pw')),
    clock,
    random: new Random(5),
  });
  programmer.start();
  const clinic = bus.connect({ clientId: 'clinic', username: 'ep-clinic', password: 'pw' });
  const acks: AckMessage[] = [];
  const telemetry: Array<Record<string, ParamValue>> = [];
  clinic.subscribe('ward/prog-01/ack', (_t, payload) => acks.push(JSON.parse(payload.toString()) as AckMessage));
  clinic.subscribe('ward/prog-01/telemetry', (_t, payload) => telemetry.push(JSON.parse(payload.toString()) as Record<string, ParamValue>));
  let sequence = 0;
  const send = (command: string, params: Record<string, ParamValue> = {}): AckMessage => {
    const id = `ep-${++sequence}`;
    clinic.publish('ward/prog-01/command', JSON.stringify({ id, ts: 'x', issuer: 'ep-clinic', user: 'ep-01', command, params }));
    const ack = acks.find((candidate) => candidate.id === id);
    if (ack === undefined) throw new Error(`no ack for ${command}`);
    return ack;
  };
  const settings = (overrides: Record<string, ParamValue> = {}): Record<string, ParamValue> => ({
    mode: 'DDD', lower_rate_ppm: 60, upper_rate_ppm: 120, amplitude_v: 3.5, pulse_width_ms: 0.4, tachy_therapy: true, ...overrides,
  });
  return { clock, bus, programmer, acks, telemetry, send, settings };
}

describe('PacemakerProgrammerSim', () => {
  it('opens a session, programs the implant, closes the session, and keeps showing the last programmed values', () => {
    const h = programmerHarness();
    expect(h.send('start_session', { implant_serial: 'PM-123456' }).ok).toBe(true);
    expect(h.telemetry.at(-1)).toMatchObject({ session: 'open', implant_serial: 'PM-123456' });
    expect(h.send('program', h.settings({ mode: 'VVIR', lower_rate_ppm: 70 })).ok).toBe(true);
    expect(h.telemetry.at(-1)).toMatchObject({ mode: 'VVIR', lower_rate_ppm: 70 });
    expect(h.send('end_session').ok).toBe(true);
    expect(h.telemetry.at(-1)).toMatchObject({ session: 'idle', implant_serial: '', mode: 'VVIR', lower_rate_ppm: 70 });
    expect(h.programmer.snapshot().lastProgrammed).toEqual({
      mode: 'VVIR', lowerRatePpm: 70, upperRatePpm: 120, amplitudeV: 3.5, pulseWidthMs: 0.4, tachyTherapy: true,
    });
  });

  it('refuses to program without a session, and to open a second session', () => {
    const h = programmerHarness();
    expect(h.send('program', h.settings())).toMatchObject({ ok: false, error: 'no session open; start a session with the implant first' });
    expect(h.send('end_session')).toMatchObject({ ok: false, error: 'no session open' });
    h.send('start_session', { implant_serial: 'PM-000001' });
    expect(h.send('start_session', { implant_serial: 'PM-000002' })).toMatchObject({ ok: false, error: 'a session with PM-000001 is already open; end it first' });
  });

  it('refuses values outside the device limits but accepts amplitude 0 V, the profile\'s "output off"', () => {
    const h = programmerHarness();
    h.send('start_session', { implant_serial: 'PM-000003' });
    const tooFast = h.send('program', h.settings({ lower_rate_ppm: 200, upper_rate_ppm: 200 }));
    expect(tooFast.ok).toBe(false);
    expect(tooFast.error).toMatch(/lower_rate_ppm 200 ppm is outside the device limits 30–175 ppm/);
    expect(h.send('program', h.settings({ amplitude_v: 7.5 })).ok).toBe(false);
    // Dangerous but within what the hardware can do: the agent, not the device, flags it.
    expect(h.send('program', h.settings({ amplitude_v: 0, tachy_therapy: false, mode: 'VOO' })).ok).toBe(true);
    expect(h.send('program', h.settings({ mode: 'XYZ' }))).toMatchObject({ ok: false, error: expect.stringMatching(/^payload-schema: params\.mode must be one of/) });
  });

  it('refuses an upper tracking rate below the lower rate', () => {
    const h = programmerHarness();
    h.send('start_session', { implant_serial: 'PM-000004' });
    expect(h.send('program', h.settings({ lower_rate_ppm: 90, upper_rate_ppm: 80 }))).toMatchObject({ ok: false, error: 'upper rate 80 ppm is below the lower rate 90 ppm' });
  });

  it('reports the profile telemetry fields every 5 s', () => {
    const h = programmerHarness();
    h.clock.advanceBy(30_000);
    expect(h.telemetry.length).toBe(30_000 / pacemakerProgrammerProfile.telemetryIntervalMs);
    expect(Object.keys(h.telemetry.at(-1) ?? {}).sort()).toEqual(['ts', ...Object.keys(pacemakerProgrammerProfile.telemetry)].sort());
    expect(h.telemetry.at(-1)).toMatchObject({ session: 'idle', mode: '', lower_rate_ppm: 0, firmware: 'PGM-4.2.1' });
  });
});
