import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import { localTime } from '../../agent/src/model/local-time.ts';
import { rateToDose } from '../../agent/src/model/dose.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import type { CommandMessage } from '../../agent/src/model/wire.ts';
import { clinicHoursIn, isClinicOpen } from '../../simulators/src/actors/ep-clinic.ts';
import { VirtualClock } from '../../simulators/src/clock.ts';
import { MemoryBus } from '../../simulators/src/transports/memory-bus.ts';
import { startWard } from '../../simulators/src/ward.ts';
import type { Ward, WardOptions } from '../../simulators/src/ward.ts';
import { MonitorHarness } from '../helpers/monitor-harness.ts';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** A Saturday, 07:00 in New York. */
const SATURDAY = Date.parse('2026-11-28T12:00:00Z');
/** A Monday, 07:00 UTC. */
const MONDAY = Date.parse('2026-11-30T07:00:00Z');

function loadConfig(file: string): SiteConfig {
  const result = parseSiteConfig(readFileSync(new URL(`../../config/${file}`, import.meta.url), 'utf8'));
  if (!result.ok) throw new Error(`config/${file} is invalid: ${JSON.stringify(result.issues)}`);
  return result.config;
}

function editable(config: SiteConfig): SiteConfig {
  return structuredClone(config) as SiteConfig;
}

/** The demo ward with one more ICU pump, kept in the equipment store as a spare. */
function demoWithSpare(): SiteConfig {
  const config = editable(loadConfig('demo.yaml'));
  config.mqtt.accounts.push({ username: 'pump-07', password: 'demo-pump-07', role: 'device' });
  config.devices.push({ id: 'pump-07', profile: 'infusion-pump', ward: '4W', location: '4W equipment store', careArea: 'ICU', spare: true, account: 'pump-07' });
  return config;
}

interface CommandRecord {
  readonly at: number;
  readonly username: string;
  readonly clientId: string;
  readonly deviceId: string;
  readonly message: CommandMessage;
}

interface Run {
  readonly ward: Ward;
  readonly clock: VirtualClock;
  readonly bus: MemoryBus;
  readonly commands: CommandRecord[];
  readonly harness: MonitorHarness | null;
}

async function startRun(config: SiteConfig, startMs: number, options: Partial<WardOptions> = {}, monitor = false): Promise<Run> {
  const clock = new VirtualClock(startMs);
  const bus = new MemoryBus();
  const commands: CommandRecord[] = [];
  const harness = monitor ? new MonitorHarness(config) : null;
  bus.onPublish((identity, topic, payload, retain) => {
    const [, deviceId = '', channel = ''] = topic.split('/');
    if (channel === 'command') {
      commands.push({ at: clock.now(), username: identity.username, clientId: identity.clientId, deviceId, message: JSON.parse(payload.toString()) as CommandMessage });
    }
    harness?.busPublish(identity, topic, payload, retain, clock.now());
  });
  const ward = await startWard({ config, clock, linkFactory: bus.linkFactory(), seed: 20261128, ...options });
  return { ward, clock, bus, commands, harness };
}

function to(run: Run, deviceId: string, after = -Infinity): CommandRecord[] {
  return run.commands.filter((c) => c.deviceId === deviceId && c.at >= after);
}

