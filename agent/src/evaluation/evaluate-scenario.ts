import { pino } from 'pino';
import { VirtualClock } from '../../../simulators/src/clock.ts';
import { ScenarioRunner, type RunOutcome } from '../../../simulators/src/scenarios/scenario-runner.ts';
import type { Scenario } from '../../../simulators/src/scenarios/scenario-schema.ts';
import type { WardControl } from '../../../simulators/src/scenarios/actor-transport.ts';
import type { LinkIdentity } from '../../../simulators/src/transports/device-link.ts';
import { MemoryBus } from '../../../simulators/src/transports/memory-bus.ts';
import { startWard, type Ward } from '../../../simulators/src/ward.ts';
import type { AlertSink } from '../alert/alert-sink.ts';
import type { SiteConfig } from '../model/site-schema.ts';
import { topicFor } from '../model/wire.ts';
import { createMonitor } from '../monitor.ts';
import type { AlertView } from '../server/dashboard-protocol.ts';
import type { ObservationSink } from '../ingest/observation.ts';
import { InProcessBroker } from './in-process-broker.ts';
import { InProcessModbusGateway } from './in-process-modbus.ts';
import { ModbusRegisterBank } from '../../../simulators/src/devices/modbus-register-bank.ts';
import { scoreScenario, type ScenarioScore } from './scoring.ts';
import { tapView } from './tap-view.ts';
import { advanceWithPromises } from './virtual-time.ts';

export interface EvaluationOptions {
  readonly config: SiteConfig;
  /** Seed of the background ward; the same seed gives the same day. */
  readonly seed: number;
  /** Virtual start of the ward's day. */
  readonly startMs?: number;
  readonly log?: (line: string) => void;
}

export interface ScenarioEvaluation extends ScenarioScore {
  readonly scenario: Scenario;
  readonly triggerAt: number;
  /** Simulated time the evaluation covered, warm-up included. */
  readonly simulatedMs: number;
  /** Wall time it took. */
  readonly wallMs: number;
  readonly skippedSteps: readonly string[];
  readonly alerts: readonly AlertView[];
}

/** After the last step, the run goes on for the longest latency bound plus this much, to catch late and unexpected alerts. */
export const SETTLE_MS = 60_000;
/** A scenario whose steps run this far past their plan is broken. */
const MAX_OVERRUN_MS = 60 * 60_000;
/** A Monday morning, so that a scenario with the long-run routine finds the EP clinic open on its first day. */
export const DEFAULT_START = Date.parse('2026-11-30T06:30:00Z');

export class CollectingSink implements AlertSink {
  readonly name = 'evaluation';
  alertRaised(): void {}
  alertUpdated(): void {}
}

/** Ward addresses: devices on 10.4.1.0/24, the ward's own stations on 10.4.0.0/24. */
export function wardAddress(identity: LinkIdentity, deviceIndex: Map<string, number>): string {
  const index = deviceIndex.get(identity.clientId);
  if (index !== undefined) return `10.4.1.${10 + index}`;
  return identity.clientId.startsWith('ep-') ? '10.4.0.11' : '10.4.0.10';
}

function wardControl(ward: Ward, broker: InProcessBroker, log?: (line: string) => void): WardControl {
  return {
    silence: (deviceId) => {
      if (!broker.silence(deviceId)) log?.(`silence: no device ${deviceId} in the ward`);
    },
    reboot: (deviceId, downtimeMs) => {
      const rebooted = broker.reboot(deviceId, downtimeMs, { topic: topicFor(deviceId, 'status'), payload: 'offline' }, { topic: topicFor(deviceId, 'status'), payload: 'online' });
      if (!rebooted) log?.(`reboot: no device ${deviceId} in the ward`);
    },
    occlusion: (deviceId) => {
      const pump = ward.pumps.find((candidate) => candidate.deviceId === deviceId);
      if (pump === undefined || !pump.raiseOcclusion()) log?.(`occlusion: ${deviceId} is not a running pump`);
    },
    reconfigureDelivery: (deviceId, factor) => {
      const pump = ward.pumps.find((candidate) => candidate.deviceId === deviceId);
      if (pump === undefined || !pump.reconfigureDelivery(factor)) log?.(`reconfigureDelivery: no pump ${deviceId} in the ward`);
    },
    shiftChange: (withinMs) => {
      const reviewed = ward.nurseStations.reduce((sum, station) => sum + station.reviewAllInfusions(withinMs), 0);
      log?.(`shift change: ${reviewed} infusions reviewed`);
    },
  };
}

