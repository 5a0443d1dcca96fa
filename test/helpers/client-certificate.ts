import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { HospitalPki } from './tls.ts';

const run = promisify(execFile);

export interface ClientCertificate {
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * A client certificate (extendedKeyUsage clientAuth) signed by the CA that
 * makeHospitalPki made in the same directory (`hospital-ca.key` there), as a collector
 * that asks for one (RFC 5425 §5.2, mutual authentication) would be given.
 */
export async function makeClientCertificate(dir: string, pki: HospitalPki, name = 'wardwatch-4w-client'): Promise<ClientCertificate> {
  const keyFile = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const certFile = join(dir, `${name}.pem`);
  const extFile = join(dir, `${name}.ext`);
  await run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/O=St Example Hospital/CN=${name}`]);
  writeFileSync(extFile, `basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = clientAuth\nsubjectAltName = DNS:${name}\n`);
  await run('openssl', ['x509', '-req', '-in', csr, '-CA', pki.caFile, '-CAkey', join(dir, 'hospital-ca.key'), '-CAcreateserial', '-out', certFile, '-days', '30', '-extfile', extFile]);
  return { certFile, keyFile };
}
