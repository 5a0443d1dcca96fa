import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { SESSION_ENDED_CLOSE_CODE, type ServerMessage } from './dashboard-protocol.ts';

export { isSameOrigin } from './same-origin.ts';

/** A dashboard that has this much unsent is too slow; it is dropped and reconnects to a fresh snapshot. */
export const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
export const MAX_DASHBOARD_CLIENTS = 64;

/**
 * The dashboard's live feed at `/ws`: a snapshot on connect, then pushes. Each client's
 * send buffer is capped (DESIGN.md, principle 3); the serialised message is shared by
 * every client rather than stringified per client.
 *
 * Who may open it is decided before the upgrade (server/http-server.ts: same Origin and a
 * live session); each socket remembers its session, and `closeSession` closes them all
 * when that session ends (logout, idle timeout, lifetime), with SESSION_ENDED_CLOSE_CODE
 * so the page knows to ask for a login rather than to reconnect.
 */
export class WebSocketHub {
  private readonly server = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 });
  /** Each client with the id of the session that opened it. */
  private readonly clients = new Map<WebSocket, string>();
  droppedSlowClients = 0;

  constructor(private readonly snapshot: () => ServerMessage) {}

  get clientCount(): number {
    return this.clients.size;
  }

  /** Completes an upgrade already checked for origin and session. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, sessionId: string): void {
    if (this.clients.size >= MAX_DASHBOARD_CLIENTS) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.server.handleUpgrade(request, socket, head, (client) => {
      this.clients.set(client, sessionId);
      client.on('close', () => this.clients.delete(client));
      client.on('error', () => client.terminate());
      // The dashboard only listens; anything it sends is ignored.
      client.send(JSON.stringify(this.snapshot()));
    });
  }

  broadcast(message: ServerMessage): void {
    if (this.clients.size === 0) return;
    const data = JSON.stringify(message);
    for (const client of this.clients.keys()) {
      if (client.bufferedAmount > MAX_BUFFERED_BYTES) {
        this.droppedSlowClients += 1;
        client.terminate();
        continue;
      }
      client.send(data);
    }
  }

  /** Closes every feed of a session that has ended; returns how many. */
  closeSession(sessionId: string, reason: string): number {
    let closed = 0;
    for (const [client, id] of this.clients) {
      if (id !== sessionId) continue;
      this.clients.delete(client);
      // Close reasons are at most 123 bytes (RFC 6455 §5.5).
      client.close(SESSION_ENDED_CLOSE_CODE, reason.slice(0, 120));
      closed++;
    }
    return closed;
  }

  close(): void {
    for (const client of this.clients.keys()) client.terminate();
    this.clients.clear();
    this.server.close();
  }
}
