import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import WebSocket from 'ws';
import { startAgent, type AgentOptions, type RunningAgent } from '../../agent/src/app.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import type { ServerMessage } from '../../agent/src/server/dashboard-protocol.ts';
import { loadDemoConfig } from './demo-config.ts';
import { DashboardClient } from './dashboard-client.ts';

export { addTestUser, agentRequest, DashboardClient, logIn, loggedInClient, nextCode, type HttpAnswer, type TestUser } from './dashboard-client.ts';

export function temporaryDataDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'wardwatch-test-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The real agent on free loopback ports, quiet; plain HTTP and MQTT unless `extra.tls` asks for TLS (mqtts then on a free port too). */
export async function startTestAgent(dataDir: string, config: SiteConfig = loadDemoConfig(), ports = { mqttPort: 0, httpPort: 0 }, extra: Partial<Pick<AgentOptions, 'tls' | 'mqttsPort' | 'mqttPort' | 'openssl' | 'sessions' | 'metricsPort' | 'ingestStall' | 'extraSinks'>> = {}): Promise<RunningAgent> {
  return startAgent({
    config,
    dataDir,
    mqttHost: '127.0.0.1',
    mqttPort: ports.mqttPort,
    httpHost: '127.0.0.1',
    httpPort: ports.httpPort,
    modbusHost: '127.0.0.1',
    modbusPort: 0,
    logger: pino({ level: process.env.WARDWATCH_TEST_LOG ?? 'silent' }),
    mqttsPort: 0,
    ...extra,
  });
}

export interface JsonLine {
  readonly event: string;
  readonly id: string;
  readonly ts: string;
  readonly type: string;
  readonly severity: string;
  readonly deviceId: string | null;
  readonly title: string;
  readonly [key: string]: unknown;
}

export function readAlertLog(file: string): JsonLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as JsonLine);
}

/** A dashboard-like WebSocket client that records every message it gets. */
export class DashboardFeed {
  readonly messages: ServerMessage[] = [];
  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => this.messages.push(JSON.parse(String(data)) as ServerMessage));
  }

  /**
   * Over wss when the agent serves TLS, trusting only the agent's own certificate. The
   * feed needs a session: give a logged-in client's cookie, or a client, or the data
   * directory to log a fresh nurse in.
   */
  static async connect(agent: RunningAgent, login: string | DashboardClient | { readonly dataDir: string }): Promise<DashboardFeed> {
    const cookie = typeof login === 'string' ? login : login instanceof DashboardClient ? login.cookie : (await DashboardClient.logIn(agent, login.dataDir)).cookie;
    const tls = agent.tls !== null;
    const origin = `${tls ? 'https' : 'http'}://127.0.0.1:${agent.httpPort}`;
    const socket = new WebSocket(`${tls ? 'wss' : 'ws'}://127.0.0.1:${agent.httpPort}/ws`, { origin, headers: { cookie }, ...(agent.tls === null ? {} : { ca: agent.tls.cert }) });
    const feed = new DashboardFeed(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return feed;
  }

  alerts(): Extract<ServerMessage, { type: 'alert' }>['alert'][] {
    return this.messages.flatMap((message) => (message.type === 'alert' ? [message.alert] : []));
  }

  close(): void {
    this.socket.close();
  }
}
