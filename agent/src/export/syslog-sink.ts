import { hostname as osHostname } from 'node:os';
import type { Logger } from 'pino';
import type { AlertSink } from '../alert/alert-sink.ts';
import type { AlertView } from '../server/dashboard-protocol.ts';
import { SYSLOG_DEFAULT_MESSAGE_BYTES, SYSLOG_FACILITY_CODES, splitSyslogTarget, type SiemConfig, type SyslogDestinationConfig } from '../model/siem-schema.ts';
import type { AlertChange, CefReporter } from './alert-cef.ts';
import { formatAlertSyslog, MAX_SEQUENCE_ID } from './alert-syslog.ts';
import type { OutboundChannel, OutboundStats } from './outbound.ts';
import { productVersion } from './product-version.ts';
import type { ReconnectPolicy, SyslogSender } from './syslog-sender.ts';
import { SyslogStreamSender } from './syslog-stream-sender.ts';
import { SyslogUdpSender } from './syslog-udp-sender.ts';

/** Syslog always reports both optional counts: messages cut to maxMessageBytes (or an over-long msg cut to CEF's 1023 characters), and alert changes that could not be formatted. */
export interface SyslogOutboundStats extends OutboundStats {
  readonly truncated: number;
  readonly formatFailures: number;
}

export interface SyslogSinkContext {
  readonly logger: Logger;
  readonly reporter: CefReporter;
  /** RFC 5424 §6.2.4 HOSTNAME. */
  readonly hostname: string;
  /** RFC 5424 §6.2.6 PROCID. */
  readonly procId: string;
  readonly now?: () => Date;
  /** Tests shorten the backoff; the agent uses DEFAULT_RECONNECT. */
  readonly reconnect?: ReconnectPolicy;
}

/**
 * One syslog destination of the `siem:` section: an alert sink (raised alerts and
 * acknowledgements; folded repeats are not sent, the acknowledgement carries the count)
 * and an outbound channel with its own bounded queue (agent/src/export/outbound.ts).
 * alertRaised only formats and queues: it never blocks, throws or waits for the network.
 */
export class SyslogSink implements AlertSink, OutboundChannel {
  readonly name: string;
  private readonly sender: SyslogSender;
  private readonly maxBytes: number;
  private readonly now: () => Date;
  private sequenceId = 0;
  private truncated = 0;
  private formatFailures = 0;

  constructor(
    private readonly destination: SyslogDestinationConfig,
    private readonly context: SyslogSinkContext,
  ) {
    this.name = `syslog:${destination.transport}:${destination.target}`;
    this.maxBytes = destination.maxMessageBytes ?? SYSLOG_DEFAULT_MESSAGE_BYTES[destination.transport];
    this.now = context.now ?? (() => new Date());
    const { host, port } = splitSyslogTarget(destination.target);
    const options = { host, port, queueSize: destination.queueSize, logger: context.logger, label: this.name, ...(context.reconnect === undefined ? {} : { reconnect: context.reconnect }) };
    this.sender = destination.transport === 'udp'
      ? new SyslogUdpSender(options)
      : new SyslogStreamSender({ ...options, tls: destination.transport === 'tls' && destination.ca !== undefined ? { ca: destination.ca, cert: destination.cert, key: destination.key } : null });
  }

  alertRaised(alert: AlertView): void {
    this.send(alert, 'raised');
  }

  alertUpdated(alert: AlertView, change: 'repeated' | 'acknowledged'): void {
    if (change === 'acknowledged') this.send(alert, 'acknowledged');
  }

  private send(alert: AlertView, change: AlertChange): void {
    try {
      // RFC 5424 §7.3.1: 1 at start, +1 per message handed to the transport, back to 1 after 2147483647.
      this.sequenceId = this.sequenceId >= MAX_SEQUENCE_ID ? 1 : this.sequenceId + 1;
      const formatted = formatAlertSyslog(alert, change, {
        facility: SYSLOG_FACILITY_CODES[this.destination.facility],
        hostname: this.context.hostname,
        procId: this.context.procId,
        reporter: this.context.reporter,
        maxBytes: this.maxBytes,
        bom: this.destination.utf8Bom,
        sequenceId: this.sequenceId,
        now: this.now(),
      });
      if (formatted.truncated) {
        this.truncated += 1;
        // Said once per sink: a collector that needs larger messages wants maxMessageBytes raised, not a line per alert.
        if (this.truncated === 1) this.context.logger.warn({ output: this.name, maxMessageBytes: this.maxBytes, alertId: alert.id }, 'a syslog message was cut to fit maxMessageBytes (its msg ends in "[truncated]"); further cuts are counted, not logged');
      }
      const eventTs = Date.parse(change === 'acknowledged' ? alert.ack?.at ?? alert.lastTs : alert.ts);
      this.sender.enqueue({ bytes: formatted.bytes, eventTs: Number.isFinite(eventTs) ? eventTs : this.now().getTime() });
    } catch (error) {
      this.formatFailures += 1;
      this.context.logger.error({ err: error, output: this.name, alertId: alert.id }, 'an alert could not be formatted for syslog; it is in the store and alerts.jsonl');
    }
  }

  start(): Promise<void> {
    return this.sender.start();
  }

  stop(): Promise<void> {
    return this.sender.stop();
  }

  stats(): SyslogOutboundStats {
    return {
      name: this.name,
      connected: this.sender.connected,
      queued: this.sender.queued,
      capacity: this.sender.capacity,
      sent: this.sender.sent,
      dropped: this.sender.dropped,
      failures: this.sender.failures,
      oldestQueuedAt: this.sender.oldestQueuedAt,
      truncated: this.truncated,
      formatFailures: this.formatFailures,
    };
  }
}

/** The agent's name among the hospital's, in CEF's deviceExternalId; the uplink's default client id has the same form. */
export function reporterId(ward: string): string {
  return `wardwatch-${ward}`;
}

/** One sink per `siem.syslog` destination; none without a `siem:` section. Nothing connects until `start`. */
export function createSyslogSinks(siem: SiemConfig | undefined, ward: string, logger: Logger, overrides: Partial<Omit<SyslogSinkContext, 'logger'>> = {}): SyslogSink[] {
  if (siem === undefined) return [];
  const hostname = overrides.hostname ?? osHostname();
  const context: SyslogSinkContext = {
    logger,
    hostname,
    procId: String(process.pid),
    reporter: { version: productVersion(), deviceExternalId: reporterId(ward), dvchost: hostname },
    ...overrides,
  };
  return siem.syslog.map((destination) => new SyslogSink(destination, context));
}
