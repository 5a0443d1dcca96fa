import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import { RealTimeClock } from './clock.ts';
import { mqttLinkFactory } from './transports/mqtt-link.ts';
import { startWard, withSimTime } from './ward.ts';
import type { HostPort, Ward, WardTransport } from './ward.ts';
import type { AccountCredentials } from './ward-accounts.ts';

/**
 * A simulated ward on a real MQTT broker, in real time or faster: what `wardwatch sim
 * fleet` and the demo run. Each device is its own MQTT client with its own account and
 * last will, as on a real device VLAN; with `transport: 'modbus'` or `'both'` the devices
 * that have a `modbus.gateways` entry are also (or only) Modbus/TCP servers (ward.ts).
 */

export interface FleetOptions {
  readonly brokerUrl: string;
  readonly config: SiteConfig;
  /** Sim seconds per real second (600: ten simulated minutes per real second). */
  readonly speed: number;
  readonly seed: number;
  readonly pumps?: number;
  readonly programmers?: number;
  readonly stationAccount?: AccountCredentials;
  readonly clinicAccount?: AccountCredentials;
  /** Sim time at start, epoch ms (default: now). */
  readonly startMs?: number;
  /** `mqtt` (default), `modbus` or `both`: see ward.ts. */
  readonly transport?: WardTransport;
  /** Host of the agent's Modbus gateways (default localhost). */
  readonly gatewayHost?: string;
  readonly modbusTargets?: ReadonlyMap<string, HostPort>;
  readonly modbusGateways?: ReadonlyMap<string, HostPort> | 'direct';
  /** Discharges and admissions, quieter nights, clinic hours (ward.ts). */
  readonly longStay?: boolean;
  readonly log?: (line: string) => void;
}

export async function startFleet(options: FleetOptions): Promise<Ward> {
  const clock = new RealTimeClock(options.speed, options.startMs ?? Date.now());
  const linkLog = withSimTime(clock, options.log);
  const linkFactory = mqttLinkFactory(options.brokerUrl, linkLog === undefined ? {} : { log: linkLog });
  return startWard({
    config: options.config,
    clock,
    linkFactory,
    seed: options.seed,
    ...(options.pumps === undefined ? {} : { pumps: options.pumps }),
    ...(options.programmers === undefined ? {} : { programmers: options.programmers }),
    ...(options.stationAccount === undefined ? {} : { stationAccount: options.stationAccount }),
    ...(options.clinicAccount === undefined ? {} : { clinicAccount: options.clinicAccount }),
    ...(options.transport === undefined ? {} : { transport: options.transport }),
    ...(options.gatewayHost === undefined ? {} : { gatewayHost: options.gatewayHost }),
    ...(options.modbusTargets === undefined ? {} : { modbusTargets: options.modbusTargets }),
    ...(options.modbusGateways === undefined ? {} : { modbusGateways: options.modbusGateways }),
    ...(options.longStay === undefined ? {} : { longStay: options.longStay }),
    ...(options.log === undefined ? {} : { log: options.log }),
  });
}
