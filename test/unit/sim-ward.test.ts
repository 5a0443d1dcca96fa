import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import { rateToDose, volumeToBolusDose } from '../../agent/src/model/dose.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import type { AckMessage, CommandMessage } from '../../agent/src/model/wire.ts';
import { ROUTINE_PACING_MODES } from '../../simulators/src/actors/ep-clinic.ts';
import { VirtualClock } from '../../simulators/src/clock.ts';
import { SimulatorError } from '../../simulators/src/errors.ts';
import { MemoryBus } from '../../simulators/src/transports/memory-bus.ts';
import { startWard } from '../../simulators/src/ward.ts';
import type { WardOptions } from '../../simulators/src/ward.ts';

const START = Date.UTC(2026, 0, 12, 7, 0, 0);
const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

function loadDemoConfig(): SiteConfig {
  const result = parseSiteConfig(readFileSync(new URL('../../config/demo.yaml', import.meta.url), 'utf8'));
  if (!result.ok) throw new Error(`config/demo.yaml is invalid: ${JSON.stringify(result.issues)}`);
  return result.config;
}

/** A mutable copy of the demo config, for the error cases. */
function editableDemoConfig(): SiteConfig {
  return structuredClone(loadDemoConfig()) as SiteConfig;
}

interface WireRecord {
  readonly at: number;
  readonly username: string;
  readonly deviceId: string;
  readonly channel: string;
  readonly text: string;
  readonly retain: boolean;
}

interface PumpTelemetry {
  readonly state: string;
  readonly alarm: string;
}

/** Runs the demo ward on a MemoryBus for `hours` of sim time and returns everything that crossed the bus. */
async function runWard(hours: number, overrides: Partial<WardOptions> = {}) {
  const config = overrides.config ?? loadDemoConfig();
  const clock = new VirtualClock(START);
  const bus = new MemoryBus();
  const records: WireRecord[] = [];
  bus.onPublish((identity, topic, payload, retain) => {
    const [, deviceId = '', channel = ''] = topic.split('/');
    records.push({ at: clock.now(), username: identity.username, deviceId, channel, text: payload.toString(), retain });
  });
  const ward = await startWard({ config, clock, linkFactory: bus.linkFactory(), seed: 20260112, ...overrides });
  const onlineAtStart = new Map(config.devices.map((device) => [device.id, bus.retainedMessage(`ward/${device.id}/status`)?.toString()]));
  clock.advanceBy(hours * HOUR);
  await ward.stop();
  const offlineAtEnd = new Map(config.devices.map((device) => [device.id, bus.retainedMessage(`ward/${device.id}/status`)?.toString()]));
  const commands = records.filter((r) => r.channel === 'command').map((r) => ({ ...r, message: JSON.parse(r.text) as CommandMessage }));
  const acks = records.filter((r) => r.channel === 'ack').map((r) => ({ ...r, message: JSON.parse(r.text) as AckMessage }));
  const telemetry = records.filter((r) => r.channel === 'telemetry').map((r) => ({ ...r, message: JSON.parse(r.text) as PumpTelemetry & Record<string, unknown> }));
  return { config, clock, bus, ward, records, commands, acks, telemetry, onlineAtStart, offlineAtEnd };
}

type WardRun = Awaited<ReturnType<typeof runWard>>;

/** Moments a pump's telemetry entered a state with an alarm (occlusion or complete). */
function alarmOnsets(run: WardRun, alarm: string): Array<{ deviceId: string; at: number }> {
  const previous = new Map<string, string>();
  const onsets: Array<{ deviceId: string; at: number }> = [];
  for (const record of run.telemetry) {
    const current = String(record.message.alarm ?? '');
    if (current === alarm && previous.get(record.deviceId) !== alarm) onsets.push({ deviceId: record.deviceId, at: record.at });
    previous.set(record.deviceId, current);
  }
  return onsets;
}

function nextCommandTo(run: WardRun, deviceId: string, after: number) {
  return run.commands.find((c) => c.deviceId === deviceId && c.at >= after);
}