/**
 * One scenario over a fresh agent and a simulated ward, in virtual time: the agent's
 * real pipeline (createMonitor) fed by the in-process broker, the ward's normal day in
 * the background, the scenario's actors on top, then the score.
 */
export async function evaluateScenario(scenario: Scenario, options: EvaluationOptions): Promise<ScenarioEvaluation> {
  const wallStart = performance.now();
  const startMs = options.startMs ?? DEFAULT_START;
  const clock = new VirtualClock(startMs);
  const monitor = createMonitor(options.config, { sinks: [new CollectingSink()], logger: pino({ level: 'silent' }) });
  const ingest: ObservationSink = (observation) => monitor.pipeline.ingest(observation);
  // Through the tap the agent sees publishes without their senders, and no logins (tap-view.ts).
  const broker = new InProcessBroker(new MemoryBus(), monitor.verifier, scenario.via === 'tap' ? tapView(ingest) : ingest, clock);
  const deviceIndex = new Map(options.config.devices.map((device, index) => [device.id, index]));
  const ward = await startWard({ config: options.config, clock, linkFactory: broker.linkFactory((identity) => wardAddress(identity, deviceIndex)), seed: options.seed, longStay: scenario.longStay });

  await advanceWithPromises(clock, startMs + scenario.warmup);
  const passwords = new Map(options.config.mqtt.accounts.map((account) => [account.username, account.password]));
  // Every simulated device answers Modbus too, through the in-process gateway.
  const banks = new Map([...ward.pumps, ...ward.programmers].map((device) => [device.deviceId, new ModbusRegisterBank({ device, clock })]));
  const profiles = new Map(options.config.devices.map((device) => [device.id, device.profile]));
  const runner = new ScenarioRunner(scenario, {
    clock,
    transport: broker,
    modbus: new InProcessModbusGateway((observation) => monitor.pipeline.ingest(observation), clock, banks),
    deviceKind: (deviceId) => profiles.get(deviceId),
    ward: wardControl(ward, broker, options.log),
    passwordOf: (username) => passwords.get(username),
    ...(options.log === undefined ? {} : { log: options.log }),
  });
  const settled: { outcome: RunOutcome | null } = { outcome: null };
  const running = runner.run(clock.now()).then((outcome) => {
    settled.outcome = outcome;
  });
  const longestBound = scenario.expect === 'none' ? 0 : Math.max(...scenario.expect.alerts.map((expected) => expected.within));
  const lastOffset = Math.max(...scenario.steps.map((step) => step.at + (step.repeat === undefined ? 0 : (step.repeat.count - 1) * step.repeat.every)));
  await advanceWithPromises(clock, clock.now() + lastOffset + longestBound + SETTLE_MS);
  // Actions that wait on the clock (logins one after another) may end past their planned offsets.
  for (let extra = 0; settled.outcome === null && extra < MAX_OVERRUN_MS; extra += SETTLE_MS) {
    await advanceWithPromises(clock, clock.now() + SETTLE_MS);
  }
  const result = settled.outcome as RunOutcome | null;
  if (result === null) throw new Error(`${scenario.name}: the steps did not finish within ${MAX_OVERRUN_MS / 60_000} simulated minutes of overrun`);
  await running;
  await advanceWithPromises(clock, Math.max(clock.now(), result.lastStepAt + longestBound + SETTLE_MS));
  await runner.close();
  await ward.stop();
  monitor.alerts.flush();
  const alerts = monitor.alerts.list();
  const score = scoreScenario(scenario, alerts, result.triggerAt);
  return {
    ...score,
    scenario,
    triggerAt: result.triggerAt,
    simulatedMs: clock.now() - startMs,
    wallMs: performance.now() - wallStart,
    skippedSteps: result.skippedSteps,
    alerts,
  };
}