describe('clinic hours', () => {
  it('are 08:00–18:00 Monday to Friday by default, in the given zone', () => {
    const london = clinicHoursIn('Europe/London');
    expect(london).toEqual({ timeZone: 'Europe/London', openHour: 8, closeHour: 18, weekdays: [1, 2, 3, 4, 5] });
    expect(isClinicOpen(london, Date.parse('2026-11-30T08:00:00Z'))).toBe(true); // Monday 08:00 GMT
    expect(isClinicOpen(london, Date.parse('2026-11-30T07:59:00Z'))).toBe(false);
    expect(isClinicOpen(london, Date.parse('2026-11-30T18:00:00Z'))).toBe(false);
    expect(isClinicOpen(london, Date.parse('2026-07-06T07:30:00Z'))).toBe(true); // Monday 08:30 BST
    expect(isClinicOpen(london, Date.parse('2026-11-28T12:00:00Z'))).toBe(false); // Saturday
    expect(isClinicOpen(clinicHoursIn('UTC', { weekdays: [6] }), Date.parse('2026-11-28T12:00:00Z'))).toBe(true);
  });

  it('refuse impossible hours and unknown zones', async () => {
    const config = loadConfig('demo.yaml');
    const bus = new MemoryBus();
    await expect(startWard({ config, clock: new VirtualClock(MONDAY), linkFactory: bus.linkFactory(), seed: 1, clinicHours: clinicHoursIn('UTC', { openHour: 18, closeHour: 8 }) }))
      .rejects.toThrow(RangeError);
    await expect(startWard({ config, clock: new VirtualClock(MONDAY), linkFactory: bus.linkFactory(), seed: 1, clinicHours: clinicHoursIn('Mars/Olympus_Mons') }))
      .rejects.toThrow(RangeError);
  });
});

