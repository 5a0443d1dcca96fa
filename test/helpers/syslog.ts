import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { waitFor } from './wait-for.ts';

/**
 * Strict parsers for what the SIEM export sends, written from the specifications and not
 * from our formatter: RFC 5424 (syslog message), RFC 6587 §3.4.1 (octet counting) and
 * "Implementing ArcSight CEF" rev 25. Anything outside the grammar throws.
 */

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

export interface ParsedSdElement {
  readonly id: string;
  readonly params: readonly (readonly [string, string])[];
}

export interface ParsedSyslog {
  readonly pri: number;
  readonly facility: number;
  readonly severity: number;
  readonly timestamp: string | null;
  readonly hostname: string | null;
  readonly appName: string | null;
  readonly procId: string | null;
  readonly msgId: string | null;
  readonly structuredData: readonly ParsedSdElement[];
  /** MSG decoded as UTF-8 (without the BOM); null when absent. */
  readonly msg: string | null;
  readonly bom: boolean;
}

const SP = 0x20;

/** RFC 5424 §6 ABNF, octet by octet. */
export function parseSyslogMessage(bytes: Buffer): ParsedSyslog {
  let pos = 0;
  const fail = (why: string): never => {
    throw new Error(`not RFC 5424: ${why} at octet ${pos} of ${JSON.stringify(bytes.toString('latin1').slice(0, 160))}`);
  };
  const expect = (octet: number, what: string): void => {
    if (bytes[pos] !== octet) fail(`expected ${what}`);
    pos += 1;
  };
  /** A header token: 1*max PRINTUSASCII, or "-" for NILVALUE. */
  const token = (max: number, what: string): string | null => {
    const start = pos;
    while (pos < bytes.length && bytes[pos] !== SP) {
      const octet = bytes[pos] ?? 0;
      if (octet < 33 || octet > 126) fail(`${what} holds a non-PRINTUSASCII octet`);
      pos += 1;
    }
    const text = bytes.subarray(start, pos).toString('ascii');
    if (text.length === 0) fail(`empty ${what}`);
    if (text.length > max) fail(`${what} longer than ${max}`);
    return text === '-' ? null : text;
  };

  // PRI = "<" PRIVAL ">", PRIVAL 0–191 without leading zeros; VERSION = "1".
  const head = /^<(0|[1-9]\d{0,2})>1 /.exec(bytes.subarray(0, 8).toString('latin1'));
  if (head === null) fail('bad PRI or VERSION');
  const pri = Number(head?.[1]);
  if (pri > 191) fail('PRIVAL above 191');
  pos = head?.[0].length ?? 0;

  const timestamp = token(64, 'TIMESTAMP');
  if (timestamp !== null) {
    // FULL-DATE "T" PARTIAL-TIME TIME-OFFSET, TIME-SECFRAC at most 6 digits, "T" and "Z" upper case (§6.2.3).
    const form = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/.exec(timestamp);
    if (form === null || Number.isNaN(Date.parse(timestamp))) fail(`TIMESTAMP ${timestamp} is not RFC 3339 as §6.2.3 restricts it`);
  }
  expect(SP, 'SP after TIMESTAMP');
  const hostname = token(255, 'HOSTNAME');
  expect(SP, 'SP after HOSTNAME');
  const appName = token(48, 'APP-NAME');
  expect(SP, 'SP after APP-NAME');
  const procId = token(128, 'PROCID');
  expect(SP, 'SP after PROCID');
  const msgId = token(32, 'MSGID');
  expect(SP, 'SP after MSGID');

  // STRUCTURED-DATA = NILVALUE / 1*SD-ELEMENT (§6.3).
  const structuredData: ParsedSdElement[] = [];
  const sdName = (what: string): string => {
    const start = pos;
    while (pos < bytes.length) {
      const octet = bytes[pos] ?? 0;
      if (octet < 33 || octet > 126 || octet === 0x3d || octet === 0x5d || octet === 0x22) break;
      pos += 1;
    }
    const name = bytes.subarray(start, pos).toString('ascii');
    if (name.length < 1 || name.length > 32) fail(`${what} must be 1–32 characters`);
    return name;
  };
  if (bytes[pos] === 0x2d) {
    pos += 1;
  } else {
    if (bytes[pos] !== 0x5b) fail('STRUCTURED-DATA is neither "-" nor an SD-ELEMENT');
    while (bytes[pos] === 0x5b) {
      pos += 1;
      const id = sdName('SD-ID');
      const params: [string, string][] = [];
      while (bytes[pos] === SP) {
        pos += 1;
        const name = sdName('PARAM-NAME');
        expect(0x3d, '"=" after PARAM-NAME');
        expect(0x22, 'opening quote of PARAM-VALUE');
        const value: number[] = [];
        for (;;) {
          if (pos >= bytes.length) fail('PARAM-VALUE not closed');
          const octet = bytes[pos] ?? 0;
          if (octet === 0x22) break;
          if (octet === 0x5d) fail('an unescaped "]" in PARAM-VALUE (§6.3.3)');
          if (octet === 0x5c) {
            const next = bytes[pos + 1] ?? 0;
            // §6.3.3: '"', '\' and ']' are escaped; a backslash before anything else is kept as is.
            if (next === 0x22 || next === 0x5c || next === 0x5d) {
              value.push(next);
              pos += 2;
              continue;
            }
          }
          value.push(octet);
          pos += 1;
        }
        pos += 1;
        params.push([name, STRICT_UTF8.decode(Buffer.from(value))]);
      }
      expect(0x5d, '"]" closing the SD-ELEMENT');
      structuredData.push({ id, params });
    }
  }

  let msg: string | null = null;
  let bom = false;
  if (pos < bytes.length) {
    expect(SP, 'SP before MSG');
    let body = bytes.subarray(pos);
    // §6.4: MSG-UTF8 = BOM UNICODE-STRING.
    if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) {
      bom = true;
      body = body.subarray(3);
    }
    msg = STRICT_UTF8.decode(body);
  }
  return { pri, facility: Math.floor(pri / 8), severity: pri % 8, timestamp, hostname, appName, procId, msgId, structuredData, msg, bom };
}

