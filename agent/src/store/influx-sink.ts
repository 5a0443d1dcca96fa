import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { AlertSink } from '../alert/alert-sink.ts';
import type { AlertType } from '../alert/catalogue.ts';
import { BoundedQueue } from '../export/bounded-queue.ts';
import { CappedBackoff } from '../export/capped-backoff.ts';
import type { OutboundChannel, OutboundStats } from '../export/outbound.ts';
import type { InfluxdbConfig } from '../model/influxdb-schema.ts';
import type { PipelineEvent } from '../normalize/events.ts';
import type { AlertView } from '../server/dashboard-protocol.ts';
import { InfluxHttpClient, InfluxRequestError } from './influx-http.ts';
import { lineProtocol } from './influx-line-protocol.ts';
import { alertChangeTime, alertPoint, commandPoint, PointClock, telemetryPoint, type AlertChange, type PointContext, type QueuedPoint } from './influx-points.ts';

/** The first retry after a failed write waits up to this long; each failure in a row doubles it… */
export const INFLUX_RETRY_INITIAL_MS = 1_000;
/** …up to this. */
export const INFLUX_RETRY_MAX_MS = 30_000;
/** How long stop() waits for queued points to be written before it gives up on them. */
const STOP_DRAIN_MS = 2_000;
/** Alerts whose occurrence count is remembered, to write how many new occurrences a repeat adds. */
const MAX_TRACKED_ALERTS = 10_000;
/** While InfluxDB stays away, every this many failures is logged again. */
const LOG_EVERY_FAILURES = 100;

/** What a failed request says, without the request itself (its headers hold the credentials). */
function failureOf(error: unknown): { readonly status: number | null; readonly code: string | null; readonly message: string } {
  if (error instanceof InfluxRequestError) return { status: error.status, code: error.code, message: error.message.slice(0, 300) };
  return { status: null, code: null, message: error instanceof Error ? error.message.slice(0, 300) : String(error) };
}

export interface InfluxSinkOptions {
  readonly config: InfluxdbConfig;
  readonly context: PointContext;
  readonly logger: Logger;
  /** Retry waits (tests shorten them); default INFLUX_RETRY_INITIAL_MS to INFLUX_RETRY_MAX_MS. */
  readonly retry?: { readonly initialMs: number; readonly maxMs: number };
  /** Each request's overall deadline (tests shorten it); default INFLUX_REQUEST_DEADLINE_MS (store/influx-http.ts). */
  readonly requestDeadlineMs?: number;
}

/**
 * InfluxDB 1.x output (issue 8; docs/architecture.md, "InfluxDB"): telemetry, commands and
 * alerts as time series. Off the hot path: the event observer and the alert-sink calls
 * only turn an event into a point and push it onto a bounded queue; a timer writes batches
 * of `batchSize` points, or whatever is waiting every `flushIntervalMs`. While InfluxDB is
 * away the queue holds up to `maxQueuedPoints` (the oldest are dropped, counted) and writes
 * are retried with capped exponential backoff. Nothing here throws into the pipeline or
 * stops the agent (DESIGN.md, principle 7); the embedded store and alerts.jsonl are
 * written by their own sinks whatever happens here.
 */
export class InfluxSink implements OutboundChannel, AlertSink {
  readonly name = 'influxdb';
  private readonly queue: BoundedQueue<QueuedPoint>;
  private readonly clock = new PointClock();
  private readonly backoff: CappedBackoff;
  /** Occurrence counts last written per alert id, oldest first (bounded). */
  private readonly alertCounts = new Map<string, number>();
  private client: InfluxHttpClient | null = null;
  private timer: NodeJS.Timeout | null = null;
  private started = false;
  private stopping = false;
  private databaseReady = false;
  private writing: Promise<boolean> | null = null;
  private flushSoon = false;
  private retryAt = 0;
  /** Points at the queue's front that the write in flight carries. */
  private inFlight = 0;
  /** Of those, how many a full queue pushed out meanwhile (delivered anyway if the write succeeds). */
  private evictedInFlight = 0;
  private connectedNow = false;
  private sentCount = 0;
  private failureCount = 0;
  /** Points counted as dropped by the queue that the write in flight delivered after all. */
  private deliveredAfterEviction = 0;
  /** Points InfluxDB refused (400: bad points, such as a field type conflict): not retried. */
  private rejectedCount = 0;

  constructor(private readonly options: InfluxSinkOptions) {
    this.queue = new BoundedQueue(options.config.maxQueuedPoints);
    this.backoff = new CappedBackoff(options.retry?.initialMs ?? INFLUX_RETRY_INITIAL_MS, options.retry?.maxMs ?? INFLUX_RETRY_MAX_MS);
  }

