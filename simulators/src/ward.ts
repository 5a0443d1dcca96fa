import type { DeviceConfig, SiteConfig } from '../../agent/src/model/site-schema.ts';
import { topicFor } from '../../agent/src/model/wire.ts';
import type { DeviceStatus } from '../../agent/src/model/wire.ts';
import type { SimClock } from './clock.ts';
import { isoTime } from './clock.ts';
import { Random } from './random.ts';
import type { DeviceLink, LinkFactory, LinkIdentity } from './transports/device-link.ts';
import { noMqttLink } from './transports/device-link.ts';
import { InfusionPumpSim } from './devices/infusion-pump-sim.ts';
import { PacemakerProgrammerSim } from './devices/pacemaker-programmer-sim.ts';
import { deviceLinkIdentity } from './devices/simulated-device.ts';
import type { SimulatedDevice } from './devices/simulated-device.ts';
import { ModbusRegisterBank } from './devices/modbus-register-bank.ts';
import type { ModbusCommandRecord } from './devices/modbus-register-bank.ts';
import { ModbusDeviceServer } from './transports/modbus-device-server.ts';
import { ModbusStationTransport } from './transports/modbus-station-transport.ts';
import type { ModbusEndpoint } from './transports/modbus-station-transport.ts';
import { MqttStationTransport } from './transports/mqtt-station-transport.ts';
import { RoutedStationTransport } from './transports/station-transport.ts';
import type { StationTransport } from './transports/station-transport.ts';
import { findDemoPump, NurseStation } from './actors/nurse-station.ts';
import { clinicHoursIn, EpClinic } from './actors/ep-clinic.ts';
import type { ClinicHours } from './actors/ep-clinic.ts';
import { wardTag } from './actors/clinician-roster.ts';
import {
  actorCredentials,
  CLINIC_COMMANDS,
  findCommandingAccount,
  LONG_STAY_STATION_COMMANDS,
  plainPassword,
  STATION_COMMANDS,
  wardStationCredentials,
} from './ward-accounts.ts';
import type { AccountCredentials } from './ward-accounts.ts';
import { SimulatorError } from './errors.ts';
import { gatewaysFor, stationEndpointFor, targetFor, WARD_TRANSPORTS } from './ward-modbus.ts';
import type { HostPort, WardTransport } from './ward-modbus.ts';

export type { HostPort, WardTransport } from './ward-modbus.ts';

/**
 * A simulated ward: the inventory's pumps and programmers on their own MQTT identities,
 * the nurse station programming the pumps and the EP clinic using the programmers, all
 * on one clock and one seed. The composition root of the simulators; it knows nothing of
 * real time or real brokers (fleet.ts adds those).
 *
 * Transports (`transport`):
 * - `mqtt` (default): every device and station on MQTT;
 * - `modbus`: each device with a `modbus.gateways` entry is a Modbus/TCP server on its
 *   `target` and not on MQTT; the stations command those devices over Modbus through the
 *   agent's gateway (`gatewayHost : listenPort`), and the other devices over MQTT;
 * - `both`: those devices are on MQTT and Modbus at once; the stations use MQTT, and the
 *   Modbus side is there for other masters (an attack scenario, mbpoll).
 *
 * Nurse stations: when the (non-spare) pumps of the inventory all have one `ward` value,
 * one station looks after all of them, as in the demo. When they belong to several wards,
 * each ward gets its own station with its own account: the first station account the
 * policy allows to command all that ward's pumps and that no earlier ward's station uses
 * (else the first allowed one). Pumps marked `spare: true` go to the station of their
 * `ward` value (else the first station), which uses them only when `swapPump` is called.
 *
 * Long runs (`longStay`): patients are discharged and admitted, nights are quieter
 * (nurse-station.ts) and the EP clinic sees patients only in clinic hours (ep-clinic.ts),
 * in `site.timezone`. Off by default: a short run keeps its exact behaviour for a seed.
 */

