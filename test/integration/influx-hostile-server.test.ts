import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { influxdbSchema } from '../../agent/src/model/influxdb-schema.ts';
import { createMonitor, type Monitor } from '../../agent/src/monitor.ts';
import { INFLUX_MAX_REPLY_BYTES, InfluxHttpClient, InfluxRequestError } from '../../agent/src/store/influx-http.ts';
import { pointContext } from '../../agent/src/store/influx-points.ts';
import { InfluxSink } from '../../agent/src/store/influx-sink.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { waitFor } from '../helpers/wait-for.ts';

/**
 * What an InfluxDB, or anyone on the path of plain http://, can answer to hurt the agent
 * (security review of the `influx` package: 660 MB and a RangeError in 10 s). A real Node
 * HTTP server, hostile on purpose; store/influx-http.ts must bound every answer.
 */
type Behaviour =
  /** 204, as InfluxDB answers a good write or /ping. */
  | 'ok'
  /** 200 {"results":[{"statement_id":0}]}, as /query answers CREATE DATABASE. */
  | 'query-ok'
  /** 400 and then an endless body, as fast as the connection takes it. */
  | 'flood-400'
  /** 400 and then one byte every 20 ms, forever: never idle, never done. */
  | 'trickle-400'
  /** "HTTP/1.1 204" and then a header line every 20 ms: the answer's head never ends. */
  | 'endless-204';

interface Exchange {
  readonly path: string;
  readonly body: string;
  readonly authorization: string | undefined;
  /** Bytes of answer the server could hand to the kernel before the agent closed the connection. */
  bytesWritten: number;
  closedAt: number | null;
  readonly startedAt: number;
}

interface HostileInflux {
  readonly url: string;
  readonly behaviour: Record<'/ping' | '/query' | '/write', Behaviour>;
  readonly exchanges: Exchange[];
  close(): Promise<void>;
}

const CHUNK = Buffer.alloc(16 * 1024, 'x');

function answer(behaviour: Behaviour, request: IncomingMessage, response: ServerResponse, exchange: Exchange): void {
  const socket = request.socket;
  let timer: NodeJS.Timeout | undefined;
  response.on('close', () => {
    exchange.closedAt = Date.now();
    clearInterval(timer);
  });
  if (behaviour === 'ok') {
    response.writeHead(204).end();
  } else if (behaviour === 'query-ok') {
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[{"statement_id":0}]}\n');
  } else if (behaviour === 'flood-400') {
    response.writeHead(400, { 'content-type': 'application/json' });
    response.write('{"error":"partial write: ');
    const flood = (): void => {
      while (!response.destroyed && response.write(CHUNK)) exchange.bytesWritten += CHUNK.length;
    };
    response.on('drain', () => {
      exchange.bytesWritten += CHUNK.length;
      flood();
    });
    flood();
  } else if (behaviour === 'trickle-400') {
    response.writeHead(400, { 'content-type': 'application/json' });
    timer = setInterval(() => {
      if (response.write('x')) exchange.bytesWritten += 1;
    }, 20);
  } else {
    // Raw bytes: Node's server would finish the head itself.
    socket.write('HTTP/1.1 204 No Content\r\n');
    socket.on('close', () => {
      exchange.closedAt = Date.now();
      clearInterval(timer);
    });
    timer = setInterval(() => {
      if (!socket.destroyed) exchange.bytesWritten += socket.write('X-Slow: 1\r\n') ? 11 : 0;
    }, 20);
  }
}

