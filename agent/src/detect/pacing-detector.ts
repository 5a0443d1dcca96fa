import { ASYNCHRONOUS_PACING_MODES } from '../model/profiles/pacemaker-programmer.ts';
import type { AlertType } from '../alert/catalogue.ts';
import type { FindingSink } from '../alert/finding.ts';
import { sentBy } from '../alert/format.ts';
import type { DeviceCommandEvent, PipelineEvent } from '../normalize/events.ts';
import { deviceLabel } from '../normalize/inventory.ts';
import type { DeviceStateTracker } from '../normalize/device-state.ts';
import { commandEvidence } from './authorization-detector.ts';
import type { Detector } from './detector.ts';

/**
 * Programming that takes a patient's protection away: tachy therapy off, an asynchronous
 * mode (paces regardless of the heart's own rhythm), output off. Critical (DESIGN.md,
 * reference facts); declared procedure windows that make them expected come later.
 * Rates outside the envelope are the device-limits detector's, from the profile.
 */
export class PacingDetector implements Detector {
  readonly id = 'pacing';

  constructor(private readonly state: DeviceStateTracker) {}

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind !== 'command' || event.device.profile.id !== 'pacemaker-programmer' || event.message.command !== 'program') return;
    const { mode, amplitude_v: amplitude, tachy_therapy: tachy } = event.message.params;
    if (tachy === false) this.emit(event, report, 'pacing-tachy-therapy-off', 'tachy therapy switched OFF');
    if (typeof mode === 'string' && ASYNCHRONOUS_PACING_MODES.has(mode)) this.emit(event, report, 'pacing-asynchronous-mode', `asynchronous pacing mode ${mode}`);
    if (amplitude === 0) this.emit(event, report, 'pacing-amplitude-off', 'pacing output switched OFF (amplitude 0 V)');
  }

  private emit(event: DeviceCommandEvent, report: FindingSink, type: AlertType, what: string): void {
    const implant = this.state.get(event.device.config.id)?.telemetry.implant_serial;
    const implantText = typeof implant === 'string' && implant.length > 0 ? ` on implant ${implant}` : '';
    report({
      type,
      ts: event.ts,
      device: event.device,
      dedupKey: event.device.config.id,
      title: `${deviceLabel(event.device)}: ${what}${implantText}${sentBy(event.source)}`,
      evidence: { ...commandEvidence(event), implantSerial: implant ?? null },
    });
  }
}
