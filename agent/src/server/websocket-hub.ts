import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ServerMessage } from './dashboard-protocol.ts';

/** A dashboard that has this much unsent is too slow; it is dropped and reconnects to a fresh snapshot. */
export const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
export const MAX_DASHBOARD_CLIENTS = 64;

/** Same-origin only: a page elsewhere must not read patient-device alerts through a visitor's browser. */
export function isSameOrigin(request: IncomingMessage): boolean {
  const origin = request.headers.origin;
  const host = request.headers.host;
  if (origin === undefined || host === undefined) return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/**
 * The dashboard's live feed at `/ws`: a snapshot on connect, then pushes. Each client's
 * send buffer is capped (DESIGN.md, principle 3); the serialised message is shared by
 * every client rather than stringified per client.
 */
export class WebSocketHub {
  private readonly server = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 });
  private readonly clients = new Set<WebSocket>();
  droppedSlowClients = 0;

  constructor(private readonly snapshot: () => ServerMessage) {}

  get clientCount(): number {
    return this.clients.size;
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!isSameOrigin(request) || this.clients.size >= MAX_DASHBOARD_CLIENTS) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      return;
    }
    this.server.handleUpgrade(request, socket, head, (client) => {
      this.clients.add(client);
      client.on('close', () => this.clients.delete(client));
      client.on('error', () => client.terminate());
      // The dashboard only listens; anything it sends is ignored.
      client.send(JSON.stringify(this.snapshot()));
    });
  }

  broadcast(message: ServerMessage): void {
    if (this.clients.size === 0) return;
    const data = JSON.stringify(message);
    for (const client of this.clients) {
      if (client.bufferedAmount > MAX_BUFFERED_BYTES) {
        this.droppedSlowClients += 1;
        client.terminate();
        continue;
      }
      client.send(data);
    }
  }

  close(): void {
    for (const client of this.clients) client.terminate();
    this.clients.clear();
    this.server.close();
  }
}
