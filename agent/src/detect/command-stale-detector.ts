import type { FindingSink } from '../alert/finding.ts';
import { sentBy } from '../alert/format.ts';
import type { DetectionConfig } from '../model/site-schema.ts';
import type { PipelineEvent } from '../normalize/events.ts';
import { deviceLabel } from '../normalize/inventory.ts';
import { commandEvidence } from './authorization-detector.ts';
import { boundedKey } from './bounded-key.ts';
import type { Detector } from './detector.ts';
import { formatDuration } from './duration.ts';

/**
 * ISO-8601 date and time with a zone (`Z` or `±hh:mm`), as the wire contract writes
 * `ts`. A stamp without a zone would be read in the agent's local time, so it does not
 * count as parsed; nor does anything else `Date.parse` happens to accept ("1" is 2001).
 */
const ZONED_ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

/** Epoch ms of a command's own `ts`, or null when it is not a zoned ISO-8601 time. */
export function parseCommandTime(text: string): number | null {
  if (text.length > 40 || !ZONED_ISO_8601.test(text)) return null;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * A command written long before it arrived: its own `ts` is more than
 * `detection.replay.maxCommandAgeSeconds` older than the event time. A captured command
 * re-sent later keeps its old stamp; so does one from a station whose clock is wrong,
 * hence a warning. A `ts` in the future is never flagged (simulators in accelerated time
 * write future stamps), nor one that does not parse. Stateless.
 */
export class CommandStaleDetector implements Detector {
  readonly id = 'command-stale';

  constructor(private readonly config: DetectionConfig) {}

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind !== 'command') return;
    const written = parseCommandTime(event.message.ts);
    if (written === null) return;
    const ageMs = event.ts - written;
    const maxAgeMs = this.config.replay.maxCommandAgeSeconds * 1000;
    if (!(ageMs > maxAgeMs)) return;
    const sender = event.source.account ?? `anonymous@${event.source.address}`;
    report({
      type: 'command-stale',
      ts: event.ts,
      device: event.device,
      dedupKey: `${event.device.config.id}|${boundedKey(sender)}`,
      title: `${deviceLabel(event.device)}: ${event.message.command} command arrived ${formatDuration(ageMs)} after the time written in it (limit ${formatDuration(maxAgeMs)})${sentBy(event.source)}`,
      evidence: { ...commandEvidence(event), writtenTs: written, ageMs, maxCommandAgeSeconds: this.config.replay.maxCommandAgeSeconds },
    });
  }
}
