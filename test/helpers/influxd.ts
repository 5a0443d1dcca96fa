import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingPeer } from './peers.ts';
import { AddressInUse, freePort, killOnExit } from './peer-process.ts';

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;
const PORT_ATTEMPTS = 5;
/** Lines of influxd's output kept for error messages (bounded). */
const LOG_LINES = 80;

/** Why the InfluxDB tests cannot run here, or null (skips outside CI, fails under CI=true). */
export function missingInfluxd(): string | null {
  return missingPeer('influxd', 'influxdb');
}

export interface InfluxdOptions {
  /** Serve HTTPS with this PEM certificate (chain) and key instead of plain HTTP. */
  readonly https?: { readonly certFile: string; readonly keyFile: string };
  /** `[http] auth-enabled`: every request needs a user; the first one made must be an admin. */
  readonly auth?: boolean;
}

export interface InfluxAnswer {
  readonly status: number;
  readonly body: string;
}

/** One statement's series, as InfluxDB 1.x's /query answers them. */
export interface InfluxSeries {
  readonly name: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly columns: readonly string[];
  readonly values: readonly (readonly unknown[])[];
}

export interface RunningInfluxd {
  /** The HTTP API port (`[http] bind-address`). */
  readonly port: number;
  /** http(s)://127.0.0.1:<port> */
  readonly url: string;
  /** The data directory (meta, data, wal): kept across stop() and start(). */
  readonly dir: string;
  /** Stops the server (SIGTERM, SIGKILL after 10 s); the data stays for start(). */
  stopProcess(): Promise<void>;
  /** Starts it again on the same ports and data directory. */
  start(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections are still accepted by the kernel, nothing answers. */
  pause(): void;
  /** Lets a paused process go on (SIGCONT). */
  resume(): void;
  /** Stops it and removes its directory. Idempotent. */
  stop(): Promise<void>;
  /** An InfluxQL statement through /query (POST, so that writes such as CREATE work too). */
  query(q: string, options?: { readonly db?: string; readonly auth?: string; readonly epoch?: string }): Promise<InfluxAnswer>;
  /** The series of the first statement's result; throws on an error answer. */
  series(q: string, db: string, auth?: string): Promise<InfluxSeries[]>;
  /** The last lines influxd wrote. */
  log(): string;
}

class InfluxdProcess implements RunningInfluxd {
  readonly dir = mkdtempSync(join(tmpdir(), 'wardwatch-influxd-'));
  port = 0;
  /** The RPC service's port (backup/restore, default 8088): moved too, so that two servers never clash. */
  rpcPort = 0;
  private child: ChildProcess | null = null;
  private readonly logLines: string[] = [];

  constructor(private readonly options: InfluxdOptions) {}

  get url(): string {
    return `${this.options.https === undefined ? 'http' : 'https'}://127.0.0.1:${this.port}`;
  }

  log(): string {
    return this.logLines.join('\n');
  }

  /** influxd 1.6 config (`influxd config` prints every key): temp dirs, loopback ports, quiet, nothing phoned home. */
  private writeConfig(): string {
    const file = join(this.dir, 'influxdb.conf');
    const https = this.options.https;
    writeFileSync(
      file,
      [
        'reporting-disabled = true',
        `bind-address = "127.0.0.1:${this.rpcPort}"`,
        '[meta]',
        `  dir = "${join(this.dir, 'meta')}"`,
        '  logging-enabled = false',
        '[data]',
        `  dir = "${join(this.dir, 'data')}"`,
        `  wal-dir = "${join(this.dir, 'wal')}"`,
        '  query-log-enabled = false',
        '[monitor]',
        '  store-enabled = false',
        '[http]',
        `  bind-address = "127.0.0.1:${this.port}"`,
        `  auth-enabled = ${this.options.auth === true}`,
        '  log-enabled = false',
        '  pprof-enabled = false',
        `  https-enabled = ${https !== undefined}`,
        ...(https === undefined ? [] : [`  https-certificate = "${https.certFile}"`, `  https-private-key = "${https.keyFile}"`]),
        '[logging]',
        '  level = "warn"',
        '  suppress-logo = true',
        '',
      ].join('\n'),
    );
    return file;
  }

