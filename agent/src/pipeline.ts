import type { AlertType } from './alert/catalogue.ts';
import type { Finding } from './alert/finding.ts';
import type { DetectionEngine } from './detect/detection-engine.ts';
import type { AgentHealth } from './health/agent-health.ts';
import type { ObservedVia } from './health/observation-counters.ts';
import type { Observation } from './ingest/observation.ts';
import type { DeviceState, DeviceStateTracker } from './normalize/device-state.ts';
import type { PipelineEvent } from './normalize/events.ts';
import type { ModbusNormalizer } from './normalize/modbus-normalizer.ts';
import type { Normalizer } from './normalize/normalizer.ts';

const NONE: readonly AlertType[] = Object.freeze([]);

/**
 * Notes the types of the findings made while one observation is processed, so that an
 * in-path ingest (the Modbus gateway in enforce mode) can decide whether to block it.
 */
export class FindingRecorder {
  private readonly types: AlertType[] = [];

  readonly record = (finding: Finding): void => {
    this.types.push(finding.type);
  };

  reset(): void {
    this.types.length = 0;
    this.eventStart = 0;
  }

  taken(): readonly AlertType[] {
    return this.types.length === 0 ? NONE : [...this.types];
  }

  private eventStart = 0;

  /** Marks the start of one event's findings (an observation may give several events). */
  beginEvent(): void {
    this.eventStart = this.types.length;
  }

  /** The types noted since the current event began: read by the outputs, and by the baseline learner so far. */
  ofEvent(): readonly AlertType[] {
    return this.types.length <= this.eventStart ? NONE : this.types.slice(this.eventStart);
  }
}

/**
 * Sees every event after the detectors and the device state, with the types of the
 * findings the detectors made on it (empty: the event passed every check). Outputs such as
 * InfluxDB mark a command accepted or flagged from them.
 */
export type EventObserver = (event: PipelineEvent, findings: readonly AlertType[]) => void;

/**
 * The data path as plain synchronous calls (DESIGN.md, "The pipeline"): observation →
 * event(s) → detectors → device state. Detectors see the state as it was before the event;
 * the state is updated after them.
 */
export class Pipeline {
  constructor(
    private readonly normalizer: Normalizer,
    private readonly modbusNormalizer: ModbusNormalizer,
    private readonly engine: DetectionEngine,
    private readonly state: DeviceStateTracker,
    private readonly health: AgentHealth,
    private readonly findings: FindingRecorder,
    private readonly onDeviceChange: (state: DeviceState) => void,
    /** After the detectors and the state: outputs that want every event (device history, InfluxDB, metrics). */
    private readonly onEvent: EventObserver | null = null,
  ) {}

  /**
   * Processes one observation; returns the types of the findings it caused (usually none).
   * `via`: how it was seen, for /metrics; a capture says so, the tap marks its publishes.
   */
  ingest(observation: Observation, via: ObservedVia = observation.kind === 'mqtt-publish' && observation.via === 'tap' ? 'tap' : 'in-path'): readonly AlertType[] {
    this.findings.reset();
    this.health.observations.count(observation, via);
    switch (observation.kind) {
      case 'modbus-request':
      case 'modbus-response':
      case 'modbus-anomaly':
        this.health.countPublish(Date.now());
        for (const event of this.modbusNormalizer.normalize(observation)) this.process(event);
        break;
      default: {
        if (observation.kind === 'mqtt-publish') this.health.countPublish(Date.now());
        const event = this.normalizer.normalize(observation);
        if (event !== null) this.process(event);
      }
    }
    return this.findings.taken();
  }

  process(event: PipelineEvent): void {
    if (event.kind === 'anomaly') this.health.countAnomaly(event.name);
    this.findings.beginEvent();
    this.engine.process(event);
    const changed = this.state.apply(event);
    if (changed !== null) this.onDeviceChange(changed);
    this.onEvent?.(event, this.findings.ofEvent());
  }
}
