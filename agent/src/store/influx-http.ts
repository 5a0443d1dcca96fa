import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { INFLUXDB_DEFAULT_PORT } from '../model/influxdb-schema.ts';

/**
 * The three calls the InfluxDB output makes on InfluxDB 1.x's HTTP API ("InfluxDB API
 * reference": `GET /ping`, `POST /query`, `POST /write`), each bounded, so that whatever
 * answers cannot take the agent's memory or hang a write (DESIGN.md, principle 7):
 *
 * - every request has an overall deadline (INFLUX_REQUEST_DEADLINE_MS from the first byte
 *   sent to the last byte read), not an idle timeout that a trickle of bytes keeps alive;
 * - at most INFLUX_MAX_REPLY_BYTES of any answer's body are read, then the connection is
 *   destroyed (headers: Node's own limit, 16 KiB, `--max-http-header-size`);
 * - redirects are not followed (they could carry the credentials elsewhere);
 * - failures settle the returned promise once; no event handler throws.
 *
 * This replaces the HTTP client of the `influx` npm package (5.12, chosen for issue 8): it
 * collects the whole body of a 3xx/4xx/5xx answer with no limit and its `requestTimeout`
 * is an idle timeout, so an InfluxDB (or anyone on the path of plain http://) answering
 * 400 with an endless trickle grew the agent to 660 MB and crashed it (RangeError) within
 * seconds, and it offers no option to bound either. The package's line-protocol escaping
 * is still used (store/influx-line-protocol.ts).
 */

/** A request not finished by then has failed, whatever it has received meanwhile. */
export const INFLUX_REQUEST_DEADLINE_MS = 10_000;
/** Bytes of an answer's body kept; past this the connection is destroyed. InfluxDB's error answers are a line of JSON. */
export const INFLUX_MAX_REPLY_BYTES = 64 * 1024;

/** A failed request: the HTTP status if one came, the Node error code if one was raised. Never the request (its headers hold the credentials). */
export class InfluxRequestError extends Error {
  constructor(message: string, readonly status: number | null, readonly code: string | null) {
    super(message);
    this.name = 'InfluxRequestError';
  }
}

export interface InfluxHttpOptions {
  /** http(s)://host[:port][/path] as configured (checked by model/influxdb-schema.ts); no port: 8086. */
  readonly url: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** PEM CA for https; absent: the system's CAs. */
  readonly ca?: Buffer | undefined;
  /** Default INFLUX_REQUEST_DEADLINE_MS (tests shorten it). */
  readonly deadlineMs?: number;
  /** Default INFLUX_MAX_REPLY_BYTES. */
  readonly maxReplyBytes?: number;
}

interface Reply {
  readonly status: number;
  readonly body: string;
  /** The body was cut at the cap, or the deadline came while it was arriving. */
  readonly truncated: boolean;
}

interface RequestSpec {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly query?: Readonly<Record<string, string | undefined>>;
  readonly body?: string;
  readonly contentType?: string;
  readonly withCredentials: boolean;
}

/** InfluxDB 1.x answers errors as {"error": "…"}; anything else is quoted as is (cut, and only for the log). */
function errorText(reply: Reply): string {
  try {
    const parsed = JSON.parse(reply.body) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error.slice(0, 300);
  } catch {
    // Not JSON (a proxy's page, a truncated answer): the raw start below.
  }
  return reply.body.slice(0, 300);
}

function failedReply(what: string, reply: Reply): InfluxRequestError {
  const text = errorText(reply);
  return new InfluxRequestError(`${what}: InfluxDB answered ${reply.status}${text === '' ? '' : `: ${text}`}${reply.truncated ? ' (answer cut)' : ''}`, reply.status, null);
}

export class InfluxHttpClient {
  private readonly base: URL;
  private readonly https: boolean;
  /** One keep-alive connection: the output's requests are sequential, and close() ends it. */
  private readonly agent: HttpAgent;
  private readonly authorization: string | null;
  private readonly deadlineMs: number;
  private readonly maxReplyBytes: number;
  /** Body bytes received over all answers (diagnostics; tests check the cap with it). */
  private replyBytes = 0;

  constructor(options: InfluxHttpOptions) {
    this.base = new URL(options.url);
    if (this.base.port === '') this.base.port = String(INFLUXDB_DEFAULT_PORT);
    this.https = this.base.protocol === 'https:';
    this.agent = this.https ? new HttpsAgent({ keepAlive: true, maxSockets: 1, ...(options.ca === undefined ? {} : { ca: options.ca }) }) : new HttpAgent({ keepAlive: true, maxSockets: 1 });
    // Basic authentication (RFC 7617), as InfluxDB 1.x accepts besides u/p in the query; only ever sent to the configured URL.
    this.authorization = options.username === undefined ? null : `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`;
    this.deadlineMs = options.deadlineMs ?? INFLUX_REQUEST_DEADLINE_MS;
    this.maxReplyBytes = options.maxReplyBytes ?? INFLUX_MAX_REPLY_BYTES;
  }

  /** Body bytes received so far, over all requests. */
  get replyBytesReceived(): number {
    return this.replyBytes;
  }

  /** `GET /ping` (no credentials needed): resolves when InfluxDB answers 2xx (204). */
  async ping(): Promise<void> {
    const reply = await this.send({ method: 'GET', path: '/ping', withCredentials: false });
    if (reply.status < 200 || reply.status > 299) throw failedReply('ping', reply);
  }

