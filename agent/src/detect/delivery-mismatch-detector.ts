import type { FindingSink } from '../alert/finding.ts';
import { formatQuantity } from '../alert/format.ts';
import type { BaselineConfig } from '../model/site-schema.ts';
import type { PipelineEvent, TelemetryEvent } from '../normalize/events.ts';
import { deviceLabel } from '../normalize/inventory.ts';
import { ownWord } from './baseline/baseline-learner.ts';
import type { Detector } from './detector.ts';

interface Sample {
  readonly ts: number;
  readonly state: string;
  readonly rate: number;
  readonly infused: number;
}

interface Window {
  startTs: number;
  expectedMl: number;
  deliveredMl: number;
  rate: number;
}

const HOUR_MS = 3_600_000;

/**
 * Commanded versus delivered (issue 5, part 3; B. Braun SpaceCom, CVE-2021-33885: a pump
 * reconfigured while its display shows the prescribed value). Between two telemetry
 * reports of a running pump at the same rate, with no command in between, the infused
 * volume must grow by rate × time. Over at least `delivery.minMinutes` and
 * `delivery.minVolumeMl` of expected volume, a ratio off by more than `delivery.tolerance`
 * is an alert; the window then starts again. A bolus, a rate change, a pause, an alarm or a
 * telemetry gap of more than three periods starts the window again too.
 */
export class DeliveryMismatchDetector implements Detector {
  readonly id = 'delivery-mismatch';
  private readonly last = new Map<string, Sample>();
  private readonly windows = new Map<string, Window>();
  /** Alerted once per infusion: a new program lets it be judged again. */
  private readonly alerted = new Set<string>();

  constructor(private readonly config: BaselineConfig) {}

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (this.config.mode === 'off') return;
    if (event.kind === 'command' && event.device.profile.id === 'infusion-pump') {
      const deviceId = event.device.config.id;
      this.windows.delete(deviceId);
      this.last.delete(deviceId);
      if (event.message.command === 'program_infusion') this.alerted.delete(deviceId);
      return;
    }
    if (event.kind === 'telemetry' && event.device.profile.id === 'infusion-pump' && ownWord(event)) this.observe(event, report);
  }

  private observe(event: TelemetryEvent, report: FindingSink): void {
    const deviceId = event.device.config.id;
    const { state, rate_ml_h: rate, infused_ml: infused } = event.fields;
    if (typeof state !== 'string' || typeof rate !== 'number' || typeof infused !== 'number') {
      this.last.delete(deviceId);
      return;
    }
    const sample: Sample = { ts: event.ts, state, rate, infused };
    const previous = this.last.get(deviceId);
    this.last.set(deviceId, sample);
    const maxGapMs = 3 * event.device.profile.telemetryIntervalMs;
    if (previous === undefined || previous.state !== 'running' || state !== 'running' || previous.rate !== rate
      || infused < previous.infused || event.ts <= previous.ts || event.ts - previous.ts > maxGapMs) {
      this.windows.delete(deviceId);
      return;
    }
    let window = this.windows.get(deviceId);
    if (window === undefined || window.rate !== rate) {
      window = { startTs: previous.ts, expectedMl: 0, deliveredMl: 0, rate };
      this.windows.set(deviceId, window);
    }
    window.expectedMl += rate * ((event.ts - previous.ts) / HOUR_MS);
    window.deliveredMl += infused - previous.infused;
    const { minMinutes, minVolumeMl, tolerance } = this.config.delivery;
    if (event.ts - window.startTs < minMinutes * 60_000 || window.expectedMl < minVolumeMl) return;
    this.windows.delete(deviceId);
    const ratio = window.deliveredMl / window.expectedMl;
    if (Math.abs(ratio - 1) <= tolerance || this.alerted.has(deviceId)) return;
    this.alerted.add(deviceId);
    const minutes = Math.round((event.ts - window.startTs) / 60_000);
    const drug = typeof event.fields.drug === 'string' && event.fields.drug.length > 0 ? `${event.fields.drug} ` : '';
    report({
      type: 'delivery-mismatch',
      ts: event.ts,
      device: event.device,
      dedupKey: deviceId,
      title: `${deviceLabel(event.device)}: ${drug}pump reports ${formatQuantity(rate)} mL/h but infused ${formatQuantity(window.deliveredMl)} mL in ${minutes} min, where ${formatQuantity(window.expectedMl)} mL were expected (${formatQuantity(ratio)}× the programmed rate)`,
      evidence: { telemetry: event.fields, delivery: { rateMlH: rate, minutes, expectedMl: window.expectedMl, deliveredMl: window.deliveredMl, ratio } },
    });
  }
}