export interface WardOptions {
  readonly config: SiteConfig;
  readonly clock: SimClock;
  readonly linkFactory: LinkFactory;
  readonly seed: number;
  /** How many of the inventory's pumps to start, in inventory order (default all). */
  readonly pumps?: number;
  /** How many of the inventory's programmers to start (default all). */
  readonly programmers?: number;
  /**
   * Account of the nurse station, or of every ward's station when there are several
   * (default: chosen from the policy, see above).
   */
  readonly stationAccount?: AccountCredentials;
  /** Account of the EP workstation (default: the first station account the policy lets command the programmers). */
  readonly clinicAccount?: AccountCredentials;
  /** How devices and stations talk (default `mqtt`); see above. */
  readonly transport?: WardTransport;
  /** Host of the agent's Modbus gateways, where stations connect under `modbus` (default localhost). */
  readonly gatewayHost?: string;
  /** Where device servers listen instead of the gateway entry's `target` (port 0: any free port; read `modbusServers`). */
  readonly modbusTargets?: ReadonlyMap<string, HostPort>;
  /**
   * Where stations connect instead of `gatewayHost : listenPort`; `'direct'` sends them to
   * the device servers themselves (a ward without an agent in between).
   */
  readonly modbusGateways?: ReadonlyMap<string, HostPort> | 'direct';
  /** Sees every command a Modbus write triggers on a simulated device, accepted or refused. */
  readonly onModbusCommand?: (record: ModbusCommandRecord) => void;
  /** Several days on the ward: discharges and admissions, quieter nights, clinic hours (default off). */
  readonly longStay?: boolean;
  /**
   * When the EP clinic sees patients: `'any'` (any hour) or clinic hours. Default: 08:00–18:00
   * Monday–Friday in `site.timezone` under `longStay`, else any hour.
   */
  readonly clinicHours?: ClinicHours | 'any';
  readonly log?: (line: string) => void;
}

export interface Ward {
  readonly pumps: readonly InfusionPumpSim[];
  readonly programmers: readonly PacemakerProgrammerSim[];
  /** MQTT account the (first) nurse station commands as; null when no pump runs or the station commands every pump over Modbus. */
  readonly stationAccount: string | null;
  /** MQTT accounts of all the nurse stations, one per ward (a station on Modbus only has none). */
  readonly stationAccounts: readonly string[];
  readonly clinicAccount: string | null;
  /** The (first) nurse station, for scenarios that stage ward events (a shift change); null when no pump runs. */
  readonly nurseStation: NurseStation | null;
  /** Every nurse station, one per ward, in inventory order of the wards. */
  readonly nurseStations: readonly NurseStation[];
  readonly transport: WardTransport;
  /** The devices' own Modbus/TCP servers by device id (empty under `mqtt`), with their bound ports. */
  readonly modbusServers: ReadonlyMap<string, ModbusDeviceServer>;
  /**
   * Swaps a bed's pump for a spare of the same station (NurseStation.swapPump). Throws
   * SIM_SWAP when no station has `fromDeviceId` at a bed.
   */
  swapPump(fromDeviceId: string, toDeviceId: string): void;
  /** Stops the actors, then the devices (retained `offline`); safe to call twice. */
  stop(): Promise<void>;
}

/** The pumps one nurse station looks after. */
interface StationPlan {
  readonly ward: string;
  readonly pumps: readonly DeviceConfig[];
  readonly spares: DeviceConfig[];
}

/**
 * One station per ward value of the bedside pumps; a single ward (the demo) is one station
 * for all pumps, named after the site's ward, exactly as before several wards existed.
 */
function planStations(config: SiteConfig, pumpConfigs: readonly DeviceConfig[]): StationPlan[] {
  const bedside = pumpConfigs.filter((device) => device.spare !== true);
  const spares = pumpConfigs.filter((device) => device.spare === true);
  const wards = [...new Set(bedside.map((device) => device.ward))];
  if (wards.length <= 1) return pumpConfigs.length === 0 ? [] : [{ ward: config.site.ward, pumps: bedside, spares }];
  const plans: StationPlan[] = wards.map((ward) => ({ ward, pumps: bedside.filter((device) => device.ward === ward), spares: [] }));
  for (const spare of spares) (plans.find((plan) => plan.ward === spare.ward) ?? (plans[0] as StationPlan)).spares.push(spare);
  return plans;
}

/** Prefixes log lines with the sim time, so that a fast run reads like a ward's day. */
export function withSimTime(clock: SimClock, log: ((line: string) => void) | undefined): ((line: string) => void) | undefined {
  if (log === undefined) return undefined;
  return (line) => log(`${isoTime(clock.now())} ${line}`);
}

