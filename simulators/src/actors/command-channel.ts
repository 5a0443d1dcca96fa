import type { AckMessage, CommandMessage, ParamValue } from '../../../agent/src/model/wire.ts';
import type { SimClock } from '../clock.ts';
import { isoTime } from '../clock.ts';
import type { StationTransport } from '../transports/station-transport.ts';

/**
 * How an actor (a nurse station, an EP workstation) talks to devices: it sends commands
 * with unique ids under its account name and matches the devices' answers (acks on MQTT,
 * responses on Modbus: station-transport.ts) to them. The pending table is bounded; an
 * actor that never hears an answer relies on its own timeout.
 */

export interface SentCommand<Context> {
  readonly message: CommandMessage;
  readonly deviceId: string;
  readonly context: Context;
}

export type AckHandler<Context> = (sent: SentCommand<Context>, ack: AckMessage) => void;

export interface CommandChannelOptions<Context> {
  readonly transport: StationTransport;
  readonly clock: SimClock;
  /** MQTT account the commands are sent as (the `issuer` field). */
  readonly issuer: string;
  readonly onAck: AckHandler<Context>;
  /** Commands awaiting an ack at once; the oldest is forgotten beyond it. */
  readonly maxPending?: number;
}

const DEFAULT_MAX_PENDING = 256;

export class CommandChannel<Context> {
  private readonly transport: StationTransport;
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
    this.transport = options.transport;
    this.clock = options.clock;
    this.issuer = options.issuer;
    this.onAck = options.onAck;
    this.maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
    this.runTag = Math.floor(this.clock.now()).toString(36);
  }

  /** Listens for a device's answers; call once per device before sending to it. */
  watch(deviceId: string): void {
    if (this.watched.has(deviceId)) return;
    this.watched.add(deviceId);
    this.transport.watchOutcomes(deviceId, this.onOutcome);
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
    this.transport.send(sent.deviceId, sent.message);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  private readonly onOutcome = (deviceId: string, ack: AckMessage): void => {
    const sent = this.pending.get(ack.id);
    // Acks to other actors' commands share the MQTT topic; they are not ours to handle.
    if (sent === undefined || deviceId !== sent.deviceId) return;
    this.pending.delete(ack.id);
    this.onAck(sent, ack);
  };
}
