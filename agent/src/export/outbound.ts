/**
 * What every output that sends off this machine reports (InfluxDB, syslog/CEF, the
 * uplink to a central broker): each keeps a bounded queue while its peer is away
 * (DESIGN.md, principle 3), and how full it is and what it dropped are shown in
 * /metrics and /api/health. The embedded store and alerts.jsonl are not outbound: they
 * are written first, so nothing an outbound channel drops is lost from the agent itself.
 */
export interface OutboundStats {
  /** Stable name, used as the `output` label in /metrics: `influxdb`, `syslog:<transport>:<target>` (one per collector), `uplink`. */
  readonly name: string;
  /** Whether the peer is reachable now (the last write or connection attempt succeeded). */
  readonly connected: boolean;
  readonly queued: number;
  readonly capacity: number;
  /** Items delivered to the peer since start. */
  readonly sent: number;
  /** Items dropped because the queue was full (the oldest go first). */
  readonly dropped: number;
  /** Failed delivery attempts since start. */
  readonly failures: number;
  /** Event time (ms) of the oldest item still queued; null when the queue is empty. Its age is the output's lag. */
  readonly oldestQueuedAt: number | null;
  /** Items cut to fit the peer's size limit; only outputs that cut report it (syslog: maxMessageBytes). */
  readonly truncated?: number;
  /** Items that could not be formatted for the peer (a bug: logged and counted, never thrown into the pipeline); only outputs that format per item report it. */
  readonly formatFailures?: number;
}

/** An outbound output with the start/stop lifecycle of every unit (DESIGN.md, principle 7). */
export interface OutboundChannel {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): OutboundStats;
}
