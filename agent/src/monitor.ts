import type { Logger } from 'pino';
import type { SiteConfig } from './model/site-schema.ts';
import { AlertManager } from './alert/alert-manager.ts';
import type { AlertSink } from './alert/alert-sink.ts';
import type { StoredSuppression } from './alert/suppression-window.ts';
import { AuthFailureDetector } from './detect/auth-failure-detector.ts';
import { AuthorizationDetector } from './detect/authorization-detector.ts';
import { BroadSubscriptionDetector } from './detect/broad-subscription-detector.ts';
import { CommandPolicy } from './detect/command-policy.ts';
import { CommandReplayDetector } from './detect/command-replay-detector.ts';
import { CommandStaleDetector } from './detect/command-stale-detector.ts';
import { ConcurrentSessionDetector } from './detect/concurrent-session-detector.ts';
import { ConnectFloodDetector } from './detect/connect-flood-detector.ts';
import { DetectionEngine } from './detect/detection-engine.ts';
import type { Detector } from './detect/detector.ts';
import { DeviceLimitsDetector } from './detect/device-limits-detector.ts';
import { DeviceSilentDetector } from './detect/device-silent-detector.ts';
import { DrugLibraryDetector } from './detect/drug-library-detector.ts';
import { MalformedPayloadDetector } from './detect/malformed-payload-detector.ts';
import { PacingDetector } from './detect/pacing-detector.ts';
import { ModbusFunctionPolicyDetector } from './detect/modbus-function-policy-detector.ts';
import { ModbusScanDetector } from './detect/modbus-scan-detector.ts';
import { ModbusUnitSweepDetector } from './detect/modbus-unit-sweep-detector.ts';
import { ModbusWriteBurstDetector } from './detect/modbus-write-burst-detector.ts';
import { ModbusWritePolicyDetector } from './detect/modbus-write-policy-detector.ts';
import { CaptureEvasionDetector } from './detect/capture-evasion-detector.ts';
import { PublishFloodDetector } from './detect/publish-flood-detector.ts';
import { RetainedCommandDetector } from './detect/retained-command-detector.ts';
import { BaselineCadenceDetector } from './detect/baseline/baseline-cadence-detector.ts';
import { BaselineCommanderDetector } from './detect/baseline/baseline-commander-detector.ts';
import { BaselineHourDetector } from './detect/baseline/baseline-hour-detector.ts';
import { BaselineLearner } from './detect/baseline/baseline-learner.ts';
import { BaselineModel } from './detect/baseline/baseline-model.ts';
import { BaselineSequenceDetector } from './detect/baseline/baseline-sequence-detector.ts';
import { BaselineValueDetector } from './detect/baseline/baseline-value-detector.ts';
import { DeliveryMismatchDetector } from './detect/delivery-mismatch-detector.ts';
import { RateCreepDetector } from './detect/rate-creep-detector.ts';
import { VersionChangeDetector } from './detect/version-change-detector.ts';
import { localTimeConverter } from './model/local-time.ts';
import { AgentHealth, type IngestStallTimes } from './health/agent-health.ts';
import { MqttAccountVerifier } from './ingest/mqtt-account-verifier.ts';
import { DeviceStateTracker, type DeviceState } from './normalize/device-state.ts';
import { Inventory } from './normalize/inventory.ts';
import { Normalizer } from './normalize/normalizer.ts';
import { FindingRecorder, Pipeline, type EventObserver } from './pipeline.ts';
import { ModbusNormalizer } from './normalize/modbus-normalizer.ts';
import type { AlertView } from './server/dashboard-protocol.ts';

export interface MonitorOptions {
  readonly sinks: readonly AlertSink[];
  readonly logger: Logger;
  readonly initialAlerts?: readonly AlertView[];
  /** The suppression windows stored beside them (store/alert-store.ts), for the alert manager to rebuild its table. */
  readonly initialSuppressions?: readonly StoredSuppression[];
  /** Wall-clock time of the start, epoch ms, against which those windows are judged; default now (tests set it). */
  readonly startedAt?: number;
  readonly connectedClients?: () => number;
  readonly tapGapSince?: () => number | null;
  readonly onDeviceChange?: (state: DeviceState) => void;
  /** Every event, after the detectors and the device state have seen it (history, exports, metrics). */
  readonly onEvent?: EventObserver;
  /** Restores a saved baseline into the fresh model before the first event (baseline-file.ts). */
  readonly restoreBaseline?: (model: BaselineModel) => void;
  /** Shorter ingest-stall and start-up grace times for health (tests). */
  readonly ingestStall?: Partial<IngestStallTimes>;
}

