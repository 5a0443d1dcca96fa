import type { DetectionEngine } from './detect/detection-engine.ts';
import type { AgentHealth } from './health/agent-health.ts';
import type { Observation } from './ingest/observation.ts';
import type { DeviceState, DeviceStateTracker } from './normalize/device-state.ts';
import type { PipelineEvent } from './normalize/events.ts';
import type { Normalizer } from './normalize/normalizer.ts';

/**
 * The data path as plain synchronous calls (DESIGN.md, "The pipeline"): observation →
 * event → detectors → device state. Detectors see the state as it was before the event;
 * the state is updated after them.
 */
export class Pipeline {
  constructor(
    private readonly normalizer: Normalizer,
    private readonly engine: DetectionEngine,
    private readonly state: DeviceStateTracker,
    private readonly health: AgentHealth,
    private readonly onDeviceChange: (state: DeviceState) => void,
  ) {}

  ingest(observation: Observation): void {
    if (observation.kind === 'mqtt-publish') this.health.countPublish(Date.now());
    const event = this.normalizer.normalize(observation);
    if (event !== null) this.process(event);
  }

  process(event: PipelineEvent): void {
    if (event.kind === 'anomaly') this.health.countAnomaly(event.name);
    this.engine.process(event);
    const changed = this.state.apply(event);
    if (changed !== null) this.onDeviceChange(changed);
  }
}
