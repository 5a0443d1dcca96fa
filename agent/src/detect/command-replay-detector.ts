import type { FindingSink } from '../alert/finding.ts';
import { sentBy } from '../alert/format.ts';
import type { MqttConnection } from '../ingest/observation.ts';
import type { DetectionConfig } from '../model/site-schema.ts';
import type { DeviceCommandEvent, PipelineEvent, PublishedCommand } from '../normalize/events.ts';
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
 * the whole state is at most devices × 4,096 ids of ≤ 128 characters, each with its
 * sender and client id (≤ 256 characters each) and, for QoS 1/2, a 44-character digest
 * and two connection numbers.
 */
export const REPLAY_MAX_IDS_PER_DEVICE = 4096;

/**
 * How long after the first copy a second one can still be its publisher's QoS 1 re-send.
 * A client re-sends an unacknowledged PUBLISH when it reconnects [MQTT-4.4.0-1]; it finds
 * a dead connection within 1.5 keep-alives without an answer (mqtt.js KeepaliveManager;
 * the server's rule is the same [MQTT-3.1.2-24]), 45–90 s for the usual 30–60 s, then
 * reconnects within seconds (mqtt.js: 1 s). The session's own lifetime is not visible to
 * the agent, so the bound is a fixed 5 min: three to six keep-alives of slack, and half
 * `detection.replay.maxCommandAgeSeconds`' default, so a copy later than this is judged
 * as a replay (and a late copy is also stale).
 */
export const HONEST_RESEND_MAX_MS = 5 * 60_000;

/**
 * Re-sends of one command taken as honest, each on a later connection than the copy
 * before it. A client re-sends an unacknowledged PUBLISH once per reconnect
 * [MQTT-4.4.0-1]; a second reconnect within HONEST_RESEND_MAX_MS re-sends it again if the
 * PUBACK of the first re-send was lost too (a flapping or roaming Wi-Fi link), which is
 * still honest. Every copy taken is delivered to the device again (QoS 1 is
 * at-least-once), so the exemption is capped: at most three deliveries of one command
 * without an alert; a third re-send within 5 min is a link too broken to trust, and is
 * judged as a replay.
 */
export const HONEST_RESENDS_MAX = 2;

