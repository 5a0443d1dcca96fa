import type { DeviceConfig, ModbusGatewayConfig, SiteConfig } from '../../agent/src/model/site-schema.ts';
import { SimulatorError } from './errors.ts';
import type { ModbusEndpoint } from './transports/modbus-station-transport.ts';

/**
 * Where the Modbus side of a simulated ward lives, from the site config's
 * `modbus.gateways` (one entry per device: the agent listens on `listenPort` and forwards
 * to the device's own server at `target`) and the caller's overrides. Pure: no sockets.
 */

/** How the simulated ward's devices and stations talk (DESIGN.md, ways to see traffic 1 and 3). */
export type WardTransport = 'mqtt' | 'modbus' | 'both';
export const WARD_TRANSPORTS: readonly WardTransport[] = ['mqtt', 'modbus', 'both'];

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** `10.4.2.11:502` or `[fd00::5]:502` (the schema has checked the shape). */
export function parseHostPort(text: string): HostPort {
  const colon = text.lastIndexOf(':');
  const host = text.slice(0, colon);
  const port = Number(text.slice(colon + 1));
  return { host: host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host, port };
}

/** The gateway entry of each device that has one, for the given devices only. */
export function gatewaysFor(config: SiteConfig, devices: readonly DeviceConfig[]): Map<string, ModbusGatewayConfig> {
  const wanted = new Set(devices.map((device) => device.id));
  const gateways = new Map<string, ModbusGatewayConfig>();
  for (const gateway of config.modbus.gateways) if (wanted.has(gateway.device)) gateways.set(gateway.device, gateway);
  return gateways;
}

/** Where a device's own Modbus server listens: the override, else the gateway entry's `target`. */
export function targetFor(gateway: ModbusGatewayConfig, overrides: ReadonlyMap<string, HostPort> | undefined): HostPort {
  return overrides?.get(gateway.device) ?? parseHostPort(gateway.target);
}

/** An address a master can connect to for a server listening on `host` (a wildcard means this machine). */
export function connectableHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

/**
 * Where a station reaches a device over Modbus: the override, else the agent's gateway at
 * `gatewayHost : listenPort`; `'direct'` skips the gateway and goes to the device's own
 * server (a ward without an agent, or a test).
 */
export function stationEndpointFor(
  device: DeviceConfig,
  gateway: ModbusGatewayConfig,
  gateways: ReadonlyMap<string, HostPort> | 'direct' | undefined,
  gatewayHost: string,
  deviceServer: HostPort,
): ModbusEndpoint {
  let address: HostPort;
  if (gateways === 'direct') {
    address = { host: connectableHost(deviceServer.host), port: deviceServer.port };
  } else {
    const override = gateways?.get(device.id);
    if (override === undefined && gateway.listenPort === 0) {
      throw new SimulatorError(
        'SIM_MODBUS_GATEWAY',
        `modbus.gateways entry for ${device.id} has listenPort 0 (any free port on the agent); the stations cannot know which port the agent picked. Give a fixed listenPort`,
      );
    }
    address = override ?? { host: gatewayHost, port: gateway.listenPort };
  }
  return { host: address.host, port: address.port, unitId: gateway.unitId, profile: device.profile };
}