/** The value of one SD-PARAM, or undefined. */
export function sdParam(message: ParsedSyslog, id: string, name: string): string | undefined {
  return message.structuredData.find((element) => element.id === id)?.params.find(([param]) => param === name)?.[1];
}

export interface ParsedCef {
  readonly version: number;
  readonly vendor: string;
  readonly product: string;
  readonly deviceVersion: string;
  readonly signatureId: string;
  readonly name: string;
  readonly severity: number;
  /** In message order. */
  readonly extension: ReadonlyMap<string, string>;
}

/**
 * CEF as rev 25 defines it. Header: `\|` and `\\` are the only escapes, no raw newline.
 * Extension: `\\`, `\=`, `\n` and `\r` are the only escapes, every unescaped "=" ends a
 * key (a single word after a space), no raw newline, no key twice, and custom fields
 * come with their labels.
 */
export function parseCef(text: string): ParsedCef {
  const fail = (why: string): never => {
    throw new Error(`not CEF: ${why} in ${JSON.stringify(text.slice(0, 300))}`);
  };
  if (!text.startsWith('CEF:')) fail('does not start with CEF:');
  const fields: string[] = [];
  let current = '';
  let i = 0;
  for (; i < text.length && fields.length < 7; i += 1) {
    const char = text[i];
    if (char === '\r' || char === '\n') fail('a raw line break in the header');
    if (char === '\\') {
      const next = text[i + 1];
      if (next !== '\\' && next !== '|') fail(`"\\${next ?? ''}" is not a header escape`);
      current += next;
      i += 1;
    } else if (char === '|') {
      fields.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  if (fields.length < 7) fail('fewer than seven header fields');
  const [versionField, vendor, product, deviceVersion, signatureId, name, severityField] = fields as [string, string, string, string, string, string, string];
  const version = /^CEF:(\d+)$/.exec(versionField);
  if (version === null) fail('bad CEF version');
  if (!/^(10|[0-9])$/.test(severityField)) fail(`severity ${severityField} is not an integer 0–10`);
  for (const [field, value] of [['vendor', vendor], ['product', product], ['version', deviceVersion], ['signature id', signatureId], ['name', name]] as const) {
    if (value.length === 0) fail(`empty ${field}`);
  }

  const raw = text.slice(i);
  const equals: number[] = [];
  for (let j = 0; j < raw.length; j += 1) {
    const char = raw[j];
    if (char === '\r' || char === '\n') fail('a raw line break in the extension');
    if (char === '\\') {
      const next = raw[j + 1];
      if (next === undefined || !'\\=nr'.includes(next)) fail(`"\\${next ?? ''}" is not an extension escape`);
      j += 1;
    } else if (char === '=') {
      equals.push(j);
    }
  }
  const keys: { key: string; start: number; equals: number }[] = [];
  for (const at of equals) {
    let start = at;
    while (start > 0 && /[A-Za-z0-9_]/.test(raw[start - 1] ?? '')) start -= 1;
    if (start === at || (start > 0 && raw[start - 1] !== ' ')) fail(`an unescaped "=" at ${at} of the extension that does not end a key`);
    keys.push({ key: raw.slice(start, at), start, equals: at });
  }
  if (raw.length > 0 && keys[0]?.start !== 0) fail('the extension does not start with a key');
  const unescape = (value: string): string => value.replace(/\\(.)/g, (_, char: string) => (char === 'n' ? '\n' : char === 'r' ? '\r' : char));
  const extension = new Map<string, string>();
  keys.forEach((entry, index) => {
    const next = keys[index + 1];
    const value = raw.slice(entry.equals + 1, next === undefined ? raw.length : next.start - 1);
    if (value.length === 0) fail(`empty value for ${entry.key}`);
    if (extension.has(entry.key)) fail(`key ${entry.key} twice`);
    extension.set(entry.key, unescape(value));
  });
  for (const key of extension.keys()) {
    const custom = /^(cs\d|cn\d|c6a\d|cfp\d|deviceCustomDate\d|flexString\d)(Label)?$/.exec(key);
    if (custom === null) continue;
    const partner = custom[2] === undefined ? `${custom[1]}Label` : custom[1];
    if (partner !== undefined && !extension.has(partner)) fail(`${key} without ${partner}`);
  }
  return { version: Number(version?.[1]), vendor, product, deviceVersion, signatureId, name, severity: Number(severityField), extension };
}

/** RFC 6587 §3.4.1: MSG-LEN SP SYSLOG-MSG, MSG-LEN = NONZERO-DIGIT *DIGIT. */
export class OctetCountingDecoder {
  private buffer = Buffer.alloc(0);

  constructor(private readonly onMessage: (message: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const space = this.buffer.indexOf(SP);
      if (space < 0) {
        if (this.buffer.length > 10 || !/^\d*$/.test(this.buffer.toString('latin1'))) throw new Error(`bad octet-counting frame start: ${JSON.stringify(this.buffer.subarray(0, 20).toString('latin1'))}`);
        return;
      }
      const digits = this.buffer.subarray(0, space).toString('latin1');
      if (!/^[1-9]\d{0,9}$/.test(digits)) throw new Error(`bad MSG-LEN ${JSON.stringify(digits)}`);
      const length = Number(digits);
      if (this.buffer.length < space + 1 + length) return;
      this.onMessage(Buffer.from(this.buffer.subarray(space + 1, space + 1 + length)));
      this.buffer = this.buffer.subarray(space + 1 + length);
    }
  }
}

/** A syslog collector on loopback: UDP (RFC 5426), TCP (RFC 6587) or TLS (RFC 5425); it keeps every message it receives. */
export class SyslogCollector {
  readonly messages: Buffer[] = [];
  /** Framing errors; a test expects none. */
  readonly errors: string[] = [];
  /** TCP connections accepted, before any TLS handshake: a client that reached the port. */
  connectionsSeen = 0;
  private readonly connections = new Set<Socket>();

  private constructor(
    readonly transport: 'udp' | 'tcp' | 'tls',
    private readonly server: Server | UdpSocket,
    readonly port: number,
    readonly host: string,
  ) {}

  static async udp(host = '127.0.0.1'): Promise<SyslogCollector> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, host, () => resolve());
    });
    const collector = new SyslogCollector('udp', socket, socket.address().port, host);
    // RFC 5426 §3.1: one message per datagram.
    socket.on('message', (datagram) => collector.messages.push(datagram));
    return collector;
  }

  /** TCP, or TLS with `tls` (the server's certificate and key; `requestCert` to ask for a client certificate). `port` 0: a free one. */
  static async stream(options: { readonly port?: number; readonly host?: string; readonly tls?: TlsOptions } = {}): Promise<SyslogCollector> {
    const host = options.host ?? '127.0.0.1';
    let collector: SyslogCollector | null = null;
    const accept = (socket: Socket): void => {
      if (collector === null) return;
      const current = collector;
      current.connections.add(socket);
      const decoder = new OctetCountingDecoder((message) => current.messages.push(message));
      socket.on('data', (chunk) => {
        try {
          decoder.push(chunk);
        } catch (error) {
          current.errors.push((error as Error).message);
          socket.destroy();
        }
      });
      socket.on('error', () => undefined);
      socket.on('close', () => current.connections.delete(socket));
    };
    const server = options.tls === undefined ? createServer(accept) : createTlsServer(options.tls, accept);
    server.on('tlsClientError', () => undefined);
    server.on('connection', () => {
      if (collector !== null) collector.connectionsSeen += 1;
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    collector = new SyslogCollector(options.tls === undefined ? 'tcp' : 'tls', server, address.port, host);
    return collector;
  }

  /** `host:port` for a `siem.syslog[].target`. */
  get target(): string {
    return `${this.host}:${this.port}`;
  }

  parsed(): ParsedSyslog[] {
    return this.messages.map((message) => parseSyslogMessage(message));
  }

  /** Waits for a message that `match` accepts; returns it parsed, with its CEF. */
  async waitForMessage(match: (message: ParsedSyslog, cef: ParsedCef) => boolean, timeoutMs = 5_000, what = 'a syslog message'): Promise<{ readonly message: ParsedSyslog; readonly cef: ParsedCef; readonly bytes: Buffer }> {
    return waitFor(() => {
      for (const bytes of this.messages) {
        const message = parseSyslogMessage(bytes);
        const cef = parseCef(message.msg ?? '');
        if (match(message, cef)) return { message, cef, bytes };
      }
      return null;
    }, timeoutMs, `${what} at the ${this.transport} collector`);
  }

  /** Stops listening and drops every open connection: the collector "goes away". */
  async close(): Promise<void> {
    if (this.transport === 'udp') {
      await new Promise<void>((resolve) => (this.server as UdpSocket).close(() => resolve()));
      return;
    }
    for (const socket of this.connections) socket.destroy();
    await new Promise<void>((resolve) => (this.server as Server).close(() => resolve()));
  }
}
