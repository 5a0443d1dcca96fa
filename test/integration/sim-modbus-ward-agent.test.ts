import { afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/src/app.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import { RealTimeClock } from '../../simulators/src/clock.ts';
import type { ModbusCommandRecord } from '../../simulators/src/devices/modbus-register-bank.ts';
import { MemoryBus } from '../../simulators/src/transports/memory-bus.ts';
import { startWard } from '../../simulators/src/ward.ts';
import type { HostPort, Ward } from '../../simulators/src/ward.ts';
import { loggedInClient, startTestAgent, temporaryDataDir } from '../helpers/agent-fixture.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { freePort } from '../helpers/peer-process.ts';

/**
 * The simulated ward over Modbus/TCP with the real agent in the path: the stations are
 * masters that connect to the agent's inspecting gateways, which forward to the devices'
 * own servers (DESIGN.md, way 3). A quiet ward must reach every device and raise no alert.
 */

const START = Date.now();
const MINUTE = 60_000;
const STATION = '127.0.0.1';

/** A free loopback port (closed again; the device server takes it a moment later). */
/** The demo ward with a gateway for every device, and the Modbus station's address allowed to command them all. */
async function modbusWardConfig(): Promise<SiteConfig> {
  const config = structuredClone(loadDemoConfig()) as SiteConfig;
  const gateways = [];
  for (const device of config.devices) gateways.push({ device: device.id, listenPort: 0, target: `127.0.0.1:${await freePort()}`, unitId: 1 });
  return {
    ...config,
    modbus: { ...config.modbus, gateways },
    policy: {
      rules: [
        ...config.policy.rules,
        { id: 'test-modbus-station-pumps', addresses: [STATION], devices: { profile: 'infusion-pump' }, commands: ['program_infusion', 'set_rate', 'bolus', 'start', 'pause', 'stop'] },
        { id: 'test-modbus-clinic-programmers', addresses: [STATION], devices: { profile: 'pacemaker-programmer' }, commands: ['start_session', 'program', 'end_session'] },
      ],
    },
  };
}

describe('a simulated ward over Modbus through the agent\'s gateways', () => {
  let data: ReturnType<typeof temporaryDataDir> | null = null;
  let agent: RunningAgent | null = null;
  let ward: Ward | null = null;

  afterEach(async () => {
    await ward?.stop();
    await agent?.stop();
    data?.remove();
    ward = null;
    agent = null;
    data = null;
  });

  it('programs and starts every pump through the gateways, and the agent raises nothing on a quiet ward', async () => {
    const config = await modbusWardConfig();
    data = temporaryDataDir();
    agent = await startTestAgent(data.dir, config);
    const gateways = new Map<string, HostPort>();
    for (const [deviceId, port] of agent.modbusPorts) gateways.set(deviceId, { host: '127.0.0.1', port });
    expect([...gateways.keys()].sort()).toEqual(config.devices.map((device) => device.id).sort());

    const records: ModbusCommandRecord[] = [];
    const lines: string[] = [];
    // Real time × 30: the agent reads event time from the wall clock, so a faster ward would look like a burst.
    const speed = 30;
    ward = await startWard({
      config,
      clock: new RealTimeClock(speed, START),
      linkFactory: new MemoryBus().linkFactory(),
      seed: 42,
      transport: 'modbus',
      modbusGateways: gateways,
      onModbusCommand: (record) => records.push(record),
      log: (line) => lines.push(line),
    });
    const pumps = ward.pumps;
    // The morning round programs every pump within a minute and starts it 5–20 s later.
    const deadline = Date.now() + (3 * MINUTE) / speed;
    while (Date.now() < deadline && !pumps.every((pump) => pump.snapshot().state === 'running')) await new Promise((resolve) => setTimeout(resolve, 50));
    const context = `\n${lines.slice(-30).join('\n')}`;
    expect(pumps.map((pump) => pump.snapshot().state), context).toEqual(pumps.map(() => 'running'));
    expect(records.filter((record) => record.error !== null), context).toEqual([]);
    // Every command came through a gateway: one master per device server, the agent.
    expect(new Set(records.map((record) => record.message?.user))).toEqual(new Set([STATION]));

    // Telemetry polls went through too: the agent knows what each pump runs.
    await new Promise((resolve) => setTimeout(resolve, (10 * 1_000) / speed));
    const nurse = await loggedInClient(agent, data.dir);
    const views = await nurse.json<Array<{ id: string; state: string | null; summary: string | null }>>('/api/devices');
    for (const pump of pumps) {
      const { drug, rateMlH } = pump.snapshot();
      expect(views.find((view) => view.id === pump.deviceId), pump.deviceId).toMatchObject({ state: 'running', summary: expect.stringContaining(`${drug} ${rateMlH} mL/h`) });
    }
    await ward.stop();
    const alerts = agent.alerts.list();
    expect(alerts.map((alert) => `${alert.type} ${alert.deviceId ?? ''}: ${alert.title}`), context).toEqual([]);
  });
});
