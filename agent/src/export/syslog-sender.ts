import type { Logger } from 'pino';
import { BoundedQueue } from './bounded-queue.ts';
import { CappedBackoff } from './capped-backoff.ts';

/** One formatted syslog message waiting for its collector. */
export interface QueuedSyslogMessage {
  /** The RFC 5424 message, without transport framing. */
  readonly bytes: Buffer;
  /** Event time (ms) of the alert change it reports: the queue's age is the output's lag. */
  readonly eventTs: number;
}

/** Delays between attempts double from `initialMs` up to `maxMs`, with equal jitter (export/capped-backoff.ts) so that many wards do not retry in step. */
export interface ReconnectPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_RECONNECT: ReconnectPolicy = { initialMs: 500, maxMs: 30_000 };

/** On stop, queued messages get this long to reach a connected collector before the connection closes. */
export const STOP_FLUSH_MS = 1_000;

export interface SyslogSenderOptions {
  readonly host: string;
  readonly port: number;
  readonly queueSize: number;
  readonly logger: Logger;
  /** Names the output in log lines: `syslog:tcp:host:port`. */
  readonly label: string;
  readonly reconnect?: ReconnectPolicy;
}

type SenderState = 'idle' | 'running' | 'stopping' | 'stopped';

/**
 * What every syslog transport shares: a bounded drop-oldest queue (DESIGN.md, principle
 * 3), messages left at its front until the transport confirms them, retries with capped
 * backoff, and log lines only when the problem changes. Nothing here throws into the
 * caller, and nothing waits: a collector that is away never stops monitoring
 * (principle 7).
 */
export abstract class SyslogSender {
  private readonly queue: BoundedQueue<QueuedSyslogMessage>;
  /** Messages at the front of the queue handed to the transport and not yet confirmed. */
  private inFlight = 0;
  /** Bumped when a connection is gone: confirmations from it no longer count. */
  private generation = 0;
  private drainScheduled = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly backoff: CappedBackoff;
  private lastProblem: string | null = null;
  private dropsLogged = false;
  protected state: SenderState = 'idle';
  /** The last connection or delivery attempt succeeded. */
  connected = false;
  /** Messages the transport confirmed (for TCP and TLS: written to the socket). */
  sent = 0;
  /** Failed connection and delivery attempts. */
  failures = 0;

  protected constructor(
    protected readonly options: SyslogSenderOptions,
    /** Messages handed to the transport at once (one per datagram for UDP). */
    private readonly batchSize: number,
  ) {
    this.queue = new BoundedQueue(options.queueSize);
    const policy = options.reconnect ?? DEFAULT_RECONNECT;
    this.backoff = new CappedBackoff(policy.initialMs, policy.maxMs);
  }

  get queued(): number {
    return this.queue.size;
  }

  get capacity(): number {
    return this.queue.capacity;
  }

  /** Messages dropped, oldest first, because the queue was full. */
  get dropped(): number {
    return this.queue.dropped;
  }

  get oldestQueuedAt(): number | null {
    return this.queue.peek()?.eventTs ?? null;
  }

  /** Queues a message and returns at once; it is sent from the event loop, never on the caller's stack. */
  enqueue(message: QueuedSyslogMessage): void {
    if (this.state === 'stopped') return;
    const evicted = this.queue.push(message);
    if (evicted !== undefined) {
      // The oldest message was at the front, possibly being written: it may still arrive, but no longer counts as queued.
      if (this.inFlight > 0) this.inFlight -= 1;
      if (!this.dropsLogged) {
        this.dropsLogged = true;
        this.options.logger.warn({ output: this.options.label, capacity: this.queue.capacity }, 'syslog queue full: the oldest messages are dropped (counted; a gap in meta sequenceId shows where)');
      }
    }
    this.scheduleDrain();
  }

  async start(): Promise<void> {
    if (this.state !== 'idle') return;
    this.state = 'running';
    this.open();
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    this.state = 'stopping';
    this.clearRetry();
    const deadline = Date.now() + STOP_FLUSH_MS;
    while (this.queue.size > 0 && this.ready() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    this.state = 'stopped';
    this.invalidate();
    await this.close();
  }

  /** Opens the connection (or socket); on failure the subclass calls `retryLater(() => this.open())`. */
  protected abstract open(): void;
  /** Whether a batch can be handed to the transport now. */
  protected abstract ready(): boolean;
  /** Sends the batch; `done` once with the outcome. */
  protected abstract transmit(batch: readonly QueuedSyslogMessage[], done: (error: Error | null) => void): void;
  /** After a failed send (already counted): drop the connection, or mark it down, wait and retry. */
  protected abstract sendFailed(): void;
  protected abstract close(): Promise<void>;

  protected scheduleDrain(): void {
    if (this.drainScheduled || this.state === 'stopped') return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    if (this.state === 'idle' || this.state === 'stopped' || this.inFlight > 0 || !this.ready()) return;
    const batch = this.queue.front(this.batchSize);
    if (batch.length === 0) return;
    this.inFlight = batch.length;
    const generation = this.generation;
    try {
      this.transmit(batch, (error) => this.completed(generation, error));
    } catch (error) {
      this.completed(generation, error instanceof Error ? error : new Error(String(error)));
    }
  }

  private completed(generation: number, error: Error | null): void {
    // A confirmation from a connection already given up: its messages are still queued and will be sent again.
    if (generation !== this.generation) return;
    const delivered = this.inFlight;
    this.inFlight = 0;
    if (error !== null) {
      this.failures += 1;
      this.problem('sending failed', error);
      this.sendFailed();
      return;
    }
    this.queue.discard(delivered);
    this.sent += delivered;
    this.connected = true;
    this.dropsLogged = false;
    this.resetBackoff();
    this.recovered();
    this.drain();
  }

  /** The connection is gone: whatever was being written stays queued, to be sent again (a collector may see it twice; meta sequenceId tells). */
  protected invalidate(): void {
    this.generation += 1;
    this.inFlight = 0;
    this.connected = false;
  }

  /** Whether something was handed to the transport and not confirmed. */
  protected get writing(): boolean {
    return this.inFlight > 0;
  }

  protected retryLater(action: () => void): void {
    if (this.state !== 'running' || this.retryTimer !== null) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.state === 'running') action();
    }, this.backoff.next());
    this.retryTimer.unref();
  }

  protected resetBackoff(): void {
    this.backoff.reset();
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** A warning when the problem is new, debug while it repeats: a collector away for a day writes one line, not thousands. */
  protected problem(what: string, error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error);
    const line = `${what}: ${reason}`;
    if (line === this.lastProblem) {
      this.options.logger.debug({ output: this.options.label, reason, queued: this.queue.size }, `syslog output: ${what}`);
      return;
    }
    this.lastProblem = line;
    this.options.logger.warn({ output: this.options.label, reason, queued: this.queue.size }, `syslog output: ${what}; retrying, messages are queued`);
  }

  protected recovered(): void {
    if (this.lastProblem === null) return;
    this.lastProblem = null;
    this.options.logger.info({ output: this.options.label, queued: this.queue.size, dropped: this.queue.dropped }, 'syslog output delivering again');
  }
}
