import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import modbusSerial from 'modbus-serial';
import { afterEach, describe, expect, it } from 'vitest';
import { commandCode, decodeField, modbusMapFor } from '../../agent/src/model/modbus-map.ts';
import type { ModbusMap } from '../../agent/src/model/modbus-map.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import type { ParamValue } from '../../agent/src/model/wire.ts';
import { RealTimeClock, VirtualClock } from '../../simulators/src/clock.ts';
import { InfusionPumpSim } from '../../simulators/src/devices/infusion-pump-sim.ts';
import { commandWrite, ModbusRegisterBank } from '../../simulators/src/devices/modbus-register-bank.ts';
import type { ModbusCommandRecord } from '../../simulators/src/devices/modbus-register-bank.ts';
import { SimulatorError } from '../../simulators/src/errors.ts';
import { Random } from '../../simulators/src/random.ts';
import { noMqttLink } from '../../simulators/src/transports/device-link.ts';
import { MemoryBus } from '../../simulators/src/transports/memory-bus.ts';
import { startModbusDeviceServer } from '../../simulators/src/transports/modbus-device-server.ts';
import type { ModbusDeviceServer } from '../../simulators/src/transports/modbus-device-server.ts';
import { startWard } from '../../simulators/src/ward.ts';
import type { HostPort, Ward } from '../../simulators/src/ward.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { missingPeer } from '../helpers/peers.ts';

const ModbusRTU = modbusSerial.default;
type ModbusClient = InstanceType<typeof ModbusRTU>;