describe('a simulated day on ward 4W', () => {
  let day: WardRun;
  beforeAll(async () => {
    day = await runWard(24);
  });

  it('produces every kind of command the ward sends', () => {
    const kinds = new Set(day.commands.map((c) => c.message.command));
    expect([...kinds].sort()).toEqual(['bolus', 'end_session', 'pause', 'program', 'program_infusion', 'set_rate', 'start', 'start_session']);
    const count = (name: string): number => day.commands.filter((c) => c.message.command === name).length;
    // Six pumps titrated every 1–4 h over a day; boluses only for the heparin and morphine beds.
    expect(count('set_rate')).toBeGreaterThan(20);
    expect(count('pause')).toBeGreaterThan(3);
    expect(count('bolus')).toBeGreaterThan(3);
  });

  it('restarts every occlusion alarm 1–5 min after it is raised', () => {
    const occlusions = alarmOnsets(day, 'occlusion').filter((o) => o.at < START + 24 * HOUR - 5 * MINUTE);
    expect(occlusions.length).toBeGreaterThan(3);
    for (const occlusion of occlusions) {
      const restart = nextCommandTo(day, occlusion.deviceId, occlusion.at);
      expect(restart?.message.command).toBe('start');
      expect((restart?.at ?? 0) - occlusion.at).toBeGreaterThanOrEqual(1 * MINUTE);
      expect((restart?.at ?? Infinity) - occlusion.at).toBeLessThanOrEqual(5 * MINUTE);
    }
  });

  it('hangs a new bag 5–30 min after each bag completes, then starts it', () => {
    const completions = alarmOnsets(day, 'complete').filter((c) => c.at < START + 24 * HOUR - 31 * MINUTE);
    expect(completions.length).toBeGreaterThan(0);
    for (const completion of completions) {
      const program = nextCommandTo(day, completion.deviceId, completion.at);
      expect(program?.message.command).toBe('program_infusion');
      expect((program?.at ?? 0) - completion.at).toBeGreaterThanOrEqual(5 * MINUTE);
      expect((program?.at ?? Infinity) - completion.at).toBeLessThanOrEqual(30 * MINUTE);
      expect(nextCommandTo(day, completion.deviceId, (program?.at ?? 0) + 1)?.message.command).toBe('start');
    }
  });

  it('keeps every commanded dose and bolus inside the drug library\'s soft limits, and every rate step under tenfold', () => {
    const programs = new Map<string, { drug: string; careArea: string; weightKg: number; rate: number }>();
    let checkedRates = 0;
    let checkedBoluses = 0;
    for (const { deviceId, message } of day.commands) {
      const params = message.params;
      if (message.command === 'program_infusion') {
        programs.set(deviceId, { drug: String(params.drug), careArea: String(params.care_area), weightKg: Number(params.weight_kg), rate: Number(params.rate_ml_h) });
      }
      const program = programs.get(deviceId);
      if (program === undefined) continue;
      const entry = day.config.drugLibrary.careAreas[program.careArea]?.drugs[program.drug];
      if (entry === undefined) throw new Error(`${deviceId} programmed with ${program.drug}, not in ${program.careArea}`);
      if (message.command === 'program_infusion' || message.command === 'set_rate') {
        const rate = Number(params.rate_ml_h);
        const dose = rateToDose(rate, entry.concentration, entry.doseUnit, program.weightKg);
        expect(dose, `${deviceId} ${message.command} ${rate} mL/h`).toBeGreaterThanOrEqual(entry.soft.min ?? 0);
        expect(dose, `${deviceId} ${message.command} ${rate} mL/h`).toBeLessThanOrEqual(entry.soft.max ?? entry.hard.max ?? 0);
        if (message.command === 'set_rate') {
          expect(Math.max(rate / program.rate, program.rate / rate)).toBeLessThan(10);
          program.rate = rate;
        }
        checkedRates++;
      }
      if (message.command === 'bolus') {
        const bolus = entry.bolus;
        expect(bolus, `${program.drug} has no bolus limits but got a bolus`).toBeDefined();
        if (bolus === undefined) continue;
        const dose = volumeToBolusDose(Number(params.volume_ml), entry.concentration, bolus.unit, program.weightKg);
        expect(dose).toBeGreaterThanOrEqual(bolus.soft.min ?? 0);
        expect(dose).toBeLessThanOrEqual(bolus.soft.max ?? bolus.hard.max ?? 0);
        checkedBoluses++;
      }
    }
    expect(checkedRates).toBeGreaterThan(30);
    expect(checkedBoluses).toBeGreaterThan(3);
  });

  it('gives a bolus only to a running infusion', () => {
    const lastState = new Map<string, string>();
    let index = 0;
    for (const bolus of day.commands.filter((c) => c.message.command === 'bolus')) {
      for (; index < day.telemetry.length && (day.telemetry[index]?.at ?? Infinity) <= bolus.at; index++) {
        const record = day.telemetry[index];
        if (record !== undefined) lastState.set(record.deviceId, record.message.state);
      }
      expect(lastState.get(bolus.deviceId)).toBe('running');
    }
  });

  it('gets every command acknowledged as accepted, once', () => {
    const acksById = new Map<string, AckMessage[]>();
    for (const ack of day.acks) acksById.set(ack.message.id, [...(acksById.get(ack.message.id) ?? []), ack.message]);
    expect(new Set(day.commands.map((c) => c.message.id)).size).toBe(day.commands.length);
    for (const command of day.commands) {
      expect(acksById.get(command.message.id)).toEqual([expect.objectContaining({ ok: true })]);
    }
    expect(day.acks.length).toBe(day.commands.length);
  });

  it('sends pump commands as the nurse station and programmer commands as the EP clinic, each with a clinician id', () => {
    for (const { username, deviceId, message } of day.commands) {
      expect(message.issuer).toBe(username);
      if (deviceId.startsWith('pump-')) {
        expect(username).toBe('station-4w');
        expect(message.user).toMatch(/^rn-4w-0[1-8]$/);
      } else {
        expect(username).toBe('ep-clinic');
        expect(message.user).toMatch(/^ep-0[1-4]$/);
      }
    }
    // Day and night shifts: both halves of the roster appear.
    const nurses = new Set(day.commands.filter((c) => c.deviceId.startsWith('pump-')).map((c) => c.message.user));
    expect(nurses.size).toBeGreaterThan(4);
  });

  it('starts the demo pump (first ICU pump) on heparin for an 80 kg patient at 18 units/kg/h', () => {
    const first = day.commands.find((c) => c.deviceId === 'pump-01');
    expect(first?.message.command).toBe('program_infusion');
    expect(first?.message.params).toEqual({ drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' });
    expect((first?.at ?? Infinity) - START).toBeLessThan(MINUTE);
    expect(nextCommandTo(day, 'pump-01', (first?.at ?? 0) + 1)?.message.command).toBe('start');
  });

  it('runs programmer sessions as start_session, 1–3 in-range programs, end_session', () => {
    for (const programmer of ['prog-01', 'prog-02']) {
      const sequence = day.commands.filter((c) => c.deviceId === programmer).map((c) => c.message);
      const pattern = sequence.map((m) => ({ start_session: 'S', program: 'P', end_session: 'E' })[m.command] ?? '?').join('');
      expect(pattern).toMatch(/^(SP{1,3}E)+(SP{0,3})?$/);
      expect(pattern.split('E').length - 1).toBeGreaterThanOrEqual(3);
      for (const message of sequence) {
        if (message.command === 'start_session') expect(message.params.implant_serial).toMatch(/^PM-\d{6}$/);
        if (message.command !== 'program') continue;
        const p = message.params;
        expect(ROUTINE_PACING_MODES).toContain(p.mode);
        expect(p.lower_rate_ppm).toBeGreaterThanOrEqual(50);
        expect(p.lower_rate_ppm).toBeLessThanOrEqual(80);
        expect(p.upper_rate_ppm).toBeGreaterThanOrEqual(100);
        expect(p.upper_rate_ppm).toBeLessThanOrEqual(140);
        expect(Number(p.upper_rate_ppm)).toBeGreaterThan(Number(p.lower_rate_ppm));
        expect(p.amplitude_v).toBeGreaterThanOrEqual(2);
        expect(p.amplitude_v).toBeLessThanOrEqual(5);
        expect(p.pulse_width_ms).toBeGreaterThanOrEqual(0.3);
        expect(p.pulse_width_ms).toBeLessThanOrEqual(0.6);
        expect(p.tachy_therapy).toBe(true);
      }
    }
  });

  it('reports telemetry every 5 s from every device, plus a report at each change', () => {
    for (const device of day.config.devices) {
      const reports = day.telemetry.filter((t) => t.deviceId === device.id);
      const changes = day.acks.filter((a) => a.deviceId === device.id).length;
      const periodic = (24 * HOUR) / (5 * SECOND);
      expect(reports.length).toBeGreaterThanOrEqual(periodic);
      expect(reports.length).toBeLessThanOrEqual(periodic + changes + 100);
      expect(reports.every((t) => t.username === device.account)).toBe(true);
    }
  });

  it('is online (retained) while running and offline (retained) after a clean stop, leaving no timers behind', () => {
    for (const device of day.config.devices) {
      expect(day.onlineAtStart.get(device.id)).toBe('online');
      expect(day.offlineAtEnd.get(device.id)).toBe('offline');
    }
    expect(day.clock.pendingTimers).toBe(0);
    expect(day.bus.connectedClientIds).toEqual([]);
  });
});

describe('reproducibility', () => {
  it('gives the same command sequence for the same seed, and another for another seed', async () => {
    const sequence = (run: WardRun): string[] => run.commands.map((c) => `${c.at} ${c.deviceId} ${c.text}`);
    const first = await runWard(12, { seed: 42 });
    const second = await runWard(12, { seed: 42 });
    const other = await runWard(12, { seed: 43 });
    expect(first.commands.length).toBeGreaterThan(50);
    expect(sequence(second)).toEqual(sequence(first));
    expect(sequence(other)).not.toEqual(sequence(first));
  });
});

describe('ward composition', () => {
  it('starts only the first n pumps and programmers of the inventory, with their own client ids and accounts', async () => {
    const clock = new VirtualClock(START);
    const bus = new MemoryBus();
    const logins: string[] = [];
    bus.onPublish((identity, topic) => {
      if (topic.endsWith('/status')) logins.push(`${identity.clientId}:${identity.username}:${identity.password}`);
    });
    const ward = await startWard({ config: loadDemoConfig(), clock, linkFactory: bus.linkFactory(), seed: 1, pumps: 2, programmers: 1 });
    expect([...bus.connectedClientIds].sort()).toEqual(['ep-clinic-sim', 'prog-01', 'pump-01', 'pump-02', 'station-4w-sim']);
    expect(logins.sort()).toEqual(['prog-01:prog-01:demo-prog-01', 'pump-01:pump-01:demo-pump-01', 'pump-02:pump-02:demo-pump-02']);
    expect(ward.stationAccount).toBe('station-4w');
    expect(ward.clinicAccount).toBe('ep-clinic');
    expect(ward.pumps.map((p) => p.deviceId)).toEqual(['pump-01', 'pump-02']);
    clock.advanceBy(HOUR);
    expect(ward.pumps[0]?.snapshot()).toMatchObject({ state: 'running', drug: 'heparin', weightKg: 80 });
    await ward.stop();
    await ward.stop();
    expect(bus.connectedClientIds).toEqual([]);
  });

  it('needs no station account when no pump runs', async () => {
    const config = editableDemoConfig();
    config.policy.rules = config.policy.rules.filter((rule) => rule.id !== '4w-station-programs-pumps');
    const bus = new MemoryBus();
    const ward = await startWard({ config, clock: new VirtualClock(START), linkFactory: bus.linkFactory(), seed: 1, pumps: 0 });
    expect(ward.stationAccount).toBeNull();
    expect([...bus.connectedClientIds].sort()).toEqual(['ep-clinic-sim', 'prog-01', 'prog-02']);
    await ward.stop();
  });

  it('fails clearly, before connecting anything, when a device account has only a password hash', async () => {
    const config = editableDemoConfig();
    const account = config.mqtt.accounts.find((a) => a.username === 'pump-02');
    if (account === undefined) throw new Error('demo config lacks pump-02');
    delete account.password;
    account.passwordHash = 'scrypt$16384$8$1$c2FsdA==$a2V5';
    const bus = new MemoryBus();
    const attempt = startWard({ config, clock: new VirtualClock(START), linkFactory: bus.linkFactory(), seed: 1 });
    await expect(attempt).rejects.toThrow(SimulatorError);
    await expect(attempt).rejects.toMatchObject({
      code: 'SIM_PLAIN_PASSWORD_REQUIRED',
      message: expect.stringMatching(/account "pump-02" \(device pump-02\) has only a passwordHash; the simulator .* needs its plain password/),
    });
    expect(bus.connectedClientIds).toEqual([]);
  });

  it('fails clearly when no station account may command the pumps, or more devices are asked for than exist', async () => {
    const config = editableDemoConfig();
    config.policy.rules = config.policy.rules.filter((rule) => rule.id !== '4w-station-programs-pumps');
    const bus = new MemoryBus();
    await expect(startWard({ config, clock: new VirtualClock(START), linkFactory: bus.linkFactory(), seed: 1 }))
      .rejects.toMatchObject({ code: 'SIM_NO_COMMANDING_ACCOUNT', message: expect.stringContaining('pump-01') });
    await expect(startWard({ config: loadDemoConfig(), clock: new VirtualClock(START), linkFactory: bus.linkFactory(), seed: 1, pumps: 7 }))
      .rejects.toMatchObject({ code: 'SIM_DEVICE_COUNT', message: 'asked for 7 pumps but the inventory has 6 (pump-01, pump-02, pump-03, pump-04, pump-05, pump-06)' });
    expect(bus.connectedClientIds).toEqual([]);
  });

  it('uses an explicitly given station account even if the policy does not allow it (for attack scenarios)', async () => {
    const bus = new MemoryBus();
    const issuers = new Set<string>();
    bus.onPublish((identity, topic) => {
      if (topic.endsWith('/command')) issuers.add(identity.username);
    });
    const clock = new VirtualClock(START);
    const ward = await startWard({
      config: loadDemoConfig(), clock, linkFactory: bus.linkFactory(), seed: 1, pumps: 1, programmers: 0,
      stationAccount: { username: 'guest', password: 'demo' },
    });
    clock.advanceBy(HOUR);
    await ward.stop();
    expect([...issuers]).toEqual(['guest']);
  });
});