  /** For `eventObservers` in app.ts: telemetry and commands become points. */
  readonly observe = (event: PipelineEvent, findings: readonly AlertType[]): void => {
    if (event.kind === 'telemetry') {
      const point = telemetryPoint(this.options.context, event, this.clock.timeOf('telemetry', event.ts));
      if (point !== null) this.enqueue(point);
    } else if (event.kind === 'command') {
      this.enqueue(commandPoint(this.options.context, event, findings, this.clock.timeOf('command', event.ts)));
    }
  };

  alertRaised(alert: AlertView): void {
    this.alertChanged(alert, 'raised');
  }

  alertUpdated(alert: AlertView, change: 'repeated' | 'acknowledged'): void {
    this.alertChanged(alert, change);
  }

  async start(): Promise<void> {
    if (this.started) return;
    const { config, logger } = this.options;
    const https = new URL(config.url).protocol === 'https:';
    // Read here, not in the constructor (principle 7); `config check` has already checked it.
    const ca = https && config.ca !== undefined ? await readFile(config.ca) : undefined;
    // Every request bounded in time and in bytes read (store/influx-http.ts).
    this.client = new InfluxHttpClient({
      url: config.url,
      username: config.username,
      password: config.password,
      ca,
      ...(this.options.requestDeadlineMs === undefined ? {} : { deadlineMs: this.options.requestDeadlineMs }),
    });
    this.started = true;
    this.timer = setInterval(() => void this.flush(), config.flushIntervalMs);
    this.timer.unref();
    logger.info({ output: this.name, url: config.url, database: config.database, batchSize: config.batchSize, maxQueuedPoints: config.maxQueuedPoints }, 'InfluxDB output started');
    void this.flush();
  }

  async stop(): Promise<void> {
    if (!this.started || this.stopping) return;
    this.stopping = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    // Last points out while InfluxDB answers, within a bound: stopping must not hang on it.
    const deadline = Date.now() + STOP_DRAIN_MS;
    let timeout: NodeJS.Timeout | undefined;
    const drained = (async () => {
      if (this.writing !== null) await this.writing;
      while (this.queue.size > 0 && this.connectedNow && Date.now() < deadline) {
        if (!(await this.writeBatch())) break;
      }
    })();
    await Promise.race([drained, new Promise<void>((resolve) => (timeout = setTimeout(resolve, STOP_DRAIN_MS)))]);
    clearTimeout(timeout);
    if (this.queue.size > 0) {
      this.options.logger.warn({ output: this.name, undelivered: this.queue.size }, 'InfluxDB output stopped with points not written (they remain in the agent\'s own store and alerts.jsonl)');
    }
    this.client?.close();
    this.started = false;
  }

  stats(): OutboundStats {
    const front = this.queue.peek();
    return {
      name: this.name,
      connected: this.connectedNow,
      queued: this.queue.size,
      capacity: this.queue.capacity,
      sent: this.sentCount,
      dropped: this.queue.dropped - this.deliveredAfterEviction + this.rejectedCount,
      failures: this.failureCount,
      oldestQueuedAt: front === undefined ? null : Math.floor(front.timestamp / 1000),
    };
  }

  /** Up to `max` points waiting to be written, oldest first (diagnostics and tests; nothing is removed). */
  waiting(max: number): readonly QueuedPoint[] {
    return this.queue.front(max);
  }

  private alertChanged(alert: AlertView, change: AlertChange): void {
    let occurrences: number;
    if (change === 'acknowledged') {
      occurrences = 0;
    } else {
      const known = this.alertCounts.get(alert.id);
      // Unknown (raised before a restart, or forgotten): at least this one occurrence is new.
      occurrences = change === 'raised' ? alert.count : known === undefined ? 1 : Math.max(0, alert.count - known);
      this.alertCounts.delete(alert.id);
      this.alertCounts.set(alert.id, alert.count);
      if (this.alertCounts.size > MAX_TRACKED_ALERTS) {
        const oldest = this.alertCounts.keys().next().value;
        if (oldest !== undefined) this.alertCounts.delete(oldest);
      }
    }
    this.enqueue(alertPoint(this.options.context, alert, change, occurrences, this.clock.timeOf('alert', alertChangeTime(alert, change))));
  }

