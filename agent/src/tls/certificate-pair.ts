import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';

/** Stable codes for what can go wrong with the agent's certificate (DESIGN.md, principle 7). */
export type TlsErrorCode =
  | 'TLS_CERT_UNREADABLE'
  | 'TLS_KEY_UNREADABLE'
  | 'TLS_CERT_INVALID'
  | 'TLS_KEY_INVALID'
  | 'TLS_KEY_ENCRYPTED'
  | 'TLS_KEY_MISMATCH'
  | 'TLS_OPENSSL_MISSING'
  | 'TLS_OPENSSL_FAILED';

export class TlsError extends Error {
  constructor(
    readonly code: TlsErrorCode,
    message: string,
    /** The config field the problem is about (`tls.cert`, `tls.key`), when it is one. */
    readonly field: 'cert' | 'key' | null = null,
  ) {
    super(message);
    this.name = 'TlsError';
  }
}

/** A certificate and its private key, read and checked, in the form node:tls takes. */
export interface CertificatePair {
  readonly certFile: string;
  readonly keyFile: string;
  /** PEM: the server certificate, then any intermediates as the file had them. */
  readonly cert: Buffer;
  /** PEM (PKCS#8), whatever form the file had. */
  readonly key: Buffer;
  /** The server certificate (the first one in the file). */
  readonly certificate: X509Certificate;
  /** SHA-256 of the certificate, `AB:CD:…`: what a browser's certificate viewer shows. */
  readonly fingerprint256: string;
  readonly validFrom: Date;
  readonly validTo: Date;
  /** The key file can be read by every user on the machine (mode o+r). */
  readonly keyReadableByOthers: boolean;
}

function unreadable(code: 'TLS_CERT_UNREADABLE' | 'TLS_KEY_UNREADABLE', field: 'cert' | 'key', file: string, error: unknown): TlsError {
  const errno = (error as NodeJS.ErrnoException).code ?? 'EIO';
  const why = errno === 'ENOENT' ? 'file not found' : errno === 'EACCES' ? 'permission denied (the agent runs as its own user: let it read the file)' : errno === 'EISDIR' ? 'is a directory, not a file' : `cannot read (${errno})`;
  return new TlsError(code, `${file}: ${why}`, field);
}

function parseKey(bytes: Buffer, file: string): KeyObject {
  const text = bytes.toString('latin1');
  if (text.includes('-----BEGIN')) {
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) {
      throw new TlsError('TLS_KEY_ENCRYPTED', `${file}: the private key is encrypted; the agent starts unattended, so give it unencrypted (openssl pkey -in ${file} -out key-plain.pem) and protect the file instead (chmod 600, owned by the agent's user)`, 'key');
    }
    try {
      return createPrivateKey(bytes);
    } catch {
      throw new TlsError('TLS_KEY_INVALID', `${file}: not a private key (expected PEM "BEGIN PRIVATE KEY", "BEGIN EC PRIVATE KEY" or "BEGIN RSA PRIVATE KEY")`, 'key');
    }
  }
  for (const type of ['pkcs8', 'sec1', 'pkcs1'] as const) {
    try {
      return createPrivateKey({ key: bytes, format: 'der', type });
    } catch {
      // try the next DER form
    }
  }
  throw new TlsError('TLS_KEY_INVALID', `${file}: not a private key (PEM or DER)`, 'key');
}

/**
 * Reads a certificate (PEM or DER; a PEM file may carry the chain after it) and its key,
 * and checks that they parse and belong together. Throws a TlsError naming the file.
 */
export async function readCertificatePair(certFile: string, keyFile: string): Promise<CertificatePair> {
  let certBytes: Buffer;
  let keyBytes: Buffer;
  let keyMode: number;
  try {
    certBytes = await readFile(certFile);
  } catch (error) {
    throw unreadable('TLS_CERT_UNREADABLE', 'cert', certFile, error);
  }
  try {
    keyBytes = await readFile(keyFile);
    keyMode = (await stat(keyFile)).mode;
  } catch (error) {
    throw unreadable('TLS_KEY_UNREADABLE', 'key', keyFile, error);
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certBytes);
  } catch {
    const hint = certBytes.toString('latin1').includes('PRIVATE KEY') ? ' (it holds a private key: are cert and key swapped?)' : '';
    throw new TlsError('TLS_CERT_INVALID', `${certFile}: not an X.509 certificate (PEM or DER)${hint}`, 'cert');
  }
  const key = parseKey(keyBytes, keyFile);
  if (!certificate.checkPrivateKey(key)) {
    throw new TlsError('TLS_KEY_MISMATCH', `${keyFile}: this key does not belong to the certificate in ${certFile}`, 'key');
  }
  const isPem = certBytes.toString('latin1').includes('-----BEGIN CERTIFICATE-----');
  return {
    certFile,
    keyFile,
    cert: isPem ? certBytes : Buffer.from(certificate.toString()),
    key: Buffer.from(key.export({ format: 'pem', type: 'pkcs8' })),
    certificate,
    fingerprint256: certificate.fingerprint256,
    validFrom: new Date(certificate.validFrom),
    validTo: new Date(certificate.validTo),
    keyReadableByOthers: (keyMode & 0o004) !== 0,
  };
}