  /**
   * `CREATE DATABASE "name"` through `POST /query` (form body, so the statement stays out
   * of proxies' access logs). Idempotent in InfluxDB 1.x. A 200 can still carry an error
   * per statement ({"results":[{"error": …}]}), which fails it too.
   */
  async createDatabase(name: string): Promise<void> {
    const q = `CREATE DATABASE "${name.replace(/["\\]/g, '\\$&')}"`;
    const reply = await this.send({ method: 'POST', path: '/query', body: new URLSearchParams({ q }).toString(), contentType: 'application/x-www-form-urlencoded', withCredentials: true });
    if (reply.status < 200 || reply.status > 299) throw failedReply('CREATE DATABASE', reply);
    let results: unknown;
    try {
      results = (JSON.parse(reply.body) as { results?: unknown }).results;
    } catch {
      throw new InfluxRequestError(`CREATE DATABASE: InfluxDB answered ${reply.status} with ${reply.truncated ? 'an answer too long' : 'something other than JSON'}`, reply.status, null);
    }
    const failed = Array.isArray(results) ? results.find((one: { error?: unknown }) => typeof one?.error === 'string') as { error: string } | undefined : undefined;
    if (!Array.isArray(results) || failed !== undefined) throw new InfluxRequestError(`CREATE DATABASE: ${failed?.error.slice(0, 300) ?? 'no results in the answer'}`, reply.status, null);
  }

  /** `POST /write` of line protocol; resolves on 2xx (InfluxDB answers 204). A 400 leaves `status` 400 on the error. */
  async write(body: string, target: { readonly database: string; readonly retentionPolicy?: string | undefined; readonly precision: 'n' | 'u' | 'ms' | 's' }): Promise<void> {
    const reply = await this.send({ method: 'POST', path: '/write', query: { db: target.database, rp: target.retentionPolicy, precision: target.precision }, body, contentType: 'text/plain; charset=utf-8', withCredentials: true });
    if (reply.status < 200 || reply.status > 299) throw failedReply('write', reply);
  }

  /** Ends the connection and any request in flight (which then fails). */
  close(): void {
    this.agent.destroy();
  }

  private urlOf(spec: RequestSpec): URL {
    const url = new URL(this.base.href);
    url.pathname = `${this.base.pathname.replace(/\/$/, '')}${spec.path}`;
    for (const [name, value] of Object.entries(spec.query ?? {})) if (value !== undefined) url.searchParams.set(name, value);
    return url;
  }

  /** One request; settles once: on the answer's end, at the body cap, at the deadline, or on an error. */
  private send(spec: RequestSpec): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (spec.withCredentials && this.authorization !== null) headers.authorization = this.authorization;
      if (spec.body !== undefined) {
        headers['content-type'] = spec.contentType ?? 'text/plain';
        headers['content-length'] = String(Buffer.byteLength(spec.body));
      }
      const chunks: Buffer[] = [];
      let kept = 0;
      let status: number | null = null;
      let settled = false;
      let request: ClientRequest | null = null;
      let response: IncomingMessage | null = null;

      const finish = (outcome: { reply: Reply } | { error: InfluxRequestError }): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        if ('reply' in outcome) resolve(outcome.reply);
        else reject(outcome.error);
      };
      const replySoFar = (truncated: boolean): Reply => ({ status: status ?? 0, body: Buffer.concat(chunks).toString('utf8'), truncated });
      /** Stops reading: the socket goes, so no more of the answer is buffered. */
      const cutOff = (): void => {
        response?.destroy();
        request?.destroy();
      };

      const deadline = setTimeout(() => {
        // With a status: the answer came, its body did not finish in time; that status is what counts.
        if (status !== null) finish({ reply: replySoFar(true) });
        else finish({ error: new InfluxRequestError(`no answer from InfluxDB within ${this.deadlineMs} ms`, null, 'ETIMEDOUT') });
        cutOff();
      }, this.deadlineMs);
      deadline.unref();

      try {
        request = (this.https ? httpsRequest : httpRequest)(this.urlOf(spec), { method: spec.method, agent: this.agent, headers });
      } catch (error) {
        finish({ error: new InfluxRequestError(error instanceof Error ? error.message.slice(0, 300) : String(error), null, null) });
        return;
      }
      request.on('error', (error: NodeJS.ErrnoException) => {
        finish({ error: new InfluxRequestError(error.message.slice(0, 300), status, typeof error.code === 'string' ? error.code : null) });
      });
      request.on('response', (answer) => {
        response = answer;
        status = answer.statusCode ?? 0;
        answer.on('error', () => {
          // Destroyed mid-body (by cutOff or by the peer): settled elsewhere or by 'close' below.
        });
        answer.on('data', (chunk: Buffer) => {
          this.replyBytes += chunk.length;
          if (settled) return;
          const room = this.maxReplyBytes - kept;
          chunks.push(room >= chunk.length ? chunk : chunk.subarray(0, room));
          kept += Math.min(room, chunk.length);
          if (kept >= this.maxReplyBytes) {
            finish({ reply: replySoFar(true) });
            cutOff();
          }
        });
        answer.on('end', () => finish({ reply: replySoFar(false) }));
        // The connection ended before the body did.
        answer.on('close', () => {
          if (!answer.complete) finish({ reply: replySoFar(true) });
        });
      });
      request.end(spec.body);
    });
  }
}
