import type { FindingSink } from '../alert/finding.ts';
import { formatQuantity, sentBy } from '../alert/format.ts';
import type { BaselineConfig } from '../model/site-schema.ts';
import type { DeviceStateTracker } from '../normalize/device-state.ts';
import type { PipelineEvent } from '../normalize/events.ts';
import { deviceLabel } from '../normalize/inventory.ts';
import { commandEvidence } from './authorization-detector.ts';
import type { Detector } from './detector.ts';

interface Run {
  readonly startTs: number;
  readonly fromRate: number;
  direction: 1 | -1;
  steps: number;
  lastRate: number;
  lastTs: number;
  alerted: boolean;
}

/**
 * Slow creep (issue 5, part 3): rate changes that each pass every limit (no tenfold step,
 * inside the soft limits) but walk the dose in one direction, `creep.steps` of them within
 * `creep.windowMinutes`, together `creep.factor` or more. Nurses titrate a pump every hour
 * or more, by 5–25 %; a script nudging the rate every few minutes does not. One alert per
 * run; the state is one small record per pump of the inventory.
 */
export class RateCreepDetector implements Detector {
  readonly id = 'rate-creep';
  private readonly runs = new Map<string, Run>();

  constructor(private readonly config: BaselineConfig, private readonly state: DeviceStateTracker) {}

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind !== 'command' || this.config.mode === 'off' || event.device.profile.id !== 'infusion-pump') return;
    const deviceId = event.device.config.id;
    const command = event.message.command;
    if (command === 'program_infusion' || command === 'stop') {
      this.runs.delete(deviceId);
      return;
    }
    const rate = event.message.params.rate_ml_h;
    const current = this.state.get(deviceId)?.infusion ?? null;
    if (command !== 'set_rate' || typeof rate !== 'number' || current === null || rate === current.rateMlPerHour) return;
    const direction: 1 | -1 = rate > current.rateMlPerHour ? 1 : -1;
    const windowMs = this.config.creep.windowMinutes * 60_000;
    let run = this.runs.get(deviceId);
    if (run === undefined || run.direction !== direction || event.ts - run.startTs > windowMs || run.lastRate !== current.rateMlPerHour) {
      run = { startTs: event.ts, fromRate: current.rateMlPerHour, direction, steps: 0, lastRate: current.rateMlPerHour, lastTs: event.ts, alerted: false };
      this.runs.set(deviceId, run);
    }
    run.steps += 1;
    run.lastRate = rate;
    run.lastTs = event.ts;
    const factor = direction === 1 ? rate / run.fromRate : run.fromRate / rate;
    if (run.alerted || run.steps < this.config.creep.steps || factor < this.config.creep.factor) return;
    run.alerted = true;
    const minutes = Math.max(1, Math.round((event.ts - run.startTs) / 60_000));
    report({
      type: 'baseline-rate-creep',
      ts: event.ts,
      device: event.device,
      dedupKey: deviceId,
      title: `${deviceLabel(event.device)}: ${current.drug} rate walked ${direction === 1 ? 'up' : 'down'} from ${formatQuantity(run.fromRate)} to ${formatQuantity(rate)} mL/h in ${run.steps} small steps within ${minutes} min${sentBy(event.source)}`,
      evidence: { ...commandEvidence(event), creep: { fromRate: run.fromRate, toRate: rate, steps: run.steps, minutes, factor, drug: current.drug } },
    });
  }
}
