import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { TlsConfig } from '../model/site-schema.ts';
import { readCertificatePair, type CertificatePair } from './certificate-pair.ts';
import { ensureSelfSignedPair } from './self-signed.ts';

/** What `wardwatch agent` does with a site config that has no `tls` section: encrypted from the first start. */
export const DEFAULT_TLS: TlsConfig = { mode: 'self-signed', names: [] };

/** The subdirectory of the data directory that holds the self-signed pair. */
export const TLS_DIR = 'tls';

/** The certificate the dashboard (HTTPS, WSS) and the broker (mqtts) present. */
export interface ServerTls extends CertificatePair {
  /** `self-signed`: made by the agent in `<data-dir>/tls`; `files`: the site's own (config `tls.cert`, `tls.key`). */
  readonly source: 'self-signed' | 'files';
  /** Why a self-signed pair was made at this start; null when one on disk was reused or the site gave its own. */
  readonly generatedBecause: string | null;
}

export interface ServerTlsOptions {
  readonly dataDir: string;
  /** Addresses the agent was told to listen on: a specific one is a name clients will use. */
  readonly listenHosts: readonly string[];
  readonly logger: Logger;
  /** The openssl binary (tests point it elsewhere); default `openssl` on the PATH. */
  readonly openssl?: string;
  readonly now?: () => number;
}

const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

/** The host name, and `<name>.local` (mDNS: how a Raspberry Pi is usually reached) when it has no domain. */
function hostNames(): string[] {
  const name = hostname();
  if (!DNS_NAME.test(name)) return [];
  return name.includes('.') ? [name] : [name, `${name}.local`];
}

/** The machine's current unicast addresses (not loopback, not IPv6 link-local). */
function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .filter((entry) => !entry.internal && !(entry.family === 'IPv6' && /^fe[89ab]/i.test(entry.address)))
    .map((entry) => entry.address);
}

/**
 * The certificate for this start, or null when the site turned TLS off. Self-signed: the
 * names it must cover are the host name, localhost, 127.0.0.1, ::1, the config's
 * `tls.names` and any specific listen address; the machine's current addresses are added
 * when a pair is made but do not force a new one (DHCP may move them).
 */
export async function prepareServerTls(tls: TlsConfig, options: ServerTlsOptions): Promise<ServerTls | null> {
  const { logger } = options;
  const now = (options.now ?? Date.now)();
  if (tls.mode === 'off') {
    logger.warn('TLS is off (config tls.mode: off): the dashboard and MQTT are served in plain text; terminate TLS in front of the agent');
    return null;
  }
  if (tls.mode === 'files') {
    const pair = await readCertificatePair(tls.cert, tls.key);
    const server: ServerTls = { ...pair, source: 'files', generatedBecause: null };
    if (pair.validTo.getTime() <= now) logger.error({ certFile: pair.certFile, validTo: pair.validTo }, 'the configured TLS certificate has EXPIRED: clients will refuse the agent; renew it');
    else if (pair.validFrom.getTime() > now) logger.warn({ certFile: pair.certFile, validFrom: pair.validFrom }, 'the configured TLS certificate is not valid yet (is the clock right?)');
    if (pair.keyReadableByOthers) logger.warn({ keyFile: pair.keyFile }, 'the TLS private key is readable by every user on this machine: chmod 600 it (or 640 with a group the agent is in)');
    logger.info({ certFile: pair.certFile, fingerprint256: pair.fingerprint256, subject: pair.certificate.subject, validTo: pair.validTo }, 'TLS certificate from the site config');
    return server;
  }
  const listenNames = options.listenHosts.filter((host) => !WILDCARD_HOSTS.has(host) && (isIP(host) !== 0 || DNS_NAME.test(host)));
  const names = [...new Set([...hostNames(), 'localhost', '127.0.0.1', '::1', ...tls.names, ...listenNames])];
  const dir = join(options.dataDir, TLS_DIR);
  const { pair, generatedBecause } = await ensureSelfSignedPair({
    dir,
    names,
    extraNames: interfaceAddresses(),
    commonName: (hostNames()[0] ?? 'wardwatch').slice(0, 64),
    ...(options.openssl === undefined ? {} : { openssl: options.openssl }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  const fields = { certFile: pair.certFile, fingerprint256: pair.fingerprint256, validTo: pair.validTo, names: pair.certificate.subjectAltName };
  if (generatedBecause === null) logger.info(fields, 'self-signed TLS certificate reused from the data directory');
  else logger.info({ ...fields, because: generatedBecause }, `self-signed TLS certificate generated: ${generatedBecause}`);
  return { ...pair, source: 'self-signed', generatedBecause };
}