describe('a simulated week of the demo ward with long stays, in New York time', () => {
  let week: Run;
  let config: SiteConfig;
  beforeAll(async () => {
    config = editable(loadConfig('demo.yaml'));
    config.site.timezone = 'America/New_York';
    week = await startRun(config, SATURDAY, { longStay: true });
    week.clock.advanceBy(7 * DAY);
    await week.ward.stop();
  });

  it('opens programmer sessions only in clinic hours, Monday to Friday, in the site\'s zone', () => {
    const sessions = week.commands.filter((c) => c.message.command === 'start_session');
    expect(sessions.length).toBeGreaterThanOrEqual(10);
    for (const session of sessions) {
      const local = localTime(session.at, 'America/New_York');
      expect(local.weekday, new Date(session.at).toISOString()).toBeGreaterThanOrEqual(1);
      expect(local.weekday).toBeLessThanOrEqual(5);
      expect(local.hour).toBeGreaterThanOrEqual(8);
      expect(local.hour).toBeLessThan(18);
    }
    // New York afternoons are UTC evenings: the zone, not UTC, decides.
    expect(sessions.some((session) => new Date(session.at).getUTCHours() >= 18)).toBe(true);
    // Sessions stay whole: start, 1–3 programs, end.
    for (const programmer of ['prog-01', 'prog-02']) {
      const pattern = to(week, programmer).map((c) => ({ start_session: 'S', program: 'P', end_session: 'E' })[c.message.command] ?? '?').join('');
      expect(pattern).toMatch(/^(SP{1,3}E)+(SP{0,3})?$/);
    }
  });

  it('discharges patients in the daytime, leaves the bed empty 1–6 h, then admits a new patient within the soft limits', () => {
    const stops = week.commands.filter((c) => c.message.command === 'stop');
    // Six beds, a stay of 2–4 days on average, seven days.
    expect(stops.length).toBeGreaterThanOrEqual(6);
    expect(stops.length).toBeLessThanOrEqual(40);
    expect(new Set(stops.map((stop) => stop.deviceId)).size).toBeGreaterThanOrEqual(4);
    let admissions = 0;
    for (const stop of stops) {
      expect(stop.username).toBe('station-4w');
      const hour = localTime(stop.at, 'America/New_York').hour;
      expect(hour, new Date(stop.at).toISOString()).toBeGreaterThanOrEqual(9);
      expect(hour).toBeLessThan(21);
      const next = to(week, stop.deviceId, stop.at + 1)[0];
      if (next === undefined) continue;
      expect(next.message.command).toBe('program_infusion');
      expect(next.at - stop.at).toBeGreaterThanOrEqual(1 * HOUR);
      expect(next.at - stop.at).toBeLessThanOrEqual(6 * HOUR + 31 * MINUTE);
      const weight = Number(next.message.params.weight_kg);
      expect(weight).toBeGreaterThanOrEqual(45);
      expect(weight).toBeLessThanOrEqual(120);
      admissions++;
    }
    expect(admissions).toBeGreaterThanOrEqual(5);
  });

  it('keeps every dose inside the soft limits of the current patient', () => {
    const programs = new Map<string, { drug: string; careArea: string; weightKg: number }>();
    let checked = 0;
    for (const { deviceId, message } of week.commands) {
      if (message.command === 'program_infusion') {
        programs.set(deviceId, { drug: String(message.params.drug), careArea: String(message.params.care_area), weightKg: Number(message.params.weight_kg) });
      }
      if (message.command !== 'program_infusion' && message.command !== 'set_rate') continue;
      const program = programs.get(deviceId);
      const entry = program === undefined ? undefined : config.drugLibrary.careAreas[program.careArea]?.drugs[program.drug];
      if (program === undefined || entry === undefined) throw new Error(`${deviceId}: ${message.command} without a known program`);
      const dose = rateToDose(Number(message.params.rate_ml_h), entry.concentration, entry.doseUnit, program.weightKg);
      expect(dose).toBeGreaterThanOrEqual(entry.soft.min ?? 0);
      expect(dose).toBeLessThanOrEqual(entry.soft.max ?? entry.hard.max ?? 0);
      checked++;
    }
    expect(checked).toBeGreaterThan(200);
  });

  it('titrates less often at night: a titration sent between 23:00 and 06:00 is followed by the next one no sooner than 1.5 h', () => {
    const nightGaps: number[] = [];
    const dayGaps: number[] = [];
    for (const pump of ['pump-01', 'pump-02', 'pump-03', 'pump-04', 'pump-05', 'pump-06']) {
      const sequence = to(week, pump).filter((c) => c.message.command === 'set_rate' || c.message.command === 'program_infusion');
      for (let i = 1; i < sequence.length; i++) {
        const [previous, current] = [sequence[i - 1], sequence[i]];
        if (previous?.message.command !== 'set_rate' || current?.message.command !== 'set_rate') continue;
        const hour = localTime(previous.at, 'America/New_York').hour;
        (hour >= 23 || hour < 6 ? nightGaps : dayGaps).push(current.at - previous.at);
      }
    }
    expect(nightGaps.length).toBeGreaterThan(10);
    expect(Math.min(...nightGaps)).toBeGreaterThanOrEqual(1.5 * HOUR);
    expect(Math.min(...dayGaps)).toBeLessThan(1.5 * HOUR);
    const mean = (values: number[]): number => values.reduce((sum, value) => sum + value, 0) / values.length;
    expect(mean(nightGaps)).toBeGreaterThan(1.2 * mean(dayGaps));
  });

  it('leaves no timers behind', () => {
    expect(week.clock.pendingTimers).toBe(0);
  });
});

