import { pino } from 'pino';
import { VirtualClock } from '../../../simulators/src/clock.ts';
import { MemoryBus } from '../../../simulators/src/transports/memory-bus.ts';
import { startWard, type Ward } from '../../../simulators/src/ward.ts';
import type { Severity } from '../server/dashboard-protocol.ts';
import type { AlertView } from '../server/dashboard-protocol.ts';
import type { SiteConfig } from '../model/site-schema.ts';
import { topicFor, type CommandMessage } from '../model/wire.ts';
import { createMonitor } from '../monitor.ts';
import { CollectingSink, DEFAULT_START, wardAddress } from './evaluate-scenario.ts';
import { InProcessBroker } from './in-process-broker.ts';
import { advanceWithPromises } from './virtual-time.ts';

/**
 * The long benign run of issue 5, part 5: a simulated ward for days in virtual time,
 * through the agent's real pipeline, learning on the first `baseline.learningHours` and
 * judging after. The ward follows its long-run routine (clinic hours, quieter nights,
 * discharges and admissions, drug changes on new bags), the pharmacy server pushes a drug
 * library on day 1 and again on day 5, and a pump is swapped for a spare on day 4 when the
 * site has one. Every alert after learning is a false alert: nothing here is an attack.
 */

export interface BenignRunOptions {
  readonly config: SiteConfig;
  readonly seed: number;
  readonly days: number;
  readonly startMs?: number;
  readonly log?: (line: string) => void;
}

export interface BenignRunResult {
  readonly site: string;
  readonly devices: number;
  readonly days: number;
  readonly learningHours: number;
  /** Devices × days after learning. */
  readonly judgedDeviceDays: number;
  readonly publishes: number;
  readonly commands: number;
  readonly alerts: readonly AlertView[];
  readonly bySeverity: Readonly<Record<Severity, number>>;
  readonly perDeviceDay: Readonly<Record<Severity, number>>;
  readonly byType: Readonly<Record<string, number>>;
  readonly events: readonly string[];
  readonly wallMs: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SEVERITIES: readonly Severity[] = ['critical', 'high', 'warning', 'info'];

/** Pushes a drug library to every pump as the pharmacy server does, over its own MQTT session. */
async function pushLibrary(broker: InProcessBroker, config: SiteConfig, clock: VirtualClock, version: string): Promise<string | null> {
  const account = config.mqtt.accounts.find((candidate) => candidate.role === 'pharmacy' && candidate.password !== undefined);
  if (account === undefined || account.password === undefined) return null;
  const link = await broker.linkFactory(() => '10.4.9.5')({ clientId: `${account.username}-server`, username: account.username, password: account.password });
  for (const device of config.devices.filter((candidate) => candidate.profile === 'infusion-pump')) {
    const message: CommandMessage = {
      id: `lib-${version}-${device.id}`,
      ts: new Date(clock.now()).toISOString(),
      issuer: account.username,
      user: 'pharmacy-batch',
      command: 'load_drug_library',
      params: { version, sha256: 'a'.repeat(64) },
    };
    link.publish(topicFor(device.id, 'command'), JSON.stringify(message), { qos: 1 });
  }
  await link.close();
  return `${account.username} pushed drug library ${version} to every pump`;
}

/** The first bedside pump that has a spare of the same ward, and that spare. */
function swapCandidate(config: SiteConfig): { readonly from: string; readonly to: string } | null {
  const spare = config.devices.find((device) => device.profile === 'infusion-pump' && device.spare === true);
  if (spare === undefined) return null;
  const from = config.devices.find((device) => device.profile === 'infusion-pump' && device.spare !== true && device.ward === spare.ward && device.careArea === spare.careArea);
  return from === undefined ? null : { from: from.id, to: spare.id };
}

export async function runBenignWard(options: BenignRunOptions): Promise<BenignRunResult> {
  const wallStart = performance.now();
  const { config } = options;
  const startMs = options.startMs ?? DEFAULT_START;
  const clock = new VirtualClock(startMs);
  const monitor = createMonitor(config, { sinks: [new CollectingSink()], logger: pino({ level: 'silent' }) });
  const bus = new MemoryBus();
  let commands = 0;
  bus.onPublish((_identity, topic) => {
    if (topic.endsWith('/command')) commands += 1;
  });
  const broker = new InProcessBroker(bus, monitor.verifier, (observation) => monitor.pipeline.ingest(observation), clock);
  const deviceIndex = new Map(config.devices.map((device, index) => [device.id, index]));
  const ward: Ward = await startWard({ config, clock, linkFactory: broker.linkFactory((identity) => wardAddress(identity, deviceIndex)), seed: options.seed, longStay: true, ...(options.log === undefined ? {} : { log: options.log }) });
  const events: string[] = [];
  const note = (line: string | null): void => {
    if (line === null) return;
    events.push(`${new Date(clock.now()).toISOString().slice(0, 16)}Z ${line}`);
  };
  const swap = swapCandidate(config);
  const plan: { readonly at: number; readonly run: () => Promise<void> }[] = [
    { at: startMs + 3 * HOUR, run: async () => note(await pushLibrary(broker, config, clock, `${config.drugLibrary.version}-b`)) },
    { at: startMs + 4 * DAY + 10 * HOUR, run: async () => note(await pushLibrary(broker, config, clock, `${config.drugLibrary.version}-c`)) },
  ];
  if (swap !== null) {
    plan.push({ at: startMs + 3 * DAY + 14 * HOUR, run: async () => {
      ward.swapPump(swap.from, swap.to);
      note(`${swap.from} swapped for the spare ${swap.to}`);
    } });
  }
  plan.sort((a, b) => a.at - b.at);
  for (const step of plan) {
    if (step.at >= startMs + options.days * DAY) break;
    await advanceWithPromises(clock, step.at);
    await step.run();
  }
  await advanceWithPromises(clock, startMs + options.days * DAY);
  await ward.stop();
  monitor.alerts.flush();
  const judgedFrom = startMs + config.baseline.learningHours * HOUR;
  const alerts = monitor.alerts.list().filter((alert) => Date.parse(alert.ts) >= judgedFrom);
  const judgedDeviceDays = config.devices.length * Math.max(0, options.days - config.baseline.learningHours / 24);
  const bySeverity = Object.fromEntries(SEVERITIES.map((severity) => [severity, alerts.filter((alert) => alert.severity === severity).length])) as Record<Severity, number>;
  const perDeviceDay = Object.fromEntries(SEVERITIES.map((severity) => [severity, judgedDeviceDays === 0 ? 0 : bySeverity[severity] / judgedDeviceDays])) as Record<Severity, number>;
  const byType: Record<string, number> = {};
  for (const alert of alerts) byType[alert.type] = (byType[alert.type] ?? 0) + 1;
  return {
    site: `${config.site.name} (${config.site.ward})`,
    devices: config.devices.length,
    days: options.days,
    learningHours: config.baseline.learningHours,
    judgedDeviceDays,
    publishes: monitor.health.publishes,
    commands,
    alerts,
    bySeverity,
    perDeviceDay,
    byType,
    events,
    wallMs: performance.now() - wallStart,
  };
}