async function hostileInflux(): Promise<HostileInflux> {
  const behaviour: HostileInflux['behaviour'] = { '/ping': 'ok', '/query': 'query-ok', '/write': 'ok' };
  const exchanges: Exchange[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = new URL(request.url ?? '/', 'http://x').pathname;
      // The API's last path segment: the client may be configured under a reverse proxy's path.
      const endpoint = `/${path.split('/').pop() ?? ''}` as keyof HostileInflux['behaviour'];
      const exchange: Exchange = { path, body: Buffer.concat(chunks).toString('utf8'), authorization: request.headers.authorization, bytesWritten: 0, closedAt: null, startedAt: Date.now() };
      exchanges.push(exchange);
      answer(behaviour[endpoint] ?? 'ok', request, response, exchange);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    behaviour,
    exchanges,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function failureOf(promise: Promise<unknown>): Promise<InfluxRequestError> {
  const outcome = await promise.then(() => null, (error: unknown) => error);
  if (!(outcome instanceof InfluxRequestError)) throw new Error(`expected an InfluxRequestError, got ${String(outcome)}`);
  return outcome;
}

const TARGET = { database: 'wardwatch', precision: 'u' } as const;
/** Node hands a response over in chunks of up to 64 KiB: what arrives past the cap is at most one of them. */
const MAX_READ = 2 * INFLUX_MAX_REPLY_BYTES;

let server: HostileInflux | null = null;
let client: InfluxHttpClient | null = null;
let sink: InfluxSink | null = null;

afterEach(async () => {
  client?.close();
  client = null;
  await sink?.stop();
  sink = null;
  await server?.close();
  server = null;
});

describe('InfluxDB HTTP client against a hostile server', () => {
  it('400 with an endless body: fails with status 400 after reading at most the cap, and closes the connection', async () => {
    server = await hostileInflux();
    server.behaviour['/write'] = 'flood-400';
    client = new InfluxHttpClient({ url: server.url, deadlineMs: 10_000 });
    const heapBefore = process.memoryUsage().heapUsed;
    const started = Date.now();
    const error = await failureOf(client.write('telemetry x=1 1', TARGET));
    expect(error.status).toBe(400);
    expect(error.message).toContain('(answer cut)');
    // Not the deadline: the cap ended it.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(client.replyBytesReceived).toBeGreaterThanOrEqual(INFLUX_MAX_REPLY_BYTES);
    expect(client.replyBytesReceived).toBeLessThanOrEqual(MAX_READ);
    const exchange = server.exchanges[0];
    await waitFor(() => exchange?.closedAt !== null, 2_000, 'the server to see the connection closed');
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(32 * 1024 * 1024);
  });

  it('400 trickled a byte at a time (never idle): the overall deadline ends it, with the status that came', async () => {
    server = await hostileInflux();
    server.behaviour['/write'] = 'trickle-400';
    client = new InfluxHttpClient({ url: server.url, deadlineMs: 600 });
    const started = Date.now();
    const error = await failureOf(client.write('telemetry x=1 1', TARGET));
    const took = Date.now() - started;
    expect(error.status).toBe(400);
    expect(took).toBeGreaterThanOrEqual(550);
    expect(took).toBeLessThan(3_000);
    expect(client.replyBytesReceived).toBeGreaterThan(5);
    await waitFor(() => server?.exchanges[0]?.closedAt !== null, 2_000, 'the server to see the connection closed');
  });

  it('a 204 whose head never ends: ETIMEDOUT at the deadline, no status, the connection closed', async () => {
    server = await hostileInflux();
    server.behaviour['/ping'] = 'endless-204';
    client = new InfluxHttpClient({ url: server.url, deadlineMs: 600 });
    const started = Date.now();
    const error = await failureOf(client.ping());
    expect(error).toMatchObject({ status: null, code: 'ETIMEDOUT' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    await waitFor(() => server?.exchanges[0]?.closedAt !== null, 2_000, 'the server to see the connection closed');
    expect(server.exchanges[0]?.bytesWritten).toBeGreaterThan(0);
  });

  it('credentials go as Basic authentication to /write and /query, never to /ping; the body is the line protocol as given', async () => {
    server = await hostileInflux();
    client = new InfluxHttpClient({ url: `${server.url}/influx/`, username: 'ward4w', password: 'pw:with colon' });
    await client.ping();
    await client.createDatabase('wardwatch');
    await client.write('telemetry,device=pump-01 x=1 1', { ...TARGET, retentionPolicy: 'year' });
    expect(server.exchanges.map((one) => one.path)).toEqual(['/influx/ping', '/influx/query', '/influx/write']);
    expect(server.exchanges[0]?.authorization).toBeUndefined();
    const basic = `Basic ${Buffer.from('ward4w:pw:with colon').toString('base64')}`;
    expect(server.exchanges.slice(1).map((one) => one.authorization)).toEqual([basic, basic]);
    expect(new URLSearchParams(server.exchanges[1]?.body).get('q')).toBe('CREATE DATABASE "wardwatch"');
    expect(server.exchanges[2]?.body).toBe('telemetry,device=pump-01 x=1 1');
  });
});

describe('InfluxSink against a hostile server', () => {
  function wired(url: string, deadlineMs: number): { sink: InfluxSink; monitor: Monitor } {
    const site = loadDemoConfig();
    const config = influxdbSchema.parse({ url, database: 'wardwatch', flushIntervalMs: 100 });
    const made = new InfluxSink({ config, context: pointContext(site.drugLibrary, site.site.ward, site.devices), logger: pino({ level: 'silent' }), retry: { initialMs: 50, maxMs: 200 }, requestDeadlineMs: deadlineMs });
    return { sink: made, monitor: createMonitor(site, { sinks: [made], logger: pino({ level: 'silent' }), onEvent: made.observe }) };
  }

  function telemetry(monitor: Monitor, ts: number, infused: number): void {
    const payload = { ts: new Date(ts).toISOString(), state: 'running', drug: 'heparin', care_area: 'ICU', weight_kg: 80, rate_ml_h: 14.4, infused_ml: infused, vtbi_ml: 250, alarm: '', battery_pct: 87, library_version: '4W-2026.11-demo' };
    monitor.pipeline.ingest({ kind: 'mqtt-publish', ts, client: { clientId: 'pump-01', username: 'pump-01', address: '10.4.1.11' }, topic: 'ward/pump-01/telemetry', payload: Buffer.from(JSON.stringify(payload)), retain: false, qos: 1 });
  }

  it('an endless 400 to a write: the batch is refused and counted, the connection cut, and the next points are written', async () => {
    server = await hostileInflux();
    const hostile = server;
    hostile.behaviour['/write'] = 'flood-400';
    const made = wired(hostile.url, 10_000);
    sink = made.sink;
    const running = sink;
    await sink.start();
    const t0 = Date.parse('2026-11-28T08:00:00Z');
    for (let i = 0; i < 3; i += 1) telemetry(made.monitor, t0 + i * 1_000, i);
    await waitFor(() => running.stats().dropped === 3, 5_000, 'the refused batch counted');
    expect(running.stats()).toMatchObject({ failures: 1, queued: 0, sent: 0, connected: true });
    const flooded = hostile.exchanges.find((one) => one.path === '/write');
    await waitFor(() => flooded?.closedAt !== null, 2_000, 'the flooded connection closed');
    // What the server got into the kernel before the close: the cap plus socket buffers, not a stream.
    expect(flooded?.bytesWritten).toBeLessThan(16 * 1024 * 1024);

    hostile.behaviour['/write'] = 'ok';
    telemetry(made.monitor, t0 + 10_000, 10);
    await waitFor(() => running.stats().sent === 1, 5_000, 'the next point written');
    const written = hostile.exchanges.filter((one) => one.path === '/write').at(-1)?.body ?? '';
    expect(written).toMatch(/^telemetry,.*device=pump-01,.* .*infused_ml=10,/);
    expect(written.endsWith(` ${(t0 + 10_000) * 1000}`)).toBe(true);
    expect(running.stats()).toMatchObject({ failures: 1, dropped: 3, queued: 0 });
  });

  it('a 204 that never ends: the write fails at the deadline, points stay queued, and arrive once the server answers', async () => {
    server = await hostileInflux();
    const hostile = server;
    hostile.behaviour['/write'] = 'endless-204';
    const made = wired(hostile.url, 400);
    sink = made.sink;
    const running = sink;
    await sink.start();
    const t0 = Date.parse('2026-11-28T08:00:00Z');
    for (let i = 0; i < 3; i += 1) telemetry(made.monitor, t0 + i * 1_000, i);
    await waitFor(() => running.stats().failures >= 2, 5_000, 'two timed-out writes');
    expect(running.stats()).toMatchObject({ connected: false, queued: 3, sent: 0, dropped: 0 });
    const stalled = hostile.exchanges.filter((one) => one.path === '/write');
    await waitFor(() => stalled.slice(0, 2).every((one) => one.closedAt !== null), 2_000, 'stalled connections closed');
    for (const one of stalled.slice(0, 2)) expect((one.closedAt ?? 0) - one.startedAt).toBeGreaterThanOrEqual(350);

    hostile.behaviour['/write'] = 'ok';
    await waitFor(() => running.stats().sent === 3, 5_000, 'the queued points written');
    expect(running.stats()).toMatchObject({ connected: true, queued: 0, dropped: 0 });
    expect(hostile.exchanges.filter((one) => one.path === '/write').at(-1)?.body.split('\n')).toHaveLength(3);
  });
});