describe('several wards, one nurse station each', () => {
  let run: Run;
  beforeAll(async () => {
    run = await startRun(loadConfig('large-ward.yaml'), MONDAY);
    run.clock.advanceBy(2 * HOUR);
    await run.ward.stop();
  });

  it('starts one station per ward, each on its own account and client id', () => {
    const { ward } = run;
    expect(ward.nurseStations.map((station) => [station.ward, station.issuer])).toEqual([
      ['ICU-N', 'station-icu-n'],
      ['ICU-S', 'station-icu-s'],
      ['MS-N', 'station-ms-n'],
      ['MS-S', 'station-ms-s'],
    ]);
    expect(ward.nurseStation).toBe(ward.nurseStations[0]);
    expect(ward.stationAccount).toBe('station-icu-n');
    expect(ward.stationAccounts).toEqual(['station-icu-n', 'station-icu-s', 'station-ms-n', 'station-ms-s']);
    expect(ward.nurseStations.map((station) => station.pumpIds.length)).toEqual([12, 12, 12, 12]);
    expect(ward.nurseStations.map((station) => station.spareIds)).toEqual([['pump-spare-icu'], [], ['pump-spare-ms'], []]);
    const clientIds = new Set(run.commands.map((c) => `${c.username} ${c.clientId}`));
    expect([...clientIds].sort()).toEqual(['ep-clinic ep-clinic-sim', 'station-icu-n station-icu-n-sim', 'station-icu-s station-icu-s-sim', 'station-ms-n station-ms-n-sim', 'station-ms-s station-ms-s-sim']);
  });

  it('has each station command only its own ward\'s pumps, as its own nurses, and leaves the spares alone', () => {
    const wardOf = new Map(loadConfig('large-ward.yaml').devices.map((device) => [device.id, device.ward]));
    for (const command of run.commands.filter((c) => c.username.startsWith('station-'))) {
      const ward = wardOf.get(command.deviceId) ?? '';
      expect(command.username).toBe(`station-${ward.toLowerCase()}`);
      expect(command.message.user).toMatch(new RegExp(`^rn-${ward.toLowerCase()}-0[1-8]$`));
    }
    expect(to(run, 'pump-spare-icu')).toEqual([]);
    expect(to(run, 'pump-spare-ms')).toEqual([]);
    // Every bedside pump is set up in the morning round.
    expect(new Set(run.commands.filter((c) => c.message.command === 'program_infusion').map((c) => c.deviceId)).size).toBe(48);
  });

  it('gives the demo infusion to the inventory\'s first ICU pump only', () => {
    const firstPrograms = ['pump-icu-n-01', 'pump-icu-s-01'].map((id) => to(run, id)[0]?.message.params);
    expect(firstPrograms[0]).toEqual({ drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' });
    expect(firstPrograms[1]).not.toEqual(firstPrograms[0]);
  });

  it('shares an account between wards when the policy allows only one, on two client ids', async () => {
    const config = editable(loadConfig('demo.yaml'));
    for (const device of config.devices) if (device.id === 'pump-05' || device.id === 'pump-06') device.ward = '5E';
    config.policy.rules.push({ id: '4w-station-covers-5e', accounts: ['station-4w'], devices: { profile: 'infusion-pump', ward: '5E' }, commands: ['program_infusion', 'set_rate', 'bolus', 'start', 'pause', 'stop'] });
    const shared = await startRun(config, MONDAY);
    shared.clock.advanceBy(10 * MINUTE);
    await shared.ward.stop();
    expect(shared.ward.nurseStations.map((station) => [station.ward, station.issuer])).toEqual([['4W', 'station-4w'], ['5E', 'station-4w']]);
    expect(shared.ward.stationAccounts).toEqual(['station-4w']);
    const clientIds = new Set(shared.commands.filter((c) => c.deviceId.startsWith('pump-')).map((c) => c.clientId));
    expect([...clientIds].sort()).toEqual(['station-4w-sim', 'station-4w-sim-5e']);
    expect(shared.bus.connectedClientIds).toEqual([]);
  });

  it('fails clearly when no station account may command a ward\'s pumps', async () => {
    const config = editable(loadConfig('large-ward.yaml'));
    config.policy.rules = config.policy.rules.filter((rule) => rule.id !== 'ms-s-pumps');
    const bus = new MemoryBus();
    await expect(startWard({ config, clock: new VirtualClock(MONDAY), linkFactory: bus.linkFactory(), seed: 1 }))
      .rejects.toMatchObject({ code: 'SIM_NO_COMMANDING_ACCOUNT', message: expect.stringContaining('ward MS-S') });
    expect(bus.connectedClientIds).toEqual([]);
  });
});

describe('swapping a pump for a spare', () => {
  it('stops the old pump, programs the spare 10–30 min later for the same patient and drug, and raises no alert', async () => {
    const run = await startRun(demoWithSpare(), MONDAY, {}, true);
    run.clock.advanceBy(3 * HOUR);
    expect(to(run, 'pump-07')).toEqual([]);
    const before = run.ward.pumps.find((pump) => pump.deviceId === 'pump-01')?.snapshot();
    expect(before?.state).toBe('running');
    const swapAt = run.clock.now();
    run.ward.swapPump('pump-01', 'pump-07');
    expect(run.ward.nurseStation?.pumpIds).toContain('pump-07');
    expect(run.ward.nurseStation?.spareIds).toEqual(['pump-01']);
    run.clock.advanceBy(3 * HOUR);

    const [stop, ...afterStop] = to(run, 'pump-01', swapAt);
    expect(stop?.message.command).toBe('stop');
    expect(stop?.at).toBe(swapAt);
    expect(stop?.username).toBe('station-4w');
    expect(afterStop).toEqual([]);
    const [program, start, ...routine] = to(run, 'pump-07');
    expect(program?.message.command).toBe('program_infusion');
    expect((program?.at ?? 0) - swapAt).toBeGreaterThanOrEqual(10 * MINUTE);
    expect((program?.at ?? Infinity) - swapAt).toBeLessThanOrEqual(30 * MINUTE);
    // The rate in force at the swap, and what was left in the bag (as of the last telemetry, at most 5 s old).
    expect(program?.message.params).toMatchObject({ drug: before?.drug, weight_kg: before?.weightKg, rate_ml_h: before?.rateMlH, care_area: 'ICU' });
    const left = (before?.vtbiMl ?? 0) - (before?.infusedMl ?? 0);
    expect(Math.abs(Number(program?.message.params.vtbi_ml) - (left >= 10 ? left : before?.vtbiMl ?? 0))).toBeLessThan(1);
    expect(run.ward.pumps.find((pump) => pump.deviceId === 'pump-01')?.snapshot().state).toBe('idle');
    expect(start?.message.command).toBe('start');
    expect(run.ward.pumps.find((pump) => pump.deviceId === 'pump-07')?.snapshot()).toMatchObject({ drug: before?.drug, weightKg: before?.weightKg });
    expect(routine.length).toBeGreaterThan(0);

    // And back: the old pump is now the spare.
    const swapBackAt = run.clock.now();
    run.ward.swapPump('pump-07', 'pump-01');
    run.clock.advanceBy(HOUR);
    expect(to(run, 'pump-07', swapBackAt).map((c) => c.message.command)).toEqual(['stop']);
    expect(to(run, 'pump-01', swapBackAt).map((c) => c.message.command).slice(0, 2)).toEqual(['program_infusion', 'start']);
    await run.ward.stop();
    run.harness?.monitor.alerts.flush();
    expect(run.harness?.monitor.alerts.list().map((alert) => `${alert.severity} ${alert.type}`)).toEqual([]);
  });

  it('refuses pumps that are not at a bed, not spares, or set up for another care area', async () => {
    const config = demoWithSpare();
    config.mqtt.accounts.push({ username: 'pump-08', password: 'demo-pump-08', role: 'device' });
    config.devices.push({ id: 'pump-08', profile: 'infusion-pump', ward: '4W', location: '4W equipment store', careArea: 'Med-Surg', spare: true, account: 'pump-08' });
    const run = await startRun(config, MONDAY);
    run.clock.advanceBy(HOUR);
    expect(() => run.ward.swapPump('pump-99', 'pump-07')).toThrow(expect.objectContaining({ code: 'SIM_SWAP' }));
    expect(() => run.ward.swapPump('pump-01', 'pump-02')).toThrow(/pump-02 is not a spare/);
    expect(() => run.ward.swapPump('pump-01', 'pump-08')).toThrow(/care area Med-Surg, not ICU/);
    expect(() => run.ward.swapPump('pump-07', 'pump-01')).toThrow(/no nurse station has pump-07 at a bed/);
    await run.ward.stop();
    expect(to(run, 'pump-07')).toEqual([]);
    expect(to(run, 'pump-08')).toEqual([]);
  });
});