const START = Date.UTC(2026, 0, 12, 7, 0, 0);
const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const PUMP_MAP = modbusMapFor('infusion-pump');
const HEPARIN = { drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' };
const execFileAsync = promisify(execFile);
const MBPOLL_MISSING = missingPeer('mbpoll', 'mbpoll');

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function connectClient(port: number, unitId = 1): Promise<ModbusClient> {
  const client = new ModbusRTU();
  await client.connectTCP('127.0.0.1', { port });
  client.setID(unitId);
  client.setTimeout(2_000);
  cleanups.push(() => closeClient(client));
  return client;
}

function closeClient(client: ModbusClient): Promise<void> {
  // close() on a closed port never calls back.
  return client.isOpen ? new Promise<void>((resolve) => client.close(() => resolve())) : Promise.resolve();
}

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function image(map: ModbusMap, command: string, params: Record<string, ParamValue> = {}): number[] {
  const words = commandWrite(map, command, params);
  if (words === null) throw new Error(`${command} has no Modbus code`);
  return words;
}

function decodeInput(map: ModbusMap, registers: readonly number[]): Record<string, ParamValue | undefined> {
  return Object.fromEntries(map.input.map((field) => [field.name, decodeField(field, registers)]));
}

/** The Modbus exception code a rejected request carried (modbus-serial sets `modbusCode`). */
async function exceptionOf(request: Promise<unknown>): Promise<number | undefined> {
  try {
    await request;
    return undefined;
  } catch (error) {
    return (error as { modbusCode?: number }).modbusCode;
  }
}

/** A pump that is a Modbus server on 127.0.0.1, port 0. */
async function pumpServer(unitId = 1): Promise<{ pump: InfusionPumpSim; server: ModbusDeviceServer; records: ModbusCommandRecord[] }> {
  const clock = new VirtualClock(START);
  const pump = new InfusionPumpSim({ deviceId: 'pump-01', link: noMqttLink(), clock, random: new Random(7), libraryVersion: 'lib-1', occlusionMeanRunningHours: Infinity });
  pump.start();
  const records: ModbusCommandRecord[] = [];
  const bank = new ModbusRegisterBank({ device: pump, clock, onCommand: (record) => records.push(record) });
  const server = await startModbusDeviceServer({ bank, port: 0, unitId });
  cleanups.push(() => server.close());
  return { pump, server, records };
}

describe('ModbusDeviceServer with modbus-serial as the master', () => {
  it('listens on a free port for port 0, and each device gets its own', async () => {
    const a = await pumpServer();
    const b = await pumpServer();
    expect(a.server.port).toBeGreaterThan(0);
    expect(b.server.port).not.toBe(a.server.port);
  });

  it('programs and starts an infusion with FC16 writes and reads it back with FC4', async () => {
    const { pump, server, records } = await pumpServer();
    const client = await connectClient(server.port);
    await client.writeRegisters(0, image(PUMP_MAP, 'program_infusion', HEPARIN));
    // FC3 reads the image back: register 0 is 0 again, the rate (0.1 mL/h) stays.
    expect((await client.readHoldingRegisters(0, 2)).data).toEqual([0, 144]);
    await client.writeRegisters(0, image(PUMP_MAP, 'start'));
    const { data } = await client.readInputRegisters(0, PUMP_MAP.inputSize);
    expect(decodeInput(PUMP_MAP, data)).toMatchObject({ state: 'running', drug: 'heparin', care_area: 'ICU', weight_kg: 80, rate_ml_h: 14.4, vtbi_ml: 250, library_version: 'lib-1' });
    expect(pump.snapshot()).toMatchObject({ state: 'running', rateMlH: 14.4 });
    // The single master is known by its address.
    expect(records.map((record) => [record.message?.command, record.message?.issuer, record.message?.user])).toEqual([
      ['program_infusion', 'modbus', '127.0.0.1'],
      ['start', 'modbus', '127.0.0.1'],
    ]);
    // The whole-table write of `start` cleared the parameters: the image is what was written last.
    expect((await client.readHoldingRegisters(0, 2)).data).toEqual([0, 0]);
    // FC6 on the command register alone runs a command without parameters.
    await client.writeRegister(0, commandCode(PUMP_MAP, 'pause'));
    expect(pump.snapshot().state).toBe('paused');
  });

  it('answers exception 3 to a refused command, 2 outside the tables, 1 to coil functions', async () => {
    const { pump, server } = await pumpServer();
    const client = await connectClient(server.port);
    expect(await exceptionOf(client.writeRegisters(0, image(PUMP_MAP, 'start')))).toBe(3);
    await client.writeRegisters(0, image(PUMP_MAP, 'program_infusion', HEPARIN));
    expect(await exceptionOf(client.writeRegisters(0, [commandCode(PUMP_MAP, 'set_rate'), 10_000]))).toBe(3);
    expect(pump.snapshot().rateMlH).toBe(14.4);
    expect(await exceptionOf(client.readHoldingRegisters(PUMP_MAP.holdingSize - 1, 2))).toBe(2);
    expect(await exceptionOf(client.readInputRegisters(PUMP_MAP.inputSize, 1))).toBe(2);
    expect(await exceptionOf(client.writeRegisters(PUMP_MAP.holdingSize, [1]))).toBe(2);
    expect(await exceptionOf(client.readCoils(0, 1))).toBe(1);
    expect(await exceptionOf(client.writeCoil(0, true))).toBe(1);
    // The connection survives exceptions.
    const { data } = await client.readInputRegisters(0, PUMP_MAP.inputSize);
    expect(decodeInput(PUMP_MAP, data).state).toBe('paused');
  });

  describe.skipIf(MBPOLL_MISSING !== null)('with mbpoll (Debian) as a real peer', () => {
    /** mbpoll addresses are 1-based (-r 1 is register 0); -1 polls once, -q drops the banner. */
    const mbpoll = (port: number, ...args: string[]) =>
      execFileAsync('mbpoll', ['-m', 'tcp', '-p', String(port), '-a', '1', '-1', '-q', '-o', '2', ...args], { timeout: 10_000 });

    it('titrates a running infusion with an FC16 write of [set_rate, 3200] and reads 320 mL/h back with FC4', async () => {
      const { pump, server, records } = await pumpServer();
      const client = await connectClient(server.port);
      await client.writeRegisters(0, image(PUMP_MAP, 'program_infusion', HEPARIN));
      await client.writeRegisters(0, image(PUMP_MAP, 'start'));
      // mbpoll alone on the server, so that the server can name it as the master.
      await closeClient(client);
      await until(() => server.connectionCount === 0, 'the first master to disconnect');

      const written = await mbpoll(server.port, '-t', '4', '-r', '1', '127.0.0.1', String(commandCode(PUMP_MAP, 'set_rate')), '3200');
      expect(written.stdout).toContain('Written 2 references');
      expect(pump.snapshot()).toMatchObject({ state: 'running', rateMlH: 320 });
      expect(records.at(-1)?.message).toMatchObject({ command: 'set_rate', issuer: 'modbus', user: '127.0.0.1', params: { rate_ml_h: 320 } });

      const rate = PUMP_MAP.input.find((field) => field.name === 'rate_ml_h');
      expect(rate).toMatchObject({ address: 50, words: 2 });
      const read = await mbpoll(server.port, '-t', '3', '-r', String((rate?.address ?? 0) + 1), '-c', '2', '127.0.0.1');
      expect(read.stdout).toMatch(/\[51\]:\s+0\s+\[52\]:\s+3200/);
    });

    it('gets exception 3 (illegal data value) for a rate beyond the pump, and 2 (illegal data address) beyond the table', async () => {
      const { pump, server } = await pumpServer();
      const client = await connectClient(server.port);
      await client.writeRegisters(0, image(PUMP_MAP, 'program_infusion', HEPARIN));
      await client.writeRegisters(0, image(PUMP_MAP, 'start'));
      const tooFast = mbpoll(server.port, '-t', '4', '-r', '1', '127.0.0.1', String(commandCode(PUMP_MAP, 'set_rate')), '9991');
      await expect(tooFast).rejects.toMatchObject({ stderr: expect.stringContaining('Illegal data value') });
      expect(pump.snapshot().rateMlH).toBe(14.4);
      const beyond = mbpoll(server.port, '-t', '4', '-r', String(PUMP_MAP.holdingSize + 1), '-c', '1', '127.0.0.1');
      await expect(beyond).rejects.toMatchObject({ stderr: expect.stringContaining('Illegal data address') });
    });
  });
});

/** The demo ward with a Modbus gateway entry for every device (targets and listen ports the tests override). */
function configWithGateways(only?: readonly string[]): SiteConfig {
  const config = structuredClone(loadDemoConfig()) as SiteConfig;
  const devices = config.devices.filter((device) => only === undefined || only.includes(device.id));
  return {
    ...config,
    modbus: {
      ...config.modbus,
      gateways: devices.map((device, index) => ({ device: device.id, listenPort: 15_020 + index, target: `127.0.0.1:${15_520 + index}`, unitId: 1 })),
    },
  };
}

function anyPort(config: SiteConfig): Map<string, HostPort> {
  return new Map(config.modbus.gateways.map((gateway) => [gateway.device, { host: '127.0.0.1', port: 0 }]));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('a simulated ward with transport: modbus', () => {
  it('programs, starts and titrates infusions and programs pacemakers over Modbus, for an accelerated hour', async () => {
    const speed = 600;
    const config = configWithGateways();
    const bus = new MemoryBus();
    let mqttPublishes = 0;
    bus.onPublish(() => mqttPublishes++);
    const records: ModbusCommandRecord[] = [];
    const lines: string[] = [];
    const clock = new RealTimeClock(speed, START);
    const ward: Ward = await startWard({
      config,
      clock,
      linkFactory: bus.linkFactory(),
      seed: 20260112,
      transport: 'modbus',
      modbusTargets: anyPort(config),
      // No agent in between: the stations connect to the device servers themselves.
      modbusGateways: 'direct',
      onModbusCommand: (record) => records.push(record),
      log: (line) => lines.push(line),
    });
    cleanups.push(() => ward.stop());
    expect(ward.transport).toBe('modbus');
    expect([...ward.modbusServers.keys()]).toEqual(config.devices.map((device) => device.id));
    expect(ward.stationAccount).toBeNull();

    await sleep((30 * MINUTE) / speed);
    // A shift change: every running infusion is reviewed and titrated within ten minutes.
    expect(ward.nurseStation?.reviewAllInfusions(10 * MINUTE)).toBeGreaterThan(0);
    await sleep((30 * MINUTE) / speed);
    await ward.stop();

    const context = `\n${lines.slice(-40).join('\n')}`;
    expect(records.filter((record) => record.error !== null), context).toEqual([]);
    expect(records.every((record) => record.message?.issuer === 'modbus' && record.message.user === '127.0.0.1')).toBe(true);
    for (const pump of ward.pumps) {
      const commands = records.filter((record) => record.deviceId === pump.deviceId).map((record) => record.message?.command);
      expect(commands.slice(0, 2), `${pump.deviceId}${context}`).toEqual(['program_infusion', 'start']);
      expect(commands, `${pump.deviceId}${context}`).toContain('set_rate');
      // The pump runs at the rate the last accepted command over Modbus set.
      const lastRate = records.filter((record) => record.deviceId === pump.deviceId && record.message?.params.rate_ml_h !== undefined).at(-1);
      expect(pump.snapshot().rateMlH).toBe(lastRate?.message?.params.rate_ml_h);
    }
    for (const programmer of ward.programmers) {
      const commands = records.filter((record) => record.deviceId === programmer.deviceId).map((record) => record.message?.command);
      expect(commands.slice(0, 2), `${programmer.deviceId}${context}`).toEqual(['start_session', 'program']);
    }
    // Every device was on Modbus only: nothing crossed MQTT.
    expect(mqttPublishes).toBe(0);
  });

  it('commands the devices with a gateway entry over Modbus and the others over MQTT', async () => {
    const speed = 600;
    const config = configWithGateways(['pump-01', 'prog-01']);
    const bus = new MemoryBus();
    const topics = new Set<string>();
    bus.onPublish((_identity, topic) => topics.add(topic));
    const records: ModbusCommandRecord[] = [];
    const ward = await startWard({
      config,
      clock: new RealTimeClock(speed, START),
      linkFactory: bus.linkFactory(),
      seed: 5,
      pumps: 2,
      programmers: 0,
      transport: 'modbus',
      modbusTargets: anyPort(config),
      modbusGateways: 'direct',
      onModbusCommand: (record) => records.push(record),
    });
    cleanups.push(() => ward.stop());
    // Both pumps are programmed within a minute and started 5–20 s later.
    await until(() => ward.pumps.every((pump) => pump.snapshot().state === 'running'), 'both pumps to run', (3 * MINUTE) / speed + 5_000);
    await ward.stop();
    expect(ward.stationAccount).toBe('station-4w');
    expect([...ward.modbusServers.keys()]).toEqual(['pump-01']);
    expect(records.map((record) => [record.deviceId, record.message?.command, record.error])).toEqual([
      ['pump-01', 'program_infusion', null],
      ['pump-01', 'start', null],
    ]);
    // pump-01 is on Modbus only; pump-02 on MQTT, commanded there by the station's account.
    expect([...topics].filter((topic) => topic.startsWith('ward/pump-01/'))).toEqual([]);
    expect(topics).toContain('ward/pump-02/command');
    expect(topics).toContain('ward/pump-02/ack');
  });

  it('refuses a gateway entry with listenPort 0 when no override says where the agent listens', async () => {
    const config = configWithGateways(['pump-01']);
    const gateways = config.modbus.gateways.map((gateway) => ({ ...gateway, listenPort: 0 }));
    const attempt = startWard({
      config: { ...config, modbus: { ...config.modbus, gateways } },
      clock: new VirtualClock(START),
      linkFactory: new MemoryBus().linkFactory(),
      seed: 1,
      pumps: 1,
      programmers: 0,
      transport: 'modbus',
      modbusTargets: anyPort(config),
    });
    await expect(attempt).rejects.toMatchObject({ code: 'SIM_MODBUS_GATEWAY' });
    await expect(attempt).rejects.toBeInstanceOf(SimulatorError);
  });

  it('reports a target port already in use as SIM_MODBUS_LISTEN, and leaves nothing online', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const port = (blocker.address() as AddressInfo).port;
    const config = configWithGateways(['pump-01']);
    const bus = new MemoryBus();
    const attempt = startWard({
      config,
      clock: new VirtualClock(START),
      linkFactory: bus.linkFactory(),
      seed: 1,
      pumps: 1,
      programmers: 0,
      transport: 'both',
      modbusTargets: new Map([['pump-01', { host: '127.0.0.1', port }]]),
    });
    await expect(attempt).rejects.toMatchObject({ code: 'SIM_MODBUS_LISTEN' });
    // Nothing is left half online: the pump's MQTT side was connected, and says offline again.
    expect(bus.retainedMessage('ward/pump-01/status')?.toString()).toBe('offline');
    expect(bus.connectedClientIds).toEqual([]);
  });
});

describe('a simulated ward with transport: both', () => {
  it('keeps the stations on MQTT while the device also answers Modbus masters with the same state', async () => {
    const config = configWithGateways(['pump-01']);
    const clock = new VirtualClock(START);
    const bus = new MemoryBus();
    const commandTopics = new Set<string>();
    bus.onPublish((_identity, topic) => {
      if (topic.endsWith('/command')) commandTopics.add(topic);
    });
    const ward = await startWard({
      config,
      clock,
      linkFactory: bus.linkFactory(),
      seed: 7,
      pumps: 2,
      programmers: 0,
      transport: 'both',
      modbusTargets: anyPort(config),
    });
    cleanups.push(() => ward.stop());
    expect([...ward.modbusServers.keys()]).toEqual(['pump-01']);
    expect(ward.stationAccount).toBe('station-4w');
    clock.advanceBy(5 * MINUTE);
    expect(commandTopics).toEqual(new Set(['ward/pump-01/command', 'ward/pump-02/command']));

    const server = ward.modbusServers.get('pump-01');
    const pump = ward.pumps[0];
    if (server === undefined || pump === undefined) throw new Error('pump-01 is not serving Modbus');
    const client = await connectClient(server.port);
    const { data } = await client.readInputRegisters(0, PUMP_MAP.inputSize);
    const snapshot = pump.snapshot();
    expect(snapshot.state).toBe('running');
    expect(decodeInput(PUMP_MAP, data)).toMatchObject({ state: snapshot.state, drug: snapshot.drug, rate_ml_h: snapshot.rateMlH });
  });
});
