import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from 'pino';
import type { ClientIdentity, MqttConnection, ObservationSink } from './observation.ts';
import type { MqttAccountVerifier } from './mqtt-account-verifier.ts';
import { normalizeAddress } from './address.ts';
import { listen } from '../server/listen.ts';

export interface MqttBrokerOptions {
  readonly host: string;
  /** Plain MQTT; 0 picks a free port; null: no plain listener (mqtts only). The bound ports are returned by start(). */
  readonly port: number | null;
  /** mqtts (MQTT over TLS) on its own port (0 = a free one), with the dashboard's certificate. */
  readonly tls?: { readonly port: number; readonly options: Pick<TlsOptions, 'cert' | 'key'> } | null;
  readonly allowAnonymous: boolean;
  readonly verifier: MqttAccountVerifier;
  readonly sink: ObservationSink;
  readonly logger: Logger;
  /** Wall clock for the event time of live traffic; replaced in tests. */
  readonly now?: () => number;
}

/** MQTT 3.1.1 §3.2.2.3 CONNACK return codes aedes sends for a refused login. */
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

/** Aedes allows 23 characters by default ([MQTT-3.1.3-5] minimum); device ids are longer. */
const MAX_CLIENT_ID_LENGTH = 128;
/**
 * Bytes a connection may send before its login is accepted. A CONNECT is a few hundred
 * bytes; aedes's parser would otherwise buffer a claimed 256 MB packet for its 30 s connect
 * timeout, and a handful of such sockets would exhaust a Pi (DESIGN.md, principle 3).
 */