interface SeenCommand {
  readonly ts: number;
  readonly sender: string;
  readonly clientId: string;
  readonly command: string;
  /** The first copy's QoS 1/2 header and payload digest; undefined when not seen (QoS 0, tap). */
  readonly published: PublishedCommand | undefined;
  /** Copies taken as its publisher's re-send so far, at most HONEST_RESENDS_MAX. */
  resends: number;
  /** The connection of the latest copy taken (the first, or its last re-send): a re-send must come on a later one. */
  latestConnection: MqttConnection | undefined;
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
 * Why a copy of a command is not its publisher's honest QoS 1/2 re-send, or null when it
 * is. MQTT is at-least-once at QoS 1: a client whose PUBACK was lost sends the same
 * PUBLISH again after reconnecting, with the same packet id and DUP set (MQTT 3.1.1
 * §3.3.1.1 [MQTT-3.3.1-1], §4.4 [MQTT-4.4.0-1]). DUP is the sender's own claim, so it
 * counts only together with everything a replay by anyone else would change: the same
 * client id and account, the same packet id, the same payload bytes, and a short time;
 * and with what the protocol allows the sender itself: a re-send only on a later
 * connection than the copy before it (reconnect is the only time a client re-sends:
 * 3.1.1 §4.4, and 5.0 §4.4 [MQTT-4.4.0-1] forbids any other), at most
 * HONEST_RESENDS_MAX times. The CONNECT's CleanSession is not required to be 0, though
 * 3.1.1 ties the re-send to it: paho-mqtt (Python), common on gateways, re-sends with
 * DUP=1 after a reconnect with CleanSession=1, its default ("a client will never discard
 * its own outgoing messages on disconnect", client.py), and whoever holds the client's
 * credentials sets that flag as freely as DUP, so requiring it would alarm on honest
 * stations and stop no replayer.
 * `undefined`: no re-send was claimed (no DUP, or the header was not seen).
 */
function notAResend(first: SeenCommand, event: DeviceCommandEvent, sender: string, ageMs: number): string | null | undefined {
  const copy = event.published;
  if (copy === undefined || !copy.dup) return undefined;
  // A captured session whose login the capture missed has no client id to compare.
  if (event.source.transport !== 'mqtt') return 'the sender of the copy is not known';
  if (first.published === undefined) return 'the first copy was not seen as a QoS 1 or 2 PUBLISH';
  if (boundedKey(event.source.clientId) !== first.clientId) return 'another client id than the first copy';
  if (sender !== first.sender) return 'another account than the first copy';
  if (copy.packetId !== first.published.packetId) return `another packet id (${copy.packetId}) than the first copy (${first.published.packetId})`;
  if (copy.payloadDigest !== first.published.payloadDigest) return 'a payload that differs from the first copy';
  if (ageMs < 0 || ageMs > HONEST_RESEND_MAX_MS) return `${formatDuration(Math.max(0, ageMs))} after the first copy, more than the ${formatDuration(HONEST_RESEND_MAX_MS)} a re-send takes`;
  const latest = first.latestConnection ?? first.published.connection;
  const previous = first.resends === 0 ? 'the first copy' : 'its last re-send';
  if (copy.connection.ingest !== latest.ingest) return `seen ${copy.connection.ingest} and ${previous} ${latest.ingest}: not comparable connections`;
  if (copy.connection.sequence === latest.sequence) return `the same connection as ${previous}: a client re-sends only after reconnecting`;
  if (copy.connection.sequence < latest.sequence) return `an earlier connection than ${previous}`;
  if (first.resends >= HONEST_RESENDS_MAX) return `already re-sent ${first.resends} times, the most taken as honest`;
  return null;
}

/**
 * A command whose `id` was already received for the same device within
 * `detection.replay.windowHours`: a captured command sent again (Medfusion 4000 and
 * SpaceCom-style replays; DESIGN.md, reference facts). Honest stations give every command
 * a fresh id, and the simulators make theirs unique across runs for this reason.
 *
 * The one honest copy is the publisher's own QoS 1/2 re-send after a lost acknowledgement
 * and a reconnect, at most HONEST_RESENDS_MAX per command (notAResend): counted in
 * `resends`, not alerted, so that it never reaches the nurse's screen. It is recognised only where the agent sees the publisher's own PUBLISH (in-path
 * broker, the client side of a capture). Through the MQTT tap the broker's delivery has
 * its own packet id and DUP [MQTT-3.3.1-3], so there every copy stays a replay.
 */
export class CommandReplayDetector implements Detector {
  readonly id = 'command-replay';
  private readonly seen = new Map<string, DeviceIds>();
  /** Ids forgotten because a device's table was full. */
  evictions = 0;
  /** Copies taken as their publisher's QoS 1/2 re-send (notAResend) and not alerted. */
  resends = 0;

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
    const senderKey = boundedKey(sender);
    const previous = ids.get(id);
    if (previous !== undefined) {
      const ageMs = event.ts - previous.ts;
      if (Math.abs(ageMs) <= windowMs) {
        // Keep the first sighting: every later copy within the window is a replay of it,
        // or a re-send of it (timed from it, so re-sends cannot stretch the bound).
        const refused = notAResend(previous, event, senderKey, ageMs);
        if (refused === null) {
          previous.resends += 1;
          previous.latestConnection = event.published?.connection;
          this.resends += 1;
          return;
        }
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
            // DUP set, yet not the publisher's re-send: what gave it away, for the engineer.
            ...(refused === undefined ? {} : { dup: true, packetId: event.published?.packetId ?? null, notAResendBecause: refused }),
          },
        });
        return;
      }
      // Outside the window: a legitimate reuse of an old id; remember the new sighting.
      ids.set(id, this.sighting(event, senderKey));
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
    ids.set(id, this.sighting(event, senderKey));
  }

  private sighting(event: DeviceCommandEvent, sender: string): SeenCommand {
    return { ts: event.ts, sender, clientId: boundedKey(event.source.clientId), command: event.message.command, published: event.published, resends: 0, latestConnection: event.published?.connection };
  }
}