function selectDevices(config: SiteConfig, profile: DeviceConfig['profile'], requested: number | undefined, what: string): DeviceConfig[] {
  const available = config.devices.filter((device) => device.profile === profile);
  if (requested === undefined) return available;
  if (!Number.isInteger(requested) || requested < 0) {
    throw new SimulatorError('SIM_DEVICE_COUNT', `the number of ${what} must be a whole number ≥ 0, not ${requested}`);
  }
  if (requested > available.length) {
    throw new SimulatorError('SIM_DEVICE_COUNT', `asked for ${requested} ${what} but the inventory has ${available.length} (${available.map((d) => d.id).join(', ') || 'none'})`);
  }
  return available.slice(0, requested);
}

/** Opens every link at once; if one fails, closes the others before failing. */
async function openLinks(linkFactory: LinkFactory, identities: readonly LinkIdentity[]): Promise<DeviceLink[]> {
  const results = await Promise.allSettled(identities.map((identity) => linkFactory(identity)));
  const failure = results.find((result) => result.status === 'rejected');
  if (failure !== undefined) {
    await Promise.allSettled(results.map((result) => (result.status === 'fulfilled' ? result.value.close() : Promise.resolve())));
    throw failure.reason;
  }
  return results.map((result) => (result as PromiseFulfilledResult<DeviceLink>).value);
}

/** The name an actor writes as `issuer` when it commands only over Modbus (no MQTT account needed). */
function modbusOnlyIssuer(config: SiteConfig, given: AccountCredentials | undefined, devices: readonly DeviceConfig[], commands: readonly string[], fallback: string): string {
  return given?.username ?? findCommandingAccount(config, devices, commands)?.username ?? fallback;
}

/** Starts every device server; if one cannot listen, closes the others before failing. */
async function startServers(servers: readonly ModbusDeviceServer[]): Promise<void> {
  const results = await Promise.allSettled(servers.map((server) => server.start()));
  const failure = results.find((result) => result.status === 'rejected');
  if (failure === undefined) return;
  await Promise.allSettled(servers.map((server) => server.close()));
  const reason: unknown = failure.reason;
  throw new SimulatorError('SIM_MODBUS_LISTEN', reason instanceof Error ? reason.message : String(reason));
}

