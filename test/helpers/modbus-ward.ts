import { parse, stringify } from 'yaml';
import { readFileSync } from 'node:fs';
import { parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import type { ParamValue } from '../../agent/src/model/wire.ts';
import { RealTimeClock } from '../../simulators/src/clock.ts';
import { InfusionPumpSim } from '../../simulators/src/devices/infusion-pump-sim.ts';
import { ModbusRegisterBank } from '../../simulators/src/devices/modbus-register-bank.ts';
import { deviceLinkIdentity } from '../../simulators/src/devices/simulated-device.ts';
import { Random } from '../../simulators/src/random.ts';
import { MemoryBus } from '../../simulators/src/transports/memory-bus.ts';
import { startModbusDeviceServer, type ModbusDeviceServer } from '../../simulators/src/transports/modbus-device-server.ts';
import { DEMO_CONFIG_FILE } from './demo-config.ts';
import { commandImage } from './modbus-pdus.ts';

/** The Modbus station's address in these tests, allowed by policy; other loopback addresses are not. */
export const MODBUS_STATION = '127.0.0.1';
export const MAINTENANCE_HOST = '127.0.0.9';

export interface SimulatedModbusPump {
  readonly pump: InfusionPumpSim;
  readonly bank: ModbusRegisterBank;
  readonly server: ModbusDeviceServer;
  stop(): Promise<void>;
}

/** pump-01 as a real Modbus/TCP server on a free port, running heparin 14.4 mL/h for 80 kg. */
export async function startModbusPump(): Promise<SimulatedModbusPump> {
  const clock = new RealTimeClock(1);
  const pump = new InfusionPumpSim({ deviceId: 'pump-01', link: new MemoryBus().connect(deviceLinkIdentity('pump-01', 'pump-01', 'unused')), clock, random: new Random(1), libraryVersion: 'test', occlusionMeanRunningHours: Infinity });
  pump.start();
  const bank = new ModbusRegisterBank({ device: pump, clock });
  const heparin: Record<string, ParamValue> = { drug: 'heparin', rate_ml_h: 14.4, vtbi_ml: 250, weight_kg: 80, care_area: 'ICU' };
  if (bank.writeRegisters(0, commandImage('infusion-pump', 'program_infusion', heparin)) !== null) throw new Error('could not program the pump');
  if (bank.writeRegisters(0, commandImage('infusion-pump', 'start', {})) !== null) throw new Error('could not start the pump');
  const server = await startModbusDeviceServer({ bank, port: 0 });
  return {
    pump,
    bank,
    server,
    async stop() {
      await server.close();
      await pump.stop();
    },
  };
}

/** The demo ward with pump-01 behind an agent gateway to `targetPort`. */
export function modbusSiteConfig(targetPort: number, enforce: string[] = []): SiteConfig {
  const doc = parse(readFileSync(DEMO_CONFIG_FILE, 'utf8')) as Record<string, any>;
  doc.modbus = { gateways: [{ device: 'pump-01', listenPort: 0, target: `127.0.0.1:${targetPort}` }], maintenanceHosts: [MAINTENANCE_HOST], enforce };
  doc.policy.rules.push({ id: 'loopback-modbus-station', addresses: [MODBUS_STATION], devices: { profile: 'infusion-pump' }, commands: ['program_infusion', 'set_rate', 'bolus', 'start', 'pause', 'stop'] });
  const result = parseSiteConfig(stringify(doc));
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.config;
}
