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
 * The ids seen for one device, oldest evicted first. A ring of insertion order beside the
 * map, so that eviction is O(1): taking the first key of a Map that has seen many
 * deletions walks over their holes.
 */
interface DeviceIds {
  readonly byId: Map<string, SeenCommand>;
  readonly order: string[];
  next: number;
}

/**
 * A command whose `id` was already received for the same device within
 * `detection.replay.windowHours`: a captured command sent again (Medfusion 4000 and
 * SpaceCom-style replays; DESIGN.md, reference facts). Honest stations give every command
 * a fresh id, and the simulators make theirs unique across runs for this reason.
 */
export class CommandReplayDetector implements Detector {
  readonly id = 'command-replay';
  private readonly seen = new Map<string, DeviceIds>();
  /** Ids forgotten because a device's table was full. */
  evictions = 0;

  constructor(private readonly config: DetectionConfig) {}

  /** Ids remembered for a device; at most REPLAY_MAX_IDS_PER_DEVICE. */
  idsTracked(deviceId: string): number {
    return this.seen.get(deviceId)?.byId.size ?? 0;
  }

  get devicesTracked(): number {
    return this.seen.size;
  }

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind !== 'command') return;
    const deviceId = event.device.config.id;
    let device = this.seen.get(deviceId);
    if (device === undefined) {
      device = { byId: new Map(), order: [], next: 0 };
      this.seen.set(deviceId, device);
    }
    const ids = device.byId;
    const id = boundedKey(event.message.id);
    const sender = event.source.account ?? `anonymous@${event.source.address}`;
    const windowMs = this.config.replay.windowHours * 3_600_000;
    const previous = ids.get(id);
    if (previous !== undefined) {
      const ageMs = event.ts - previous.ts;
      if (Math.abs(ageMs) <= windowMs) {
        // Keep the first sighting: every later copy within the window is a replay of it.
        report({
          type: 'command-replay',
          ts: event.ts,
          device: event.device,
          dedupKey: `${deviceId}|${boundedKey(sender)}`,
          title: `${deviceLabel(event.device)}: ${event.message.command} command with the id of one already received ${formatDuration(Math.max(0, ageMs))} earlier (replay window ${this.config.replay.windowHours} h)${sentBy(event.source)}`,
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
      // Outside the window: a legitimate reuse of an old id; remember the new sighting.
      ids.set(id, { ts: event.ts, sender: boundedKey(sender), command: event.message.command });
      return;
    }
    if (device.order.length < REPLAY_MAX_IDS_PER_DEVICE) {
      device.order.push(id);
    } else {
      const evicted = device.order[device.next];
      if (evicted !== undefined) ids.delete(evicted);
      device.order[device.next] = id;
      device.next = (device.next + 1) % REPLAY_MAX_IDS_PER_DEVICE;
      this.evictions += 1;
    }
    ids.set(id, { ts: event.ts, sender: boundedKey(sender), command: event.message.command });
  }
}
