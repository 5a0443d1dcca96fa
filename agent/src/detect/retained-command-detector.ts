import type { FindingSink } from '../alert/finding.ts';
import { sentBy } from '../alert/format.ts';
import type { PipelineEvent } from '../normalize/events.ts';
import { deviceLabel } from '../normalize/inventory.ts';
import { commandEvidence } from './authorization-detector.ts';
import type { Detector } from './detector.ts';

/**
 * A decoded command published with the retain flag. The broker keeps the last retained
 * message of a topic and delivers it to every new subscriber [MQTT-3.3.1-6], so the
 * device receives the command again each time it reconnects and resubscribes: a rate
 * change that repeats itself after every network blip. Stations never retain commands
 * (docs/protocol.md: only `status` is retained). Stateless.
 */
export class RetainedCommandDetector implements Detector {
  readonly id = 'retained-command';

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind !== 'command' || !event.retained) return;
    report({
      type: 'retained-command',
      ts: event.ts,
      device: event.device,
      dedupKey: `${event.device.config.id}|${event.message.command}`,
      title: `${deviceLabel(event.device)}: ${event.message.command} command was published as retained, so the broker will send it again every time the device reconnects${sentBy(event.source)}`,
      evidence: commandEvidence(event),
    });
  }
}
