import { execFile } from 'node:child_process';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readCertificatePair, TlsError, type CertificatePair } from './certificate-pair.ts';

const run = promisify(execFile);

export const CERT_FILE = 'cert.pem';
export const KEY_FILE = 'key.pem';
/**
 * 825 days: the longest validity Apple platforms accept for a TLS server certificate
 * trusted through a user-installed root (and the CA/Browser Forum's limit until 2020).
 */
export const VALIDITY_DAYS = 825;
/** A certificate this close to its end is replaced at start, so that it does not lapse while the agent runs. */
export const RENEW_BEFORE_MS = 30 * 86_400_000;

export interface SelfSignedOptions {
  /** Where the pair lives: `<data-dir>/tls`. */
  readonly dir: string;
  /** Names the certificate must cover; a pair that misses one is made again. */
  readonly names: readonly string[];
  /** Names added when a pair is made, but not a reason to make one (the machine's current addresses, which DHCP may change). */
  readonly extraNames?: readonly string[];
  /** Subject common name (the host name). */
  readonly commonName: string;
  /** The openssl binary; default `openssl` on the PATH. */
  readonly openssl?: string;
  readonly now?: () => number;
}

export interface SelfSignedPair {
  readonly pair: CertificatePair;
  /** Why a pair was made at this start; null when the one on disk was reused. */
  readonly generatedBecause: string | null;
}

function covers(pair: CertificatePair, name: string): boolean {
  return (isIP(name) === 0 ? pair.certificate.checkHost(name) : pair.certificate.checkIP(name)) !== undefined;
}

/** Why the pair on disk cannot be used, or null when it can. */
async function reasonToRegenerate(options: SelfSignedOptions, now: number): Promise<{ reason: string } | { pair: CertificatePair }> {
  let pair: CertificatePair;
  try {
    pair = await readCertificatePair(join(options.dir, CERT_FILE), join(options.dir, KEY_FILE));
  } catch (error) {
    if (error instanceof TlsError && (error.code === 'TLS_CERT_UNREADABLE' || error.code === 'TLS_KEY_UNREADABLE') && error.message.endsWith('file not found')) {
      return { reason: 'none in the data directory yet' };
    }
    return { reason: `the pair on disk is unusable (${error instanceof Error ? error.message : String(error)})` };
  }
  if (pair.validTo.getTime() <= now) return { reason: `the previous one expired on ${pair.validTo.toISOString()}` };
  if (pair.validTo.getTime() - now < RENEW_BEFORE_MS) return { reason: `the previous one expires on ${pair.validTo.toISOString()}, in less than 30 days` };
  const missing = options.names.filter((name) => !covers(pair, name));
  if (missing.length > 0) return { reason: `the previous one does not cover ${missing.join(', ')}` };
  return { pair };
}

/** The openssl request: EC P-256, a leaf that can sign nothing but its own TLS handshakes. */
function opensslConfig(commonName: string, names: readonly string[]): string {
  const altNames = names.map((name) => (isIP(name) === 0 ? `DNS:${name}` : `IP:${name}`)).join(', ');
  return [
    '[req]',
    'distinguished_name = dn',
    'x509_extensions = ext',
    'prompt = no',
    '[dn]',
    `CN = ${commonName}`,
    'O = Wardwatch agent (self-signed)',
    '[ext]',
    // CA:FALSE: trusting this certificate (a browser exception, mosquitto --cafile,
    // a hospital's trust store) can never let it vouch for another site.
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature',
    'extendedKeyUsage = serverAuth',
    'subjectKeyIdentifier = hash',
    `subjectAltName = ${altNames}`,
    '',
  ].join('\n');
}

async function generate(options: SelfSignedOptions, names: readonly string[]): Promise<void> {
  const openssl = options.openssl ?? 'openssl';
  await mkdir(options.dir, { recursive: true, mode: 0o750 });
  const stamp = `${process.pid}-${Date.now()}`;
  const requestFile = join(options.dir, `openssl-${stamp}.cnf`);
  const keyTemp = join(options.dir, `${KEY_FILE}.${stamp}.tmp`);
  const certTemp = join(options.dir, `${CERT_FILE}.${stamp}.tmp`);
  try {
    await writeFile(requestFile, opensslConfig(options.commonName, names), { mode: 0o600 });
    try {
      await run(openssl, ['req', '-x509', '-config', requestFile, '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyTemp, '-out', certTemp, '-days', String(VALIDITY_DAYS)], { timeout: 30_000 });
    } catch (error) {
      const failure = error as NodeJS.ErrnoException & { stderr?: string };
      if (failure.code === 'ENOENT') {
        throw new TlsError(
          'TLS_OPENSSL_MISSING',
          `cannot make the self-signed TLS certificate: ${openssl} not found (Debian, Raspberry Pi OS: sudo apt-get install openssl). ` +
            'Or give a certificate and key in the site config (tls: { cert: /etc/wardwatch/tls/cert.pem, key: /etc/wardwatch/tls/key.pem }), ' +
            'or, where TLS is terminated elsewhere, turn it off (tls: { mode: off })',
        );
      }
      throw new TlsError('TLS_OPENSSL_FAILED', `cannot make the self-signed TLS certificate: ${openssl} failed: ${(failure.stderr ?? failure.message).trim().split('\n').slice(0, 3).join(' ')}`);
    }
    await chmod(keyTemp, 0o600);
    await chmod(certTemp, 0o644);
    // Key first: a crash between the two leaves a pair that does not match, which the
    // next start sees (checkPrivateKey) and replaces.
    await rename(keyTemp, join(options.dir, KEY_FILE));
    await rename(certTemp, join(options.dir, CERT_FILE));
  } finally {
    await Promise.all([requestFile, keyTemp, certTemp].map((file) => rm(file, { force: true })));
  }
}

/**
 * The agent's own certificate for a site that gave none: reused from `dir` while it is
 * valid and covers `names`, otherwise made with openssl (Node has no X.509 writer).
 */
export async function ensureSelfSignedPair(options: SelfSignedOptions): Promise<SelfSignedPair> {
  const now = (options.now ?? Date.now)();
  const found = await reasonToRegenerate(options, now);
  if ('pair' in found) return { pair: found.pair, generatedBecause: null };
  const names = [...new Set([...options.names, ...(options.extraNames ?? [])])];
  await generate(options, names);
  const pair = await readCertificatePair(join(options.dir, CERT_FILE), join(options.dir, KEY_FILE));
  return { pair, generatedBecause: found.reason };
}
