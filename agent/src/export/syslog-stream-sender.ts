import { readFile } from 'node:fs/promises';
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { readCertificatePair } from '../tls/certificate-pair.ts';
import { SyslogSender, type QueuedSyslogMessage, type SyslogSenderOptions } from './syslog-sender.ts';

/** TLS to the collector (RFC 5425): its certificate must chain to `ca` and name the target host; `cert`/`key` when it asks for a client certificate. */
export interface SyslogTlsFiles {
  readonly ca: string;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

export interface SyslogStreamOptions extends SyslogSenderOptions {
  /** Null: plain TCP (RFC 6587). */
  readonly tls: SyslogTlsFiles | null;
  readonly connectTimeoutMs?: number;
  readonly writeTimeoutMs?: number;
}

/** A connection (and TLS handshake) not made within this is abandoned and retried. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** A write the collector does not take within this (it stopped reading, or the host vanished) drops the connection. */
export const WRITE_TIMEOUT_MS = 30_000;
/** Messages written at once; each is its own frame. */
const BATCH = 64;

/**
 * RFC 6587 §3.4.1 octet counting: `MSG-LEN SP SYSLOG-MSG`, MSG-LEN the message's length
 * in octets in decimal. RFC 5425 §4.3 frames syslog over TLS the same way. Unlike
 * LF-terminated framing, a message may contain any octet.
 */
export function octetCountingFrame(message: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${message.length} `, 'ascii'), message]);
}

/**
 * Syslog over TCP (RFC 6587) or TLS (RFC 5425): one long-lived connection, reconnected
 * with capped backoff. Messages stay queued until written to the socket; a collector
 * that is away, refuses the handshake, or stops reading costs queue space, never a
 * blocked or crashed agent.
 */
export class SyslogStreamSender extends SyslogSender {
  private socket: Socket | null = null;
  private writeTimer: NodeJS.Timeout | null = null;

  constructor(private readonly stream: SyslogStreamOptions) {
    super(stream, BATCH);
  }

  protected open(): void {
    this.connect().catch((error: unknown) => {
      this.failures += 1;
      this.problem('cannot connect', error);
      this.retryLater(() => this.open());
    });
  }

  private async connect(): Promise<void> {
    const { host, port, tls } = this.stream;
    let socket: Socket;
    if (tls === null) {
      socket = connectTcp({ host, port });
    } else {
      // Read at every attempt: a renewed CA or client certificate is picked up without a restart.
      const [ca, pair] = await Promise.all([readFile(tls.ca), tls.cert === undefined || tls.key === undefined ? null : readCertificatePair(tls.cert, tls.key)]);
      if (this.state !== 'running') return;
      // RFC 5425 §5.2: the server is authenticated by its certificate. node:tls checks the chain
      // against `ca` only and the name against `host` (SNI is not sent for an IP address, RFC 6066 §3).
      socket = connectTls({ host, port, ca, ...(pair === null ? {} : { cert: pair.cert, key: pair.key }), ...(isIP(host) === 0 ? { servername: host } : {}), minVersion: 'TLSv1.2' });
    }
    this.socket = socket;
    let lastError: Error | null = null;
    socket.setTimeout(this.stream.connectTimeoutMs ?? CONNECT_TIMEOUT_MS, () => socket.destroy(new Error(`no connection within ${this.stream.connectTimeoutMs ?? CONNECT_TIMEOUT_MS} ms`)));
    socket.once(tls === null ? 'connect' : 'secureConnect', () => {
      socket.setTimeout(0);
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 30_000);
      this.connected = true;
      this.resetBackoff();
      this.recovered();
      this.options.logger.info({ output: this.options.label, queued: this.queued }, 'syslog output connected');
      this.scheduleDrain();
    });
    // The collector sends nothing back (RFC 6587, RFC 5425); whatever comes is read and dropped, never kept.
    socket.on('data', () => undefined);
    socket.on('error', (error) => {
      lastError = error;
    });
    socket.on('close', () => this.closed(socket, lastError));
  }

  private closed(socket: Socket, error: Error | null): void {
    if (this.socket !== socket) return;
    this.socket = null;
    this.clearWriteTimer();
    const wasConnected = this.connected;
    const wasWriting = this.writing;
    this.invalidate();
    if (this.state !== 'running') return;
    if (!wasConnected || wasWriting) this.failures += 1;
    this.problem(wasConnected ? 'connection lost' : 'cannot connect', error ?? new Error(wasConnected ? 'closed by the collector' : 'closed before the connection was made'));
    this.retryLater(() => this.open());
  }

  protected ready(): boolean {
    return this.socket !== null && this.connected;
  }

  protected transmit(batch: readonly QueuedSyslogMessage[], done: (error: Error | null) => void): void {
    const socket = this.socket;
    if (socket === null) {
      done(new Error('not connected'));
      return;
    }
    const timeoutMs = this.stream.writeTimeoutMs ?? WRITE_TIMEOUT_MS;
    this.writeTimer = setTimeout(() => socket.destroy(new Error(`the collector took no data for ${timeoutMs} ms`)), timeoutMs);
    this.writeTimer.unref();
    socket.write(Buffer.concat(batch.map((message) => octetCountingFrame(message.bytes))), (error) => {
      this.clearWriteTimer();
      done(error ?? null);
    });
  }

  protected sendFailed(): void {
    this.socket?.destroy();
  }

  protected async close(): Promise<void> {
    const socket = this.socket;
    this.socket = null;
    this.clearWriteTimer();
    if (socket === null || socket.destroyed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        socket.destroy();
        resolve();
      }, 1_000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.end();
    });
  }

  private clearWriteTimer(): void {
    if (this.writeTimer !== null) clearTimeout(this.writeTimer);
    this.writeTimer = null;
  }
}
