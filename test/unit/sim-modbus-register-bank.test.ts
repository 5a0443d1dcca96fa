import { describe, expect, it } from 'vitest';
import { commandCode, decodeField, encodeField, MODBUS_STRING_CHARS, modbusMapFor } from '../../agent/src/model/modbus-map.ts';
import type { ModbusMap, RegisterField } from '../../agent/src/model/modbus-map.ts';
import { PACING_MODES } from '../../agent/src/model/profiles/pacemaker-programmer.ts';
import type { AckMessage, ParamValue } from '../../agent/src/model/wire.ts';
import { VirtualClock } from '../../simulators/src/clock.ts';
import { InfusionPumpSim } from '../../simulators/src/devices/infusion-pump-sim.ts';
import { commandWrite, MODBUS_EXCEPTION, ModbusRegisterBank } from '../../simulators/src/devices/modbus-register-bank.ts';
import type { ModbusCommandRecord, RegisterRead } from '../../simulators/src/devices/modbus-register-bank.ts';
import { PacemakerProgrammerSim } from '../../simulators/src/devices/pacemaker-programmer-sim.ts';
import { deviceLinkIdentity } from '../../simulators/src/devices/simulated-device.ts';
import { Random } from '../../simulators/src/random.ts';
import { MemoryBus } from '../../simulators/src/transports/memory-bus.ts';

const START = Date.UTC(2026, 0, 12, 7, 0, 0);
const MINUTE = 60_000;
const MASTER = { address: '10.0.4.50' };

