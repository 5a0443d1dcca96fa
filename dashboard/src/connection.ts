/**
 * The WebSocket link to the agent (`/ws`): reconnects with capped exponential backoff,
 * and a watchdog declares the link dead when nothing arrives for three health
 * intervals, because a socket can stay "open" while the agent behind it is hung or a
 * proxy has silently dropped it. A silent monitor is the failure the page exists to
 * avoid (DESIGN.md, "Safety and security stance").
 */
import { HEALTH_INTERVAL_MS, SESSION_ENDED_CLOSE_CODE, type ServerMessage } from '../../agent/src/server/dashboard-protocol.ts';

/** The agent sends health every HEALTH_INTERVAL_MS; three missed ones mean the link is dead. */
export const WATCHDOG_TIMEOUT_MS = 3 * HEALTH_INTERVAL_MS;
const WATCHDOG_CHECK_MS = 500;
const BACKOFF_INITIAL_MS = 250;
export const BACKOFF_MAX_MS = 5_000;

export type LinkStatus =
  /** First connection attempt of this page load, nothing known yet. */
  | { readonly kind: 'connecting' }
  /** A snapshot arrived on the current socket and data keeps coming. */
  | { readonly kind: 'live' }
  /** The socket closed or failed, or the watchdog fired; retrying in the background. */
  | { readonly kind: 'offline'; readonly reason: string };

export interface ConnectionHandlers {
  onMessage(message: ServerMessage): void;
  onStatus(status: LinkStatus): void;
  /** The agent closed the feed because the session ended (logout, idle timeout, lifetime): no reconnecting, log in again. */
  onSessionEnded(reason: string): void;
}

/** `ws://host/ws` or `wss://host/ws`, following the page's own scheme. */
export function agentSocketUrl(location: Location): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
}

/** Delay before reconnect attempt `failures` (1-based): 250 ms doubling, capped, ±20 % jitter. */
export function backoffDelay(failures: number, random: () => number = Math.random): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** Math.max(0, failures - 1));
  return Math.min(BACKOFF_MAX_MS, Math.round(base * (0.8 + 0.4 * random())));
}

function isServerMessage(value: unknown): value is ServerMessage {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return type === 'snapshot' || type === 'device' || type === 'alert' || type === 'health' || type === 'wards';
}

export class AgentConnection {
  private socket: WebSocket | null = null;
  private status: LinkStatus = { kind: 'connecting' };
  private failures = 0;
  private lastHeardAt = 0;
  private reconnectTimer: number | undefined;
  private watchdogTimer: number | undefined;
  private stopped = true;

  constructor(
    private readonly url: string,
    private readonly handlers: ConnectionHandlers,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.watchdogTimer = window.setInterval(() => this.checkWatchdog(), WATCHDOG_CHECK_MS);
    window.addEventListener('online', this.reconnectNow);
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    window.clearInterval(this.watchdogTimer);
    window.clearTimeout(this.reconnectTimer);
    window.removeEventListener('online', this.reconnectNow);
    this.dropSocket();
  }

  private connect(): void {
    this.reconnectTimer = undefined;
    if (this.stopped) return;
    this.lastHeardAt = performance.now();
    let socket: WebSocket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      this.fail(`cannot open ${this.url}: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    this.socket = socket;
    socket.addEventListener('open', () => {
      if (socket === this.socket) this.lastHeardAt = performance.now();
    });
    socket.addEventListener('message', (event: MessageEvent) => {
      if (socket === this.socket) this.receive(event.data);
    });
    socket.addEventListener('close', (event: CloseEvent) => {
      if (socket !== this.socket) return;
      this.socket = null;
      if (event.code === SESSION_ENDED_CLOSE_CODE) {
        this.stop();
        this.handlers.onSessionEnded(event.reason);
        return;
      }
      this.fail(event.code === 1000 ? 'the agent closed the connection' : `connection to the agent lost (code ${event.code})`);
    });
    // An 'error' is always followed by 'close', which does the bookkeeping.
  }

  private receive(data: unknown): void {
    this.lastHeardAt = performance.now();
    if (typeof data !== 'string') return;
    let message: unknown;
    try {
      message = JSON.parse(data);
    } catch {
      console.warn('wardwatch: ignored a WebSocket message that is not JSON');
      return;
    }
    // Unknown message types are ignored, so a newer agent does not break an open page.
    if (!isServerMessage(message)) return;
    if (message.type === 'snapshot') {
      this.failures = 0;
      this.setStatus({ kind: 'live' });
    }
    try {
      this.handlers.onMessage(message);
    } catch (error) {
      // One malformed message must not stop the page from applying the next ones.
      console.error('wardwatch: failed to apply a message', message.type, error);
    }
  }

  private checkWatchdog(): void {
    if (this.socket === null) return;
    const silentFor = performance.now() - this.lastHeardAt;
    if (silentFor <= WATCHDOG_TIMEOUT_MS) return;
    const seconds = Math.round(silentFor / 1000);
    this.dropSocket();
    this.fail(this.status.kind === 'live' ? `no data from the agent for ${seconds} s` : `the agent did not answer within ${seconds} s`);
  }

  private fail(reason: string): void {
    if (this.stopped) return;
    this.failures += 1;
    this.setStatus({ kind: 'offline', reason });
    window.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = window.setTimeout(() => this.connect(), backoffDelay(this.failures));
  }

  /** Browser says the network is back: skip the remaining backoff. */
  private readonly reconnectNow = (): void => {
    if (this.stopped || this.socket !== null || this.reconnectTimer === undefined) return;
    window.clearTimeout(this.reconnectTimer);
    this.connect();
  };

  private dropSocket(): void {
    const socket = this.socket;
    this.socket = null;
    if (socket === null) return;
    try {
      socket.close();
    } catch {
      // Closing a socket that never opened can throw in some browsers; it is gone either way.
    }
  }

  private setStatus(status: LinkStatus): void {
    const same = status.kind === this.status.kind && (status.kind !== 'offline' || (this.status.kind === 'offline' && this.status.reason === status.reason));
    this.status = status;
    if (!same) this.handlers.onStatus(status);
  }
}
