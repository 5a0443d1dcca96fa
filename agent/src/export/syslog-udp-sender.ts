import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { SyslogSender, type QueuedSyslogMessage, type SyslogSenderOptions } from './syslog-sender.ts';

/**
 * Syslog over UDP (RFC 5426): one message per datagram (§3.1), no framing, sized by the
 * formatter (§3.2). The socket is connected to the collector, so an ICMP "port
 * unreachable" drawn by one datagram comes back as an error on a later send: that
 * message stays queued and is retried after backoff, and the output shows as down. The
 * datagram that drew the answer, and whatever the network drops silently, are lost
 * (RFC 5426 has no acknowledgement); meta sequenceId lets the collector see the gap.
 */
export class SyslogUdpSender extends SyslogSender {
  private socket: Socket | null = null;
  /** After a failed send, nothing more is sent until the backoff has passed. */
  private waiting = false;

  constructor(options: SyslogSenderOptions) {
    super(options, 1);
  }

  protected open(): void {
    const { host, port } = this.options;
    lookup(host).then(
      ({ address, family }) => {
        if (this.state !== 'running') return;
        const socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4' });
        socket.on('error', (error) => {
          this.failures += 1;
          this.problem('socket error', error);
          if (this.socket === socket) this.socket = null;
          this.invalidate();
          socket.close();
          this.retryLater(() => this.open());
        });
        // The collector sends nothing back; a datagram that comes anyway is dropped by not listening for it.
        socket.connect(port, address, () => {
          if (this.state === 'stopped') {
            socket.close();
            return;
          }
          this.socket = socket;
          this.scheduleDrain();
        });
      },
      (error: unknown) => {
        this.failures += 1;
        this.problem(`cannot resolve ${host}`, error);
        this.retryLater(() => this.open());
      },
    );
  }

  protected ready(): boolean {
    return this.socket !== null && !this.waiting;
  }

  protected transmit(batch: readonly QueuedSyslogMessage[], done: (error: Error | null) => void): void {
    const [message] = batch;
    if (this.socket === null || message === undefined) {
      done(new Error('no socket'));
      return;
    }
    this.socket.send(message.bytes, (error) => done(error ?? null));
  }

  protected sendFailed(): void {
    this.connected = false;
    this.waiting = true;
    this.retryLater(() => {
      this.waiting = false;
      this.scheduleDrain();
    });
  }

  protected async close(): Promise<void> {
    const socket = this.socket;
    this.socket = null;
    if (socket !== null) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