export async function startWard(options: WardOptions): Promise<Ward> {
  const { config, clock } = options;
  const log = withSimTime(clock, options.log);
  const random = new Random(options.seed);
  const transport = options.transport ?? 'mqtt';
  if (!WARD_TRANSPORTS.includes(transport)) {
    throw new SimulatorError('SIM_INVALID_OPTION', `transport must be one of ${WARD_TRANSPORTS.join(', ')}, not "${String(transport)}"`);
  }
  const pumpConfigs = selectDevices(config, 'infusion-pump', options.pumps, 'pumps');
  const programmerConfigs = selectDevices(config, 'pacemaker-programmer', options.programmers, 'programmers');
  const devices = [...pumpConfigs, ...programmerConfigs];

  // Which devices serve Modbus, which of them are on Modbus only, and which the stations command over Modbus.
  const gateways = transport === 'mqtt' ? new Map<string, never>() : gatewaysFor(config, devices);
  const onMqtt = (device: DeviceConfig): boolean => transport !== 'modbus' || !gateways.has(device.id);
  const stationsUseModbus = (device: DeviceConfig): boolean => transport === 'modbus' && gateways.has(device.id);
  const mqttDevices = devices.filter(onMqtt);
  const stationMqttPumps = pumpConfigs.filter((device) => !stationsUseModbus(device));
  const clinicMqttProgrammers = programmerConfigs.filter((device) => !stationsUseModbus(device));

  // Resolve every credential before connecting anything: a config error must not leave half a ward online.
  const deviceIdentities = mqttDevices.map((device) =>
    deviceLinkIdentity(device.id, device.account, plainPassword(config, device.account, `device ${device.id}`)));
  const longStay = options.longStay ?? false;
  const plans = planStations(config, pumpConfigs);
  const severalWards = plans.length > 1;
  const stationCommands = (plan: StationPlan): readonly string[] => (longStay || plan.spares.length > 0 ? LONG_STAY_STATION_COMMANDS : STATION_COMMANDS);
  const stationMqttDevices = (plan: StationPlan): DeviceConfig[] => [...plan.pumps, ...plan.spares].filter((device) => !stationsUseModbus(device));
  const takenAccounts = new Set<string>();
  const stationCredentials = plans.map((plan) => {
    const credentials = !severalWards
      ? actorCredentials(config, options.stationAccount, stationMqttPumps, stationCommands(plan), 'infusion-pump', 'the nurse station')
      : options.stationAccount !== undefined && stationMqttDevices(plan).length > 0
        ? options.stationAccount
        : wardStationCredentials(config, plan.ward, stationMqttDevices(plan), stationCommands(plan), takenAccounts);
    if (credentials !== null) takenAccounts.add(credentials.username);
    return credentials;
  });
  const clinic = actorCredentials(config, options.clinicAccount, clinicMqttProgrammers, CLINIC_COMMANDS, 'pacemaker-programmer', 'the EP clinic workstation');
  const actorIdentities: LinkIdentity[] = [];
  // Actors get their own client ids, so that a person using the same account from a tool does not take over the simulator's session.
  const clientIds = new Set<string>();
  plans.forEach((plan, index) => {
    const station = stationCredentials[index];
    if (station === null || station === undefined) return;
    // Two wards' stations on one account still need two sessions.
    const clientId = clientIds.has(`${station.username}-sim`) ? `${station.username}-sim-${wardTag(plan.ward)}` : `${station.username}-sim`;
    clientIds.add(clientId);
    actorIdentities.push({ clientId, username: station.username, password: station.password });
  });
  if (clinic !== null) actorIdentities.push({ clientId: `${clinic.username}-sim`, username: clinic.username, password: clinic.password });

  const links = await openLinks(options.linkFactory, [...deviceIdentities, ...actorIdentities]);
  const linkByDeviceId = new Map(mqttDevices.map((device, index) => [device.id, links[index] as DeviceLink]));
  const deviceLink = (device: DeviceConfig): DeviceLink => linkByDeviceId.get(device.id) ?? noMqttLink();

  const pumps = pumpConfigs.map((device) => new InfusionPumpSim({
    deviceId: device.id,
    link: deviceLink(device),
    clock,
    random: random.fork(`device:${device.id}`),
    libraryVersion: config.drugLibrary.version,
    ...(log === undefined ? {} : { log }),
  }));
  const programmers = programmerConfigs.map((device) => new PacemakerProgrammerSim({
    deviceId: device.id,
    link: deviceLink(device),
    clock,
    random: random.fork(`device:${device.id}`),
    ...(log === undefined ? {} : { log }),
  }));
  const simulated: SimulatedDevice[] = [...pumps, ...programmers];

  // Each device with a gateway entry serves its registers on its target address.
  const modbusServers = new Map<string, ModbusDeviceServer>();
  for (const device of simulated) {
    const gateway = gateways.get(device.deviceId);
    if (gateway === undefined) continue;
    const target = targetFor(gateway, options.modbusTargets);
    const bank = new ModbusRegisterBank({
      device,
      clock,
      ...(options.onModbusCommand === undefined ? {} : { onCommand: options.onModbusCommand }),
      ...(log === undefined ? {} : { log }),
    });
    modbusServers.set(device.deviceId, new ModbusDeviceServer({ bank, host: target.host, port: target.port, unitId: gateway.unitId, ...(log === undefined ? {} : { log }) }));
  }
  let stationEndpoints: Map<string, ModbusEndpoint>;
  try {
    await startServers([...modbusServers.values()]);
    stationEndpoints = new Map<string, ModbusEndpoint>();
    for (const device of devices.filter(stationsUseModbus)) {
      const gateway = gateways.get(device.id);
      const server = modbusServers.get(device.id);
      if (gateway === undefined || server === undefined) continue;
      stationEndpoints.set(device.id, stationEndpointFor(device, gateway, options.modbusGateways, options.gatewayHost ?? 'localhost', { host: server.address, port: server.port }));
    }
  } catch (error) {
    // The devices' links have published `online` (birth): put the retained status back before leaving.
    const offline: DeviceStatus = 'offline';
    for (const [deviceId, link] of linkByDeviceId) link.publish(topicFor(deviceId, 'status'), offline, { retain: true, qos: 1 });
    await Promise.allSettled([...links.map((link) => link.close()), ...[...modbusServers.values()].map((server) => server.close())]);
    throw error;
  }

  let nextActorLink = mqttDevices.length;
  const modbusMaster = stationEndpoints.size === 0 ? null : new ModbusStationTransport({ clock, endpoints: stationEndpoints, ...(log === undefined ? {} : { log }) });
  /** An actor's transport: MQTT for the devices it commands over MQTT, Modbus for the others. */
  const actorTransport = (mqttLink: DeviceLink | null, actorDevices: readonly DeviceConfig[]): StationTransport => {
    const mqtt = mqttLink === null ? null : new MqttStationTransport(mqttLink);
    const modbus = actorDevices.some(stationsUseModbus) ? modbusMaster : null;
    if (modbus === null) return mqtt ?? new MqttStationTransport(noMqttLink());
    if (mqtt === null) return modbus;
    return new RoutedStationTransport((deviceId) => (stationEndpoints.has(deviceId) ? modbus : mqtt), [mqtt, modbus]);
  };
  const demoPump = findDemoPump(pumpConfigs.filter((device) => device.spare !== true));
  const nurseStations = plans.map((plan, index) => {
    const station = stationCredentials[index] ?? null;
    const planDevices = [...plan.pumps, ...plan.spares];
    return new NurseStation({
      transport: actorTransport(station === null ? null : (links[nextActorLink++] as DeviceLink), planDevices),
      clock,
      random: random.fork(severalWards ? `actor:nurse-station:${plan.ward}` : 'actor:nurse-station'),
      issuer: station?.username ?? modbusOnlyIssuer(config, options.stationAccount, planDevices, stationCommands(plan), severalWards ? `nurse-station-${wardTag(plan.ward)}` : 'nurse-station'),
      ward: plan.ward,
      drugLibrary: config.drugLibrary,
      pumps: plan.pumps,
      ...(plan.spares.length === 0 ? {} : { spares: plan.spares }),
      ...(severalWards ? { demoInfusion: demoPump !== undefined && plan.pumps.includes(demoPump) } : {}),
      ...(longStay ? { longStay, timeZone: config.site.timezone } : {}),
      ...(log === undefined ? {} : { log }),
    });
  });
  const nurseStation = nurseStations[0] ?? null;
  const clinicHours = options.clinicHours ?? (longStay ? clinicHoursIn(config.site.timezone) : 'any');
  const epClinic = programmerConfigs.length === 0 ? null : new EpClinic({
    transport: actorTransport(clinic === null ? null : (links[nextActorLink++] as DeviceLink), programmerConfigs),
    clock,
    random: random.fork('actor:ep-clinic'),
    issuer: clinic?.username ?? modbusOnlyIssuer(config, options.clinicAccount, programmerConfigs, CLINIC_COMMANDS, 'ep-clinic'),
    programmers: programmerConfigs,
    ...(clinicHours === 'any' ? {} : { hours: clinicHours }),
    ...(log === undefined ? {} : { log }),
  });

  // Devices listen before anyone commands them.
  for (const device of simulated) device.start();
  for (const station of nurseStations) station.start();
  epClinic?.start();
  const stationsNote = severalWards ? `, ${nurseStations.length} nurse stations (${nurseStations.map((s) => `${s.ward}: ${s.issuer}`).join(', ')})` : '';
  log?.(`ward ${config.site.ward} started: ${pumps.length} pumps, ${programmers.length} programmers${stationsNote}, seed ${random.seed}`);
  for (const server of modbusServers.values()) {
    const master = stationEndpoints.get(server.deviceId);
    log?.(`${server.deviceId}: Modbus/TCP server on ${server.address}:${server.port}${master === undefined ? '' : `; stations connect to ${master.host}:${master.port}`}`);
  }

  let stopping: Promise<void> | null = null;
  const stopAll = async (): Promise<void> => {
    // The shared Modbus master is closed by whichever actor uses it; closing twice is harmless.
    await Promise.all([...nurseStations.map((station) => station.stop()), epClinic?.stop()]);
    await Promise.all([...modbusServers.values()].map((server) => server.close()));
    await Promise.all(simulated.map((device) => device.stop()));
    log?.(`ward ${config.site.ward} stopped`);
  };
  return {
    pumps,
    programmers,
    stationAccount: stationCredentials[0]?.username ?? null,
    stationAccounts: [...new Set(stationCredentials.flatMap((credentials) => (credentials === null ? [] : [credentials.username])))],
    clinicAccount: clinic?.username ?? null,
    nurseStation,
    nurseStations,
    transport,
    modbusServers,
    swapPump: (fromDeviceId, toDeviceId) => {
      const station = nurseStations.find((candidate) => candidate.pumpIds.includes(fromDeviceId));
      if (station === undefined) throw new SimulatorError('SIM_SWAP', `no nurse station has ${fromDeviceId} at a bed`);
      station.swapPump(fromDeviceId, toDeviceId);
    },
    stop: () => (stopping ??= stopAll()),
  };
}
