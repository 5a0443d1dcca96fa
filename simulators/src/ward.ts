import type { DeviceConfig, SiteConfig } from '../../agent/src/model/site-schema.ts';
import type { SimClock } from './clock.ts';
import { isoTime } from './clock.ts';
import { Random } from './random.ts';
import type { DeviceLink, LinkFactory, LinkIdentity } from './transports/device-link.ts';
import { InfusionPumpSim } from './devices/infusion-pump-sim.ts';
import { PacemakerProgrammerSim } from './devices/pacemaker-programmer-sim.ts';
import { deviceLinkIdentity } from './devices/simulated-device.ts';
import { NurseStation } from './actors/nurse-station.ts';
import { EpClinic } from './actors/ep-clinic.ts';
import { actorCredentials, CLINIC_COMMANDS, plainPassword, STATION_COMMANDS } from './ward-accounts.ts';
import type { AccountCredentials } from './ward-accounts.ts';
import { SimulatorError } from './errors.ts';

/**
 * A simulated ward: the inventory's pumps and programmers on their own MQTT identities,
 * the nurse station programming the pumps and the EP clinic using the programmers, all
 * on one clock and one seed. The composition root of the simulators; it knows nothing of
 * real time or real brokers (fleet.ts adds those).
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
  /** Account of the nurse station (default: the first station account the policy lets command the pumps). */
  readonly stationAccount?: AccountCredentials;
  /** Account of the EP workstation (default: the first station account the policy lets command the programmers). */
  readonly clinicAccount?: AccountCredentials;
  readonly log?: (line: string) => void;
}

export interface Ward {
  readonly pumps: readonly InfusionPumpSim[];
  readonly programmers: readonly PacemakerProgrammerSim[];
  /** Username the nurse station commands as, or null when no pump runs. */
  readonly stationAccount: string | null;
  readonly clinicAccount: string | null;
  /** The nurse station, for scenarios that stage ward events (a shift change); null when no pump runs. */
  readonly nurseStation: NurseStation | null;
  /** Stops the actors, then the devices (retained `offline`); safe to call twice. */
  stop(): Promise<void>;
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

export async function startWard(options: WardOptions): Promise<Ward> {
  const { config, clock } = options;
  const log = withSimTime(clock, options.log);
  const random = new Random(options.seed);
  const pumpConfigs = selectDevices(config, 'infusion-pump', options.pumps, 'pumps');
  const programmerConfigs = selectDevices(config, 'pacemaker-programmer', options.programmers, 'programmers');
  const devices = [...pumpConfigs, ...programmerConfigs];

  // Resolve every credential before connecting anything: a config error must not leave half a ward online.
  const deviceIdentities = devices.map((device) =>
    deviceLinkIdentity(device.id, device.account, plainPassword(config, device.account, `device ${device.id}`)));
  const station = actorCredentials(config, options.stationAccount, pumpConfigs, STATION_COMMANDS, 'infusion-pump', 'the nurse station');
  const clinic = actorCredentials(config, options.clinicAccount, programmerConfigs, CLINIC_COMMANDS, 'pacemaker-programmer', 'the EP clinic workstation');
  const actorIdentities: LinkIdentity[] = [];
  // Actors get their own client ids, so that a person using the same account from a tool does not take over the simulator's session.
  if (station !== null) actorIdentities.push({ clientId: `${station.username}-sim`, username: station.username, password: station.password });
  if (clinic !== null) actorIdentities.push({ clientId: `${clinic.username}-sim`, username: clinic.username, password: clinic.password });

  const links = await openLinks(options.linkFactory, [...deviceIdentities, ...actorIdentities]);
  const deviceLink = (index: number): DeviceLink => links[index] as DeviceLink;

  const pumps = pumpConfigs.map((device, index) => new InfusionPumpSim({
    deviceId: device.id,
    link: deviceLink(index),
    clock,
    random: random.fork(`device:${device.id}`),
    libraryVersion: config.drugLibrary.version,
    ...(log === undefined ? {} : { log }),
  }));
  const programmers = programmerConfigs.map((device, index) => new PacemakerProgrammerSim({
    deviceId: device.id,
    link: deviceLink(pumpConfigs.length + index),
    clock,
    random: random.fork(`device:${device.id}`),
    ...(log === undefined ? {} : { log }),
  }));
  let nextActorLink = devices.length;
  const nurseStation = station === null ? null : new NurseStation({
    link: deviceLink(nextActorLink++),
    clock,
    random: random.fork('actor:nurse-station'),
    issuer: station.username,
    ward: config.site.ward,
    drugLibrary: config.drugLibrary,
    pumps: pumpConfigs,
    ...(log === undefined ? {} : { log }),
  });
  const epClinic = clinic === null ? null : new EpClinic({
    link: deviceLink(nextActorLink++),
    clock,
    random: random.fork('actor:ep-clinic'),
    issuer: clinic.username,
    programmers: programmerConfigs,
    ...(log === undefined ? {} : { log }),
  });

  // Devices listen before anyone commands them.
  for (const device of [...pumps, ...programmers]) device.start();
  nurseStation?.start();
  epClinic?.start();
  log?.(`ward ${config.site.ward} started: ${pumps.length} pumps, ${programmers.length} programmers, seed ${random.seed}`);

  let stopping: Promise<void> | null = null;
  const stopAll = async (): Promise<void> => {
    await Promise.all([nurseStation?.stop(), epClinic?.stop()]);
    await Promise.all([...pumps, ...programmers].map((device) => device.stop()));
    log?.(`ward ${config.site.ward} stopped`);
  };
  return {
    pumps,
    programmers,
    stationAccount: station?.username ?? null,
    clinicAccount: clinic?.username ?? null,
    nurseStation,
    stop: () => (stopping ??= stopAll()),
  };
}
