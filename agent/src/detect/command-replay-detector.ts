import type { FindingSink } from '../alert/finding.ts';
import { sentBy } from '../alert/format.ts';
import type { DetectionConfig } from '../model/site-schema.ts';
import type { PipelineEvent } from '../normalize/events.ts';
import { deviceLabel } from '../normalize/inventory.ts';
import { commandEvidence } from './authorization-detector.ts';
import { boundedKey, shortName } from './bounded-key.ts';
import type { Detector } from './detector.ts';
import { formatDuration } from './duration.ts';

/**
 * Command ids remembered per device, least recently seen evicted first (counted). A ward
 * sends a pump a few dozen commands a day, so 4,096 covers the 24 h window many times
 * over; an id evicted early can be replayed unnoticed, which is why evictions are counted.
 * Tables exist only for inventory devices (commands to unknown devices never decode), so
 * the whole state is at most devices × 4,096 ids of ≤ 128 characters.
 */
export const REPLAY_MAX_IDS_PER_DEVICE = 4096;

interface SeenCommand {
  readonly ts: number;
  readonly sender: string;
  readonly command: string;
}

/**
 * A command whose `id` was already received for the same device within
 * `detection.replay.windowHours`: a captured command sent again (Medfusion 4000 and
 * SpaceCom-style replays; DESIGN.md, reference facts). Honest stations give every command
 * a fresh id, and the simulators make theirs unique across runs for this reason.
 */
export class CommandReplayDetector implements Detector {
  readonly id = 'command-replay';
  private readonly seen = new Map<string, Map<string, SeenCommand>>();
  /** Ids forgotten because a device's table was full. */
  evictions = 0;

  constructor(private readonly config: DetectionConfig) {}

  /** Ids remembered for a device; at most REPLAY_MAX_IDS_PER_DEVICE. */
  idsTracked(deviceId: string): number {
    return this.seen.get(deviceId)?.size ?? 0;
  }

  get devicesTracked(): number {
    return this.seen.size;
  }

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind !== 'command') return;
    const deviceId = event.device.config.id;
    let ids = this.seen.get(deviceId);
    if (ids === undefined) {
      ids = new Map();
      this.seen.set(deviceId, ids);
    }
    const id = boundedKey(event.message.id);
    const sender = event.source.account ?? `anonymous@${event.source.address}`;
    const windowMs = this.config.replay.windowHours * 3_600_000;
    const previous = ids.get(id);
    if (previous !== undefined) {
      // Re-insert so that Map order is least recently seen first.
      ids.delete(id);
      const ageMs = event.ts - previous.ts;
      if (Math.abs(ageMs) <= windowMs) {
        // Keep the first sighting: every later copy within the window is a replay of it.
        ids.set(id, previous);
        report({
          type: 'command-replay',
          ts: event.ts,
          device: event.device,
          dedupKey: `${deviceId}|${boundedKey(sender)}`,
          title: `${deviceLabel(event.device)}: ${event.message.command} command with the id of one already received ${formatDuration(Math.max(0, ageMs))} earlier (replay window ${this.config.replay.windowHours} h)${sentBy(event.source.account, event.source.address)}`,
          evidence: {
            ...commandEvidence(event),
            firstReceivedTs: previous.ts,
            firstSender: shortName(previous.sender, 256),
            firstCommand: previous.command,
            ageMs,
            windowHours: this.config.replay.windowHours,
          },
        });
        return;
      }
    } else if (ids.size >= REPLAY_MAX_IDS_PER_DEVICE) {
      const oldest = ids.keys().next().value;
      if (oldest !== undefined) ids.delete(oldest);
      this.evictions += 1;
    }
    ids.set(id, { ts: event.ts, sender: boundedKey(sender), command: event.message.command });
  }
}