function field(map: ModbusMap, table: 'holding' | 'input', name: string): RegisterField {
  const found = map[table].find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no ${table} register ${name}`);
  return found;
}

function values(read: RegisterRead): readonly number[] {
  if (!read.ok) throw new Error(`exception ${read.exception}`);
  return read.values;
}

/** A device on a MemoryBus (so that its MQTT side is there too) with a register bank in front of it. */
function harness<T extends InfusionPumpSim | PacemakerProgrammerSim>(make: (clock: VirtualClock, bus: MemoryBus) => T) {
  const clock = new VirtualClock(START);
  const bus = new MemoryBus();
  const device = make(clock, bus);
  device.start();
  const records: ModbusCommandRecord[] = [];
  const bank = new ModbusRegisterBank({ device, clock, onCommand: (record) => records.push(record) });
  const map = bank.map;
  /** FC16 of the whole holding table for one command, as a station sends it. */
  const command = (name: string, params: Record<string, ParamValue> = {}) => {
    const image = commandWrite(map, name, params);
    if (image === null) throw new Error(`${name} has no Modbus code`);
    return bank.writeRegisters(0, image, MASTER);
  };
  /** The telemetry as the input registers show it, decoded through the map. */
  const telemetry = (): Record<string, ParamValue | undefined> => {
    const registers = values(bank.readInput(0, map.inputSize));
    return Object.fromEntries(map.input.map((f) => [f.name, decodeField(f, registers)]));
  };
  return { clock, bus, device, bank, map, records, command, telemetry };
}

function pumpHarness() {
  return harness((clock, bus) => new InfusionPumpSim({
    deviceId: 'pump-01',
    link: bus.connect(deviceLinkIdentity('pump-01', 'pump-01', 'pw')),
    clock,
    random: new Random(1),
    libraryVersion: 'lib-1',
    occlusionMeanRunningHours: Number.POSITIVE_INFINITY,
  }));
}

function programmerHarness() {
  return harness((clock, bus) => new PacemakerProgrammerSim({
    deviceId: 'prog-01',
    link: bus.connect(deviceLinkIdentity('prog-01', 'prog-01', 'pw')),
    clock,
    random: new Random(5),
  }));
}

const HEPARIN = { drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' };

describe('ModbusRegisterBank: an infusion pump', () => {
  it('FC16 [set_rate, 3200] at register 0 makes a running heparin pump run 320 mL/h, and the input registers show it', () => {
    const h = pumpHarness();
    expect(h.command('program_infusion', HEPARIN)).toBeNull();
    expect(h.command('start')).toBeNull();
    h.clock.advanceBy(10 * MINUTE);
    expect(h.telemetry()).toMatchObject({ state: 'running', drug: 'heparin', rate_ml_h: 14.4 });

    // The two-register write the map is laid out for: command code, then the rate in 0.1 mL/h.
    expect(field(h.map, 'holding', 'rate_ml_h').address).toBe(1);
    expect(h.bank.writeRegisters(0, [commandCode(h.map, 'set_rate'), 3200], MASTER)).toBeNull();

    expect(h.device.snapshot()).toMatchObject({ state: 'running', rateMlH: 320 });
    const rate = field(h.map, 'input', 'rate_ml_h');
    expect(values(h.bank.readInput(rate.address, rate.words))).toEqual(encodeField(rate, 320));
    expect(h.telemetry()).toMatchObject({ state: 'running', rate_ml_h: 320 });
    // The command register is a trigger: it reads 0 again; the parameter stays in the image.
    expect(values(h.bank.readHolding(0, 2))).toEqual([0, 3200]);
    expect(h.records.at(-1)).toMatchObject({
      deviceId: 'pump-01',
      error: null,
      exception: null,
      message: { issuer: 'modbus', user: '10.0.4.50', command: 'set_rate', params: { rate_ml_h: 320 } },
    });
  });

  it('answers exception 3 to a rate above the 999 mL/h the pump can do, and keeps the running rate', () => {
    const h = pumpHarness();
    h.command('program_infusion', HEPARIN);
    h.command('start');
    expect(h.bank.writeRegisters(0, [commandCode(h.map, 'set_rate'), 9991], MASTER)).toBe(MODBUS_EXCEPTION.illegalDataValue);
    expect(h.device.snapshot().rateMlH).toBe(14.4);
    expect(h.records.at(-1)?.error).toContain('outside the device limits');
    expect(values(h.bank.readHolding(0, 1))).toEqual([0]);
  });

  it('answers exception 2 outside the tables and exception 3 to quantities Modbus does not allow', () => {
    const h = pumpHarness();
    expect(h.map.holdingSize).toBe(38);
    expect(h.bank.writeRegisters(h.map.holdingSize - 1, [1, 2], MASTER)).toBe(MODBUS_EXCEPTION.illegalDataAddress);
    expect(h.bank.writeRegisters(h.map.holdingSize, [1], MASTER)).toBe(MODBUS_EXCEPTION.illegalDataAddress);
    expect(h.bank.readHolding(h.map.holdingSize, 1)).toEqual({ ok: false, exception: MODBUS_EXCEPTION.illegalDataAddress });
    expect(h.bank.readInput(h.map.inputSize - 1, 2)).toEqual({ ok: false, exception: MODBUS_EXCEPTION.illegalDataAddress });
    expect(h.bank.readInput(0, 0)).toEqual({ ok: false, exception: MODBUS_EXCEPTION.illegalDataValue });
    expect(h.bank.readHolding(0, 126)).toEqual({ ok: false, exception: MODBUS_EXCEPTION.illegalDataValue });
    expect(h.bank.writeRegisters(0, [], MASTER)).toBe(MODBUS_EXCEPTION.illegalDataValue);
    expect(h.bank.writeRegisters(0, new Array<number>(124).fill(0), MASTER)).toBe(MODBUS_EXCEPTION.illegalDataValue);
    // Nothing of a refused write reaches the image or the device.
    expect(values(h.bank.readHolding(0, h.map.holdingSize)).every((word) => word === 0)).toBe(true);
    expect(h.records).toEqual([]);
  });

  it('answers exception 3 to a command the pump refuses in its state, and to a command code that names no command', () => {
    const h = pumpHarness();
    expect(h.command('set_rate', { rate_ml_h: 20 })).toBe(MODBUS_EXCEPTION.illegalDataValue);
    expect(h.records.at(-1)?.error).toBe('no infusion programmed');
    expect(h.command('start')).toBe(MODBUS_EXCEPTION.illegalDataValue);
    expect(h.command('program_infusion', HEPARIN)).toBeNull();
    expect(h.command('bolus', { volume_ml: 2 })).toBe(MODBUS_EXCEPTION.illegalDataValue);
    expect(h.records.at(-1)?.error).toBe('a bolus needs a running infusion');
    expect(h.bank.writeRegisters(0, [h.map.commands.length + 1], MASTER)).toBe(MODBUS_EXCEPTION.illegalDataValue);
    expect(h.records.at(-1)).toMatchObject({ message: null, exception: 3 });
    expect(h.device.snapshot().state).toBe('paused');
  });

  it('runs a command set up with FC6 writes, parameter first and command code last', () => {
    const h = pumpHarness();
    h.command('program_infusion', HEPARIN);
    h.command('start');
    const volume = field(h.map, 'holding', 'volume_ml');
    expect(h.bank.writeRegisters(volume.address, [25], MASTER)).toBeNull();
    expect(h.device.snapshot().infusedMl).toBe(0);
    expect(h.bank.writeRegisters(0, [commandCode(h.map, 'bolus')], MASTER)).toBeNull();
    expect(h.device.snapshot().infusedMl).toBeCloseTo(2.5, 6);
    // Code 0 is "no command": writing it does nothing.
    expect(h.bank.writeRegisters(0, [0], MASTER)).toBeNull();
    expect(h.records).toHaveLength(3);
  });

  it('round-trips strings: the drug and care area written as ASCII come back in telemetry, up to 32 characters', () => {
    const h = pumpHarness();
    const long = 'x'.repeat(MODBUS_STRING_CHARS - 1) + 'y';
    expect(h.command('program_infusion', { ...HEPARIN, drug: long, care_area: 'Med-Surg' })).toBeNull();
    expect(h.device.snapshot()).toMatchObject({ drug: long, careArea: 'Med-Surg' });
    expect(h.telemetry()).toMatchObject({ state: 'paused', drug: long, care_area: 'Med-Surg', library_version: 'lib-1', weight_kg: 80, vtbi_ml: 250 });
    const holding = values(h.bank.readHolding(0, h.map.holdingSize));
    expect(decodeField(field(h.map, 'holding', 'drug'), holding)).toBe(long);
    expect(decodeField(field(h.map, 'holding', 'care_area'), holding)).toBe('Med-Surg');
    // An odd-length string ends with a NUL byte in its last used register.
    expect(h.command('program_infusion', { ...HEPARIN, drug: 'abc' })).toBeNull();
    expect(h.device.snapshot().drug).toBe('abc');
  });

  it('keeps the MQTT side: a command over Modbus publishes the new state as telemetry, and no ack (there is no MQTT command to answer)', () => {
    const h = pumpHarness();
    const published: string[] = [];
    h.bus.onPublish((_identity, topic) => published.push(topic));
    h.command('program_infusion', HEPARIN);
    expect(published).toEqual(['ward/pump-01/telemetry']);
    const acks: AckMessage[] = [];
    const station = h.bus.connect({ clientId: 'station', username: 'station-4w', password: 'pw' });
    station.subscribe('ward/pump-01/ack', (_t, payload) => acks.push(JSON.parse(payload.toString()) as AckMessage));
    station.publish('ward/pump-01/command', JSON.stringify({ id: 'c1', ts: new Date(START).toISOString(), issuer: 'station-4w', user: 'rn-4w-01', command: 'start', params: {} }));
    expect(acks).toMatchObject([{ id: 'c1', ok: true }]);
    expect(h.telemetry().state).toBe('running');
  });
});

describe('ModbusRegisterBank: a pacemaker programmer', () => {
  const PROGRAM = { mode: 'VVIR', lower_rate_ppm: 55, upper_rate_ppm: 130, amplitude_v: 3.5, pulse_width_ms: 0.05, tachy_therapy: true };

  it('programs an implant with an enum mode, whole and 0.1 V numbers, a 0.01 ms pulse width and a boolean', () => {
    const h = programmerHarness();
    expect(h.command('start_session', { implant_serial: 'PM-004217' })).toBeNull();
    expect(h.command('program', PROGRAM)).toBeNull();
    expect(h.device.snapshot()).toMatchObject({
      session: 'open',
      implantSerial: 'PM-004217',
      lastProgrammed: { mode: 'VVIR', lowerRatePpm: 55, upperRatePpm: 130, amplitudeV: 3.5, pulseWidthMs: 0.05, tachyTherapy: true },
    });
    const holding = values(h.bank.readHolding(0, h.map.holdingSize));
    // 1-based enum index, value ÷ resolution, 0/1.
    expect(holding[field(h.map, 'holding', 'mode').address]).toBe(PACING_MODES.indexOf('VVIR') + 1);
    expect(holding[field(h.map, 'holding', 'amplitude_v').address]).toBe(35);
    expect(holding[field(h.map, 'holding', 'pulse_width_ms').address]).toBe(5);
    expect(holding[field(h.map, 'holding', 'tachy_therapy').address]).toBe(1);
    expect(h.telemetry()).toMatchObject({ session: 'open', implant_serial: 'PM-004217', mode: 'VVIR', lower_rate_ppm: 55 });

    expect(h.command('program', { ...PROGRAM, pulse_width_ms: 1.27, tachy_therapy: false, amplitude_v: 0 })).toBeNull();
    expect(h.device.snapshot().lastProgrammed).toMatchObject({ pulseWidthMs: 1.27, tachyTherapy: false, amplitudeV: 0 });
    expect(h.records.at(-1)?.message?.params).toEqual({ ...PROGRAM, pulse_width_ms: 1.27, tachy_therapy: false, amplitude_v: 0 });
  });

  it('answers exception 3 to registers that hold no valid value, to values outside the limits, and outside a session', () => {
    const h = programmerHarness();
    expect(h.command('program', PROGRAM)).toBe(MODBUS_EXCEPTION.illegalDataValue);
    expect(h.records.at(-1)?.error).toContain('no session open');
    h.command('start_session', { implant_serial: 'PM-1' });
    const image = commandWrite(h.map, 'program', PROGRAM) as number[];
    const mode = field(h.map, 'holding', 'mode').address;
    const tachy = field(h.map, 'holding', 'tachy_therapy').address;
    expect(h.bank.writeRegisters(0, image.map((word, address) => (address === mode ? 0 : word)), MASTER)).toBe(MODBUS_EXCEPTION.illegalDataValue);
    expect(h.records.at(-1)?.error).toContain('(mode) holds no valid value');
    expect(h.bank.writeRegisters(0, image.map((word, address) => (address === mode ? 99 : word)), MASTER)).toBe(MODBUS_EXCEPTION.illegalDataValue);
    expect(h.bank.writeRegisters(0, image.map((word, address) => (address === tachy ? 2 : word)), MASTER)).toBe(MODBUS_EXCEPTION.illegalDataValue);
    expect(h.command('program', { ...PROGRAM, pulse_width_ms: 2 })).toBe(MODBUS_EXCEPTION.illegalDataValue);
    expect(h.records.at(-1)?.error).toContain('pulse_width_ms 2 ms is outside the device limits');
    expect(h.command('program', { ...PROGRAM, upper_rate_ppm: 50 })).toBe(MODBUS_EXCEPTION.illegalDataValue);
    expect(h.device.snapshot().lastProgrammed).toBeNull();
  });

  it('has no Modbus code for a software update (its SHA-256 does not fit the map)', () => {
    const h = programmerHarness();
    expect(commandWrite(h.map, 'install_update', { version: '5', sha256: 'a'.repeat(64) })).toBeNull();
    expect(modbusMapFor('pacemaker-programmer').commands.map((c) => c.name)).toEqual(['start_session', 'program', 'end_session']);
  });
});