export const MAX_PRE_LOGIN_BYTES = 64 * 1024;
/** TCP connections at once, per listener (plain, TLS); beyond it the system refuses them (a connect flood is also an alert). */
export const MAX_CONNECTIONS = 1_024;
/**
 * A TLS client must finish its handshake within this (Node's default is 120 s): a socket
 * that opens and sends nothing holds one of MAX_CONNECTIONS until then.
 */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Failed TLS handshakes (a device without the agent's certificate, a scanner) are logged at most this often, with a count. */
const TLS_FAILURE_LOG_INTERVAL_MS = 10_000;

/** The ports start() bound: null for a listener that is off. */
export interface BrokerPorts {
  readonly mqtt: number | null;
  readonly mqtts: number | null;
}

/**
 * The in-path broker (DESIGN.md, way 1): devices and stations connect to the agent's
 * embedded aedes. Every login, publish and subscription becomes an Observation with the
 * sender's authenticated identity. Monitor mode: nothing clinical is refused here.
 */
export class MqttBrokerIngest {
  private broker: Aedes | null = null;
  private readonly servers: Server[] = [];
  private readonly identities = new WeakMap<Client, ClientIdentity>();
  /** Each accepted connection's number (observation.ts, MqttConnection): aedes makes one Client per connection. */
  private readonly connections = new WeakMap<Client, MqttConnection>();
  private connectionsAccepted = 0;
  private readonly sockets = new Set<Socket>();
  private readonly loggedIn = new WeakSet<object>();
  private readonly now: () => number;
  /** TLS handshakes that failed since start (the count also goes to the log, throttled). */
  tlsHandshakeFailures = 0;
  private tlsFailuresLogged = 0;
  private tlsFailureLoggedAt = -Infinity;

  constructor(private readonly options: MqttBrokerOptions) {
    this.now = options.now ?? Date.now;
  }

  get connectedClients(): number {
    return this.broker?.connectedClients ?? 0;
  }

  /** The pipeline never throws by design; if it ever does, the broker and its clients must not go down with it. */
  private observe(observation: Parameters<ObservationSink>[0]): void {
    try {
      this.options.sink(observation);
    } catch (error) {
      this.options.logger.error({ err: error, kind: observation.kind }, 'observation failed; the broker goes on');
    }
  }

  private identityOf(client: Client, username: string | null = null): ClientIdentity {
    const known = this.identities.get(client);
    if (known !== undefined) return known;
    const socket = client.conn as Socket;
    return { clientId: client.id ?? '', username, address: normalizeAddress(socket.remoteAddress) };
  }

  /** The connection's number, given when its login is accepted (so before any PUBLISH of it); counted from 1 by this ingest. */
  private connectionOf(client: Client): MqttConnection {
    let connection = this.connections.get(client);
    if (connection === undefined) {
      this.connectionsAccepted += 1;
      connection = { ingest: 'in-path', sequence: this.connectionsAccepted };
      this.connections.set(client, connection);
    }
    return connection;
  }

  async start(): Promise<BrokerPorts> {
    const { verifier, allowAnonymous, logger } = this.options;
    const sink = (observation: Parameters<ObservationSink>[0]): void => this.observe(observation);
    const broker = await Aedes.createBroker({
      maxClientsIdLength: MAX_CLIENT_ID_LENGTH,
      authenticate: (client, username, password, done) => {
        const refuse = (reason: string, code: number): void => {
          sink({ kind: 'mqtt-auth-failure', ts: this.now(), client: this.identityOf(client, username ?? null), reason });
          const error = new Error(reason) as AuthenticateError;
          error.returnCode = code as AuthenticateError['returnCode'];
          done(error, null);
        };
        if (username === undefined) {
          if (allowAnonymous) {
            this.identities.set(client, this.identityOf(client, null));
            this.connectionOf(client);
            this.loggedIn.add(client.conn);
            done(null, true);
          } else {
            refuse('anonymous-refused', NOT_AUTHORIZED);
          }
          return;
        }
        verifier.verify(username, password ?? Buffer.alloc(0)).then(
          (result) => {
            if (result.ok) {
              this.identities.set(client, this.identityOf(client, username));
              this.connectionOf(client);
              this.loggedIn.add(client.conn);
              done(null, true);
            } else {
              refuse(result.reason, BAD_USERNAME_OR_PASSWORD);
            }
          },
          (error: unknown) => {
            logger.error({ err: error }, 'password verification failed');
            refuse('verifier-error', BAD_USERNAME_OR_PASSWORD);
          },
        );
      },
    });
    broker.on('client', (client) => {
      sink({ kind: 'mqtt-connect', ts: this.now(), client: this.identityOf(client) });
    });
    broker.on('clientDisconnect', (client) => {
      sink({ kind: 'mqtt-disconnect', ts: this.now(), client: this.identityOf(client) });
    });
    broker.on('publish', (packet, client) => {
      // $SYS heartbeats are the broker's own; they say nothing about the ward.
      if (client === null && packet.topic.startsWith('$SYS/')) return;
      // For a client's PUBLISH aedes emits the packet as the client sent it (aedes.js
      // callPublished: PublishState.packet), so DUP and the packet id are the publisher's.
      // A last will has no packet id: it is the broker publishing, not a re-send.
      const packetId = client === null || packet.qos === 0 ? undefined : packet.messageId;
      sink({
        kind: 'mqtt-publish',
        ts: this.now(),
        client: client === null ? null : this.identityOf(client),
        topic: packet.topic,
        payload: typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload,
        retain: packet.retain,
        qos: packet.qos,
        publisherPacket: packetId === undefined || client === null ? undefined : { dup: packet.dup, packetId, connection: this.connectionOf(client) },
      });
    });
    broker.on('subscribe', (subscriptions, client) => {
      sink({ kind: 'mqtt-subscribe', ts: this.now(), client: this.identityOf(client), topicFilters: subscriptions.map((s) => s.topic) });
    });
    broker.on('clientError', (client, error) => {
      logger.debug({ clientId: client.id, err: error.message }, 'mqtt client error');
    });
    broker.on('connectionError', (client, error) => {
      logger.debug({ clientId: client.id, err: error.message }, 'mqtt connection error');
    });
    this.broker = broker;

    // One path for every connection, plain or TLS (after its handshake): the same pre-login
    // byte cap, counted on what the client sends once decrypted; listen() adds the rest.
    const accept = (socket: Socket): void => {
      this.guardPreLogin(socket);
      broker.handle(socket);
    };
    let mqtt: number | null = null;
    let mqtts: number | null = null;
    try {
      if (this.options.port !== null) mqtt = await this.listen(createServer(accept), this.options.port);
      const tls = this.options.tls;
      if (tls !== undefined && tls !== null) {
        // MQTT 3.1.1 §4.2: any ordered, lossless byte stream carries MQTT, TLS included;
        // 8883 is the IANA port for MQTT over TLS.
        const server = createTlsServer({ ...tls.options, minVersion: 'TLSv1.2', handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, accept);
        server.on('tlsClientError', (error, socket) => this.tlsFailed(error, socket.remoteAddress));
        mqtts = await this.listen(server, tls.port);
      }
    } catch (error) {
      await this.stop();
      throw error;
    }
    return { mqtt, mqtts };
  }

  /** Every listener: the connection cap, and each TCP connection (a TLS one from before its handshake) closed at stop. */
  private async listen(server: Server, port: number): Promise<number> {
    server.maxConnections = MAX_CONNECTIONS;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.servers.push(server);
    return listen(server, port, this.options.host);
  }

  private tlsFailed(error: Error, remoteAddress: string | undefined): void {
    this.tlsHandshakeFailures += 1;
    const now = Date.now();
    if (now - this.tlsFailureLoggedAt < TLS_FAILURE_LOG_INTERVAL_MS) return;
    this.options.logger.warn(
      { address: normalizeAddress(remoteAddress), reason: (error as Error & { reason?: string }).reason ?? error.message, failedSinceLastLine: this.tlsHandshakeFailures - this.tlsFailuresLogged },
      'mqtts: a TLS handshake failed (does the client trust the agent\'s certificate, and use TLS?)',
    );
    this.tlsFailuresLogged = this.tlsHandshakeFailures;
    this.tlsFailureLoggedAt = now;
  }

  /** Counts what a socket sends until its login is accepted; beyond MAX_PRE_LOGIN_BYTES it is closed and reported. */
  private guardPreLogin(socket: Socket): void {
    let received = 0;
    const onData = (chunk: Buffer): void => {
      if (this.loggedIn.has(socket)) {
        socket.off('data', onData);
        return;
      }
      received += chunk.length;
      if (received <= MAX_PRE_LOGIN_BYTES) return;
      socket.off('data', onData);
      this.observe({
        kind: 'mqtt-anomaly',
        ts: this.now(),
        client: { clientId: '(not logged in)', username: null, address: normalizeAddress(socket.remoteAddress) },
        name: 'connect-oversize',
        detail: `more than ${MAX_PRE_LOGIN_BYTES} bytes before the login was accepted; connection closed`,
      });
      socket.destroy();
    };
    socket.on('data', onData);
  }

  async stop(): Promise<void> {
    const servers = this.servers.splice(0);
    const broker = this.broker;
    this.broker = null;
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()))));
    if (broker !== null) await new Promise<void>((resolve) => broker.close(() => resolve()));
  }
}
