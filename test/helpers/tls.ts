import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * What Chromium's `--ignore-certificate-errors-spki-list` takes: base64 SHA-256 of the
 * certificate's SubjectPublicKeyInfo (as `openssl x509 -pubkey | openssl pkey -pubin
 * -outform der | openssl dgst -sha256 -binary | base64`).
 */
export function spkiSha256(certPem: string | Buffer): string {
  return createHash('sha256').update(new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
}

export interface HttpsAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** GET over HTTPS trusting only `ca` (node:https: the global fetch takes no CA). Rejects on a TLS failure. */
export function httpsGet(url: string, ca: string | Buffer, headers: Record<string, string> = {}): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

export interface HospitalPki {
  /** The hospital's CA certificate: what clients are given to trust. */
  readonly caFile: string;
  /** The agent's certificate then the CA (a full chain, as many CAs deliver it). */
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * A small hospital PKI made with openssl, as a site would have: a CA (CA:TRUE), and a
 * server certificate it signed for localhost and 127.0.0.1, written as a chain file.
 */
export async function makeHospitalPki(dir: string): Promise<HospitalPki> {
  const caKey = join(dir, 'hospital-ca.key');
  const caFile = join(dir, 'hospital-ca.pem');
  const keyFile = join(dir, 'wardwatch.key');
  const csr = join(dir, 'wardwatch.csr');
  const leaf = join(dir, 'wardwatch-leaf.pem');
  const certFile = join(dir, 'wardwatch-chain.pem');
  const extFile = join(dir, 'leaf.ext');
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', caFile, '-days', '365', '-subj', '/O=St Example Hospital/CN=St Example Test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', '/O=St Example Hospital/CN=wardwatch-4w']);
  writeFileSync(extFile, 'basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost, IP:127.0.0.1\n');
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', leaf, '-days', '365', '-extfile', extFile]);
  writeFileSync(certFile, readFileSync(leaf, 'utf8') + readFileSync(caFile, 'utf8'));
  return { caFile, certFile, keyFile };
}
