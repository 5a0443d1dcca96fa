import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { IN_CI, findExecutable } from './peers.ts';
import { AddressInUse, freePort, killOnExit } from './peer-process.ts';

const run = promisify(execFile);

export const MOSQUITTO = '/usr/sbin/mosquitto';
const START_TIMEOUT_MS = 5_000;
const STOP_TIMEOUT_MS = 3_000;
const PORT_ATTEMPTS = 5;
/** Lines of mosquitto's stderr kept for error messages (bounded). */
const LOG_LINES = 50;

/**
 * Why the mosquitto tests cannot run here, or null when they can. Outside CI a missing
 * broker skips with a printed reason; in CI (CI=true) it is a failure (test/helpers/peers.ts).
 */
export function missingMosquitto(): string | null {
  let reason: string | null = null;
  try {
    accessSync(MOSQUITTO, constants.X_OK);
    if (findExecutable('mosquitto_passwd') === null) reason = 'mosquitto_passwd not found (apt-get install mosquitto)';
  } catch {
    reason = `${MOSQUITTO} not found (apt-get install mosquitto)`;
  }
  if (reason === null) return null;
  if (IN_CI) throw new Error(`CI=true and a required peer is missing: ${reason}`);
  console.warn(`skipping: ${reason}`);
  return reason;
}

/** A broker set up like a hospital's central one (issue 8): several accounts, an ACL, persistence, TLS. */
export interface MosquittoOptions {
  /** More password-file accounts besides `username`/`password`. */
  readonly accounts?: readonly { readonly username: string; readonly password: string }[];
  /** Lines of an ACL file (`user …`, `topic read|write …`); absent: no ACL, every account may do anything. */
  readonly acl?: readonly string[];
  /** Keep retained messages, sessions and their queued messages across restart() (written at SIGTERM). */
  readonly persistence?: boolean;
  /** Serve MQTT over TLS on the port (PEM files; copied, so the caller's stay where they are). */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** `use_username_as_clientid true`: a session belongs to the account, whatever client id a client asks for (docs/operations.md, "Many wards"). */
  readonly useUsernameAsClientId?: boolean;
  /**
   * With `tls`: `require_certificate true`, so a client must present a certificate signed
   * by `caFile` (mutual TLS); `useIdentityAsUsername`: its subject's CN is its username,
   * for the ACL, and no password is asked (mosquitto.conf(5), `use_identity_as_username`).
   */
  readonly requireCertificate?: { readonly caFile: string; readonly useIdentityAsUsername?: boolean };
}

export interface RunningMosquitto {
  readonly port: number;
  /** mqtt://127.0.0.1:<port>, or mqtts://localhost:<port> with TLS (the name the test certificate is for). */
  readonly url: string;
  /** The one account in the password file. */
  readonly username: string;
  readonly password: string;
  /** Stops the broker (SIGTERM, SIGKILL after 3 s) and removes its files. Idempotent. */
  stop(): Promise<void>;
  /** Stops the broker if it runs and starts it again on the same port. */
  restart(): Promise<void>;
  /** Stops the broker (SIGTERM: mosquitto writes its persistence file) and keeps its files for restart(). */
  halt(): Promise<void>;
  /** The last lines mosquitto wrote to stderr. */
  log(): string;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

class MosquittoProcess implements RunningMosquitto {
  readonly username = 'wardwatch-tap';
  readonly password = `pw-${Math.random().toString(36).slice(2)}`;
  private dir: string | null = null;
  private child: ChildProcess | null = null;
  private readonly logLines: string[] = [];
  port = 0;

  constructor(private readonly options: MosquittoOptions = {}) {}

  get url(): string {
    return this.options.tls === undefined ? `mqtt://127.0.0.1:${this.port}` : `mqtts://localhost:${this.port}`;
  }

  log(): string {
    return this.logLines.join('\n');
  }

