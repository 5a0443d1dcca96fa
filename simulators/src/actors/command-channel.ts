import type { AckMessage, CommandMessage, ParamValue } from '../../../agent/src/model/wire.ts';
import { parseWireTopic, topicFor } from '../../../agent/src/model/wire.ts';
import type { SimClock } from '../clock.ts';
import { isoTime } from '../clock.ts';
import type { DeviceLink } from '../transports/device-link.ts';

/**
 * How an actor (a nurse station, an EP workstation) talks to devices: it sends commands
 * with unique ids under its account name and matches the devices' acks to them. The
 * pending table is bounded; an actor that never hears an ack relies on its own timeout.
 */

export interface SentCommand<Context> {
  readonly message: CommandMessage;
  readonly deviceId: string;
  readonly context: Context;
}

export type AckHandler<Context> = (sent: SentCommand<Context>, ack: AckMessage) => void;

export interface CommandChannelOptions<Context> {
  readonly link: DeviceLink;
  readonly clock: SimClock;
  /** MQTT account the commands are sent as (the `issuer` field). */
  readonly issuer: string;
  readonly onAck: AckHandler<Context>;
  /** Commands awaiting an ack at once; the oldest is forgotten beyond it. */
  readonly maxPending?: number;
}

const DEFAULT_MAX_PENDING = 256;

function parseAck(payload: Buffer): AckMessage | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const record = parsed as Record<string, unknown>;
  if (typeof record.id !== 'string' || typeof record.ok !== 'boolean' || typeof record.ts !== 'string') return null;
  return typeof record.error === 'string'
    ? { id: record.id, ts: record.ts, ok: record.ok, error: record.error }
    : { id: record.id, ts: record.ts, ok: record.ok };
}

export class CommandChannel<Context> {
  private readonly link: DeviceLink;
  private readonly clock: SimClock;
  private readonly issuer: string;
  private readonly onAck: AckHandler<Context>;
  private readonly maxPending: number;
  /** Makes ids unique across runs against the same broker (a repeated id looks like a replay to the agent). */
  private readonly runTag: string;
  private sequence = 0;
  private readonly pending = new Map<string, SentCommand<Context>>();
  private readonly watched = new Set<string>();

  constructor(options: CommandChannelOptions<Context>) {
    this.link = options.link;
    this.clock = options.clock;
    this.issuer = options.issuer;
    this.onAck = options.onAck;
    this.maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
    this.runTag = Math.floor(this.clock.now()).toString(36);
  }

  /** Subscribes to a device's acks; call once per device before sending to it. */
  watch(deviceId: string): void {
    if (this.watched.has(deviceId)) return;
    this.watched.add(deviceId);
    this.link.subscribe(topicFor(deviceId, 'ack'), this.onAckMessage);
  }

  /**
   * Builds a command and registers it as awaiting its ack, without sending it. The actor
   * records what it waits for, then calls `transmit`: over an in-process bus the ack can
   * arrive before `transmit` even returns.
   */
  compose(deviceId: string, user: string, command: string, params: Readonly<Record<string, ParamValue>>, context: Context): SentCommand<Context> {
    this.sequence++;
    const message: CommandMessage = {
      id: `${this.issuer}-${this.runTag}-${this.sequence}`,
      ts: isoTime(this.clock.now()),
      issuer: this.issuer,
      user,
      command,
      params,
    };
    const sent: SentCommand<Context> = { message, deviceId, context };
    if (this.pending.size >= this.maxPending) {
      const oldest = this.pending.keys().next();
      if (oldest.done !== true) this.pending.delete(oldest.value);
    }
    this.pending.set(message.id, sent);
    return sent;
  }

  transmit(sent: SentCommand<Context>): void {
    this.link.publish(topicFor(sent.deviceId, 'command'), JSON.stringify(sent.message), { qos: 1 });
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  private readonly onAckMessage = (topic: string, payload: Buffer): void => {
    const ack = parseAck(payload);
    if (ack === null) return;
    const sent = this.pending.get(ack.id);
    // Acks to other actors' commands share the topic; they are not ours to handle.
    if (sent === undefined || parseWireTopic(topic)?.deviceId !== sent.deviceId) return;
    this.pending.delete(ack.id);
    this.onAck(sent, ack);
  };
}