  private enqueue(point: QueuedPoint): void {
    const evicted = this.queue.push(point);
    // Points in flight are the queue's front, so a full queue pushes them out first.
    if (evicted !== undefined && this.inFlight > 0) {
      this.inFlight -= 1;
      this.evictedInFlight += 1;
    }
    if (this.queue.size >= this.options.config.batchSize && this.started && !this.flushSoon && this.writing === null) {
      // A full batch is written now, not at the next tick, but never from inside the pipeline call.
      this.flushSoon = true;
      setImmediate(() => {
        this.flushSoon = false;
        void this.flush();
      });
    }
  }

  /**
   * One batch if any is waiting and no retry wait is running; full batches follow at once.
   * Before the first write (and at start, with nothing queued yet) the database is prepared,
   * so `connected` tells the truth from the start. Never rejects.
   */
  private async flush(): Promise<void> {
    if (!this.started || this.stopping || this.writing !== null || Date.now() < this.retryAt) return;
    if (this.queue.size === 0 && this.databaseReady) return;
    const written = await this.writeBatch();
    if (written && this.queue.size >= this.options.config.batchSize) void this.flush();
  }

  private writeBatch(): Promise<boolean> {
    const attempt = this.attemptBatch().finally(() => {
      this.writing = null;
    });
    this.writing = attempt;
    return attempt;
  }

  private async attemptBatch(): Promise<boolean> {
    const client = this.client;
    if (client === null) return false;
    const { config, logger } = this.options;
    try {
      if (!this.databaseReady) await this.prepareDatabase(client);
      const batch = this.queue.front(config.batchSize);
      if (batch.length === 0) {
        this.markConnected();
        return true;
      }
      this.inFlight = batch.length;
      this.evictedInFlight = 0;
      // A point line protocol cannot carry would make InfluxDB refuse the whole batch: left out, counted as refused.
      const { body, unwritable } = lineProtocol(batch);
      if (body !== '') await client.write(body, { database: config.database, retentionPolicy: config.retentionPolicy, precision: 'u' });
      this.queue.discard(this.inFlight);
      this.sentCount += batch.length - unwritable;
      this.rejectedCount += unwritable;
      this.deliveredAfterEviction += this.evictedInFlight;
      this.markConnected();
      return true;
    } catch (error) {
      const failure = failureOf(error);
      this.failureCount += 1;
      if (failure.status === 400) {
        // Bad points (a field type conflict, say): InfluxDB wrote the good ones of the batch
        // ("partial write") and will never take the others, so they are not retried.
        const refused = this.inFlight;
        this.queue.discard(refused);
        this.rejectedCount += refused;
        this.connectedNow = true;
        logger.error({ output: this.name, ...failure, points: refused }, 'InfluxDB refused points of a batch; they are dropped (counted) and not retried');
        return true;
      }
      this.connectedNow = false;
      // The database is gone (dropped, or InfluxDB started afresh): CREATE DATABASE again first.
      if (failure.status === 404) this.databaseReady = false;
      const waitMs = this.backoff.next();
      this.retryAt = Date.now() + waitMs;
      if (this.backoff.attempts === 1 || this.failureCount % LOG_EVERY_FAILURES === 0) {
        logger.warn({ output: this.name, ...failure, queued: this.queue.size, retryInMs: waitMs }, 'InfluxDB write failed; points stay queued and the write is retried');
      }
      return false;
    } finally {
      this.inFlight = 0;
      this.evictedInFlight = 0;
    }
  }

  private markConnected(): void {
    if (!this.connectedNow && this.failureCount > 0) this.options.logger.info({ output: this.name, queued: this.queue.size, failures: this.failureCount }, 'InfluxDB reachable again; writing the queued points');
    this.connectedNow = true;
    this.backoff.reset();
    this.retryAt = 0;
  }

  /**
   * CREATE DATABASE (idempotent) when configured; a user without the admin right to do so
   * writes to the existing one. Without it, /ping (no credentials needed) checks that
   * InfluxDB answers at all.
   */
  private async prepareDatabase(client: InfluxHttpClient): Promise<void> {
    const { config, logger } = this.options;
    if (config.createDatabase) {
      try {
        await client.createDatabase(config.database);
      } catch (error) {
        const failure = failureOf(error);
        // 401/403: not an admin (least privilege). Writing may still be allowed; go on.
        if (failure.status !== 401 && failure.status !== 403) throw error;
        logger.warn({ output: this.name, database: config.database, status: failure.status }, 'InfluxDB user may not CREATE DATABASE (needs admin); writing to the existing database. Set influxdb.createDatabase: false to skip this');
      }
    } else {
      await client.ping();
    }
    this.databaseReady = true;
  }
}