  /** Config and password file in a temp dir, made again after stop() removed them. */
  private async files(): Promise<string> {
    if (this.dir === null) {
      const dir = mkdtempSync(join(tmpdir(), 'wardwatch-mosquitto-'));
      this.dir = dir;
      const passwordFile = join(dir, 'passwd');
      await run('mosquitto_passwd', ['-b', '-c', passwordFile, this.username, this.password]);
      for (const account of this.options.accounts ?? []) await run('mosquitto_passwd', ['-b', passwordFile, account.username, account.password]);
      const owned = [passwordFile];
      if (this.options.acl !== undefined) {
        writeFileSync(join(dir, 'acl'), `${this.options.acl.join('\n')}\n`);
        owned.push(join(dir, 'acl'));
      }
      if (this.options.persistence === true) {
        mkdirSync(join(dir, 'persist'));
        owned.push(join(dir, 'persist'));
      }
      if (this.options.tls !== undefined) {
        copyFileSync(this.options.tls.certFile, join(dir, 'server.pem'));
        copyFileSync(this.options.tls.keyFile, join(dir, 'server.key'));
        owned.push(join(dir, 'server.pem'), join(dir, 'server.key'));
      }
      if (this.options.requireCertificate !== undefined) {
        copyFileSync(this.options.requireCertificate.caFile, join(dir, 'client-ca.pem'));
        owned.push(join(dir, 'client-ca.pem'));
      }
      if (process.getuid?.() === 0) {
        // Started as root, mosquitto 2 drops to user mosquitto before it reads the password
        // file, and wants that file to be its own; the directory must let it in.
        chmodSync(dir, 0o755);
        await run('chown', ['mosquitto:mosquitto', ...owned]);
      }
    }
    const configFile = join(this.dir, 'mosquitto.conf');
    // No pid_file: mosquitto run by hand must not write one (it would be /run/mosquitto's).
    writeFileSync(
      configFile,
      [
        `listener ${this.port} 127.0.0.1`,
        'allow_anonymous false',
        `password_file ${join(this.dir, 'passwd')}`,
        ...(this.options.acl === undefined ? [] : [`acl_file ${join(this.dir, 'acl')}`]),
        ...(this.options.persistence === true ? ['persistence true', `persistence_location ${join(this.dir, 'persist')}/`] : ['persistence false']),
        ...(this.options.tls === undefined ? [] : [`certfile ${join(this.dir, 'server.pem')}`, `keyfile ${join(this.dir, 'server.key')}`]),
        ...(this.options.useUsernameAsClientId === true ? ['use_username_as_clientid true'] : []),
        ...(this.options.requireCertificate === undefined ? [] : [`cafile ${join(this.dir, 'client-ca.pem')}`, 'require_certificate true']),
        ...(this.options.requireCertificate?.useIdentityAsUsername === true ? ['use_identity_as_username true'] : []),
        'log_dest stderr',
        '',
      ].join('\n'),
    );
    return configFile;
  }

  async start(): Promise<void> {
    const configFile = await this.files();
    const child = spawn(MOSQUITTO, ['-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    killOnExit(child);
    this.child = child;
    let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    child.once('exit', (code, signal) => {
      exited = { code, signal };
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) {
        if (line.trim() === '') continue;
        this.logLines.push(line);
        if (this.logLines.length > LOG_LINES) this.logLines.shift();
      }
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (exited !== null) {
        this.child = null;
        const log = this.log();
        if (/address already in use/i.test(log)) throw new AddressInUse(`port ${this.port} in use`);
        throw new Error(`mosquitto exited at start (${JSON.stringify(exited)}):\n${log}`);
      }
      if (await accepts(this.port)) return;
      if (Date.now() > deadline) {
        await this.stopProcess();
        throw new Error(`mosquitto did not accept connections on ${this.port} within ${START_TIMEOUT_MS} ms:\n${this.log()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  private async stopProcess(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await gone;
    clearTimeout(timer);
  }

  halt(): Promise<void> {
    return this.stopProcess();
  }

  async stop(): Promise<void> {
    await this.stopProcess();
    if (this.dir !== null) {
      rmSync(this.dir, { recursive: true, force: true });
      this.dir = null;
    }
  }

  async restart(): Promise<void> {
    await this.stopProcess();
    // The same port: another process may have taken it meanwhile; a few tries, then fail.
    for (let attempt = 1; ; attempt += 1) {
      this.logLines.length = 0;
      try {
        await this.start();
        return;
      } catch (error) {
        if (!(error instanceof AddressInUse) || attempt >= PORT_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }
}

/**
 * A real mosquitto on 127.0.0.1 with one password-file account and no anonymous access.
 * Call missingMosquitto() first to skip when the broker is not installed.
 */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<RunningMosquitto> {
  const broker = new MosquittoProcess(options);
  for (let attempt = 1; ; attempt += 1) {
    broker.port = await freePort();
    try {
      await broker.start();
      return broker;
    } catch (error) {
      // Between closing the probe socket and mosquitto's bind someone else took the port.
      if (!(error instanceof AddressInUse) || attempt >= PORT_ATTEMPTS) {
        await broker.stop();
        throw error;
      }
    }
  }
}
