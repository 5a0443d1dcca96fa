import { deviceLimitViolations } from '../model/command-validation.ts';
import type { FindingSink } from '../alert/finding.ts';
import { formatQuantity, sentBy } from '../alert/format.ts';
import type { PipelineEvent } from '../normalize/events.ts';
import { deviceLabel } from '../normalize/inventory.ts';
import { commandEvidence } from './authorization-detector.ts';
import type { Detector } from './detector.ts';

/**
 * A command parameter outside the device profile's range: a rate the pump cannot run, a
 * pacing rate outside the programmable envelope. Critical whoever sent it: well-formed
 * but impossible values are how fuzzing and tampering show themselves.
 */
export class DeviceLimitsDetector implements Detector {
  readonly id = 'device-limits';

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind !== 'command') return;
    const violations = deviceLimitViolations(event.spec, event.message.params);
    if (violations.length === 0) return;
    const described = violations
      .map((v) => `${v.param} ${formatQuantity(v.value)} ${v.unit} outside ${formatQuantity(v.min)}–${formatQuantity(v.max)}`)
      .join('; ');
    report({
      type: 'device-limit-exceeded',
      ts: event.ts,
      device: event.device,
      dedupKey: `${event.device.config.id}|${violations.map((v) => v.param).join(',')}`,
      title: `${deviceLabel(event.device)}: ${event.message.command} with ${described}${sentBy(event.source)}`,
      evidence: { ...commandEvidence(event), violations },
    });
  }
}