/** Everything between an ingest adapter and the alert sinks, built from the frozen config. */
export interface Monitor {
  readonly pipeline: Pipeline;
  readonly alerts: AlertManager;
  readonly state: DeviceStateTracker;
  readonly health: AgentHealth;
  readonly verifier: MqttAccountVerifier;
  /** Every detector in the order they run; for health and for tests of their bounded state. */
  readonly detectors: readonly Detector[];
  /** Runs the detectors; its error counts and sampled timings feed /metrics. */
  readonly engine: DetectionEngine;
  /** The replay detector, one of `detectors`: its re-send and eviction counts feed /metrics. */
  readonly replay: CommandReplayDetector;
  /** The learned baseline (issue 5): persisted by the agent, exported and imported by the CLI. */
  readonly baseline: BaselineModel;
}

/**
 * Builds the pipeline with no I/O of its own, so the agent, replays and tests run the
 * very same detectors (DESIGN.md: live or replayed, the same bytes give the same alerts).
 */
export function createMonitor(config: SiteConfig, options: MonitorOptions): Monitor {
  const inventory = new Inventory(config);
  const verifier = new MqttAccountVerifier(config.mqtt.accounts);
  const state = new DeviceStateTracker(inventory);
  const alerts = new AlertManager(options.sinks, config.detection.suppressionSeconds * 1000, options.logger, {
    alerts: options.initialAlerts ?? [],
    suppressions: options.initialSuppressions ?? [],
    at: options.startedAt ?? Date.now(),
  });
  const policy = new CommandPolicy(config);
  const baseline = new BaselineModel(config.baseline);
  options.restoreBaseline?.(baseline);
  const siteClock = localTimeConverter(config.site.timezone);
  const roleOf = (account: string) => verifier.roleOf(account);
  const findings = new FindingRecorder();
  const replay = new CommandReplayDetector(config.detection);
  const detectors: readonly Detector[] = [
    new AuthorizationDetector(policy, roleOf),
    new DrugLibraryDetector(config, state),
    new DeviceLimitsDetector(),
    new PacingDetector(state),
    new AuthFailureDetector(config.detection),
    new MalformedPayloadDetector(config.detection),
    new CaptureEvasionDetector(),
    // Behaviour: floods, snooping, replays, silence, shared logins.
    new ConnectFloodDetector(config.detection, inventory),
    new PublishFloodDetector(config.detection, inventory),
    new BroadSubscriptionDetector(inventory),
    replay,
    new CommandStaleDetector(config.detection),
    new RetainedCommandDetector(),
    new DeviceSilentDetector(config.detection, inventory),
    new ConcurrentSessionDetector(inventory),
    // Modbus/TCP (issue 4): function codes, register writes, scans, sweeps, bursts.
    new ModbusFunctionPolicyDetector(config),
    new ModbusWritePolicyDetector(policy),
    new ModbusScanDetector(config.detection),
    new ModbusUnitSweepDetector(config.detection),
    new ModbusWriteBurstDetector(config.detection),
    // Behaviour against the pump's own word (issue 5): creep, commanded ≠ delivered, versions.
    new RateCreepDetector(config.baseline, state),
    new DeliveryMismatchDetector(config.baseline),
    new VersionChangeDetector(policy, roleOf),
    // Learned baselines (issue 5): deviations first, then the learner, which skips what they flagged.
    new BaselineValueDetector(baseline, config.drugLibrary, state),
    new BaselineCommanderDetector(baseline),
    new BaselineHourDetector(baseline, siteClock),
    new BaselineSequenceDetector(baseline),
    new BaselineCadenceDetector(baseline),
    new BaselineLearner(baseline, config.drugLibrary, state, siteClock, () => findings.ofEvent()),
  ];
  const engine = new DetectionEngine(
    detectors,
    (finding) => {
      findings.record(finding);
      alerts.raise(finding);
    },
    options.logger,
  );
  const health = new AgentHealth({
    mqttClients: options.connectedClients ?? (() => 0),
    alertsRaised: () => alerts.raisedCount,
    sinkFailures: () => alerts.sinkFailures,
    detectorErrors: () => engine.errorsByDetector,
    expectsTraffic: config.devices.length > 0,
    baseline: () => baseline.health(),
    ...(options.tapGapSince === undefined ? {} : { tapGapSince: options.tapGapSince }),
    ...(options.ingestStall === undefined ? {} : { stall: options.ingestStall }),
  });
  const onDeviceChange = options.onDeviceChange ?? (() => undefined);
  const pipeline = new Pipeline(new Normalizer(inventory, (account) => verifier.roleOf(account)), new ModbusNormalizer(inventory), engine, state, health, findings, onDeviceChange, options.onEvent ?? null);
  return { pipeline, alerts, state, health, verifier, detectors, engine, baseline, replay };
}