  private request(method: 'GET' | 'POST', path: string, body: string | null, auth?: string): Promise<InfluxAnswer> {
    const https = this.options.https;
    const send = https === undefined ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      const req = send(
        `${this.url}${path}`,
        {
          method,
          agent: false,
          // The test trusts the server it started: its certificate is issued for 127.0.0.1 by the test CA.
          ...(https === undefined ? {} : { rejectUnauthorized: false }),
          headers: {
            ...(body === null ? {} : { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) }),
            ...(auth === undefined ? {} : { authorization: `Basic ${Buffer.from(auth).toString('base64')}` }),
          },
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.end(body ?? undefined);
    });
  }

  async query(q: string, options: { readonly db?: string; readonly auth?: string; readonly epoch?: string } = {}): Promise<InfluxAnswer> {
    const form = new URLSearchParams({ q, epoch: options.epoch ?? 'ms', ...(options.db === undefined ? {} : { db: options.db }) });
    return this.request('POST', '/query', form.toString(), options.auth);
  }

  async series(q: string, db: string, auth?: string): Promise<InfluxSeries[]> {
    const answer = await this.query(q, { db, ...(auth === undefined ? {} : { auth }) });
    const parsed = JSON.parse(answer.body) as { results?: { series?: InfluxSeries[]; error?: string }[]; error?: string };
    const first = parsed.results?.[0];
    if (answer.status !== 200 || parsed.error !== undefined || first?.error !== undefined) throw new Error(`InfluxQL ${q}: ${answer.status} ${answer.body}`);
    return first?.series ?? [];
  }

  private async pinged(): Promise<boolean> {
    try {
      return (await this.request('GET', '/ping', null)).status === 204;
    } catch {
      return false;
    }
  }

  async start(): Promise<void> {
    const config = this.writeConfig();
    this.logLines.length = 0;
    const child = spawn('influxd', ['run', '-config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    killOnExit(child);
    this.child = child;
    let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    child.once('exit', (code, signal) => {
      exited = { code, signal };
    });
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) {
          if (line.trim() === '') continue;
          this.logLines.push(line);
          if (this.logLines.length > LOG_LINES) this.logLines.shift();
        }
      });
    }
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (exited !== null) {
        this.child = null;
        const log = this.log();
        if (/address already in use/i.test(log)) throw new AddressInUse(`port ${this.port} or ${this.rpcPort} in use`);
        throw new Error(`influxd exited at start (${JSON.stringify(exited)}):\n${log}`);
      }
      if (await this.pinged()) return;
      if (Date.now() > deadline) {
        await this.stopProcess();
        throw new Error(`influxd did not answer /ping on ${this.port} within ${START_TIMEOUT_MS} ms:\n${this.log()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async stopProcess(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // A paused server would not act on SIGTERM until continued.
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await gone;
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    await this.stopProcess();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A real InfluxDB 1.x (Debian's influxd) with its data in a temp directory and both its
 * HTTP API and its RPC service on free loopback ports. Call missingInfluxd() first.
 */
export async function startInfluxd(options: InfluxdOptions = {}): Promise<RunningInfluxd> {
  const server = new InfluxdProcess(options);
  for (let attempt = 1; ; attempt += 1) {
    server.port = await freePort();
    server.rpcPort = await freePort();
    try {
      await server.start();
      return server;
    } catch (error) {
      // Between closing the probe socket and influxd's bind someone else took a port.
      if (!(error instanceof AddressInUse) || attempt >= PORT_ATTEMPTS) {
        await server.stop();
        throw error;
      }
    }
  }
}
