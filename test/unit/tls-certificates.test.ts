import { X509Certificate } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSiteConfig } from '../../agent/src/config/load-site-config.ts';
import { readCertificatePair, TlsError } from '../../agent/src/tls/certificate-pair.ts';
import { ensureSelfSignedPair, CERT_FILE, KEY_FILE, VALIDITY_DAYS } from '../../agent/src/tls/self-signed.ts';
import { prepareServerTls } from '../../agent/src/tls/server-tls.ts';
import { temporaryDataDir } from '../helpers/agent-fixture.ts';
import { configIssuesOf, demoConfigWith } from '../helpers/demo-config.ts';
import { missingPeer } from '../helpers/peers.ts';
import { makeHospitalPki } from '../helpers/tls.ts';

const run = promisify(execFile);
const noOpenssl = missingPeer('openssl', 'openssl');
const DAY_MS = 86_400_000;
const quiet = pino({ level: 'silent' });

async function thrown(promise: Promise<unknown>): Promise<TlsError> {
  const error = await promise.then(() => null, (failure: unknown) => failure);
  if (!(error instanceof TlsError)) throw new Error(`expected a TlsError, got ${String(error)}`);
  return error;
}

describe('the tls section of the site config', () => {
  it('is optional; cert and key mean files, names mean self-signed, and off is explicit', async () => {
    const { parseSiteConfig } = await import('../../agent/src/config/load-site-config.ts');
    const tlsOf = (tls: unknown): unknown => {
      const result = parseSiteConfig(demoConfigWith((doc) => (doc.tls = tls)));
      return result.ok ? result.config.tls : result.issues;
    };
    expect(tlsOf(undefined)).toBeUndefined();
    expect(tlsOf({ cert: '/etc/wardwatch/cert.pem', key: '/etc/wardwatch/key.pem' })).toEqual({ mode: 'files', cert: '/etc/wardwatch/cert.pem', key: '/etc/wardwatch/key.pem' });
    expect(tlsOf({ names: ['wardwatch.ward4.example', '10.4.2.5'] })).toEqual({ mode: 'self-signed', names: ['wardwatch.ward4.example', '10.4.2.5'] });
    expect(tlsOf({ mode: 'self-signed' })).toEqual({ mode: 'self-signed', names: [] });
    expect(tlsOf({ mode: 'off' })).toEqual({ mode: 'off' });
  });

  it('every problem by path', () => {
    expect(configIssuesOf(demoConfigWith((doc) => (doc.tls = { mode: 'on' })))).toEqual(['tls.mode: must be self-signed, files or off (or give cert and key)']);
    expect(configIssuesOf(demoConfigWith((doc) => (doc.tls = { cert: 'cert.pem' })))).toEqual(['tls.key: required: the path of a PEM file']);
    expect(configIssuesOf(demoConfigWith((doc) => (doc.tls = { mode: 'files', cert: 'c.pem', key: 'k.pem', names: ['x'] })))).toEqual(['tls: Unrecognized key: "names"']);
    // Names go into the openssl request: nothing but host names and addresses.
    expect(configIssuesOf(demoConfigWith((doc) => (doc.tls = { names: ['ok.example', 'evil, DNS:bank.example', 'a\nb'] })))).toEqual([
      'tls.names[1]: must be a host name (wardwatch-4w.hospital.example) or an IP address',
      'tls.names[2]: must be a host name (wardwatch-4w.hospital.example) or an IP address',
    ]);
  });
});

describe.skipIf(noOpenssl !== null)('the self-signed pair (openssl)', () => {
  let data: ReturnType<typeof temporaryDataDir>;
  beforeEach(() => {
    data = temporaryDataDir();
  });
  afterEach(() => data.remove());

  const names = ['wardwatch-4w', 'localhost', '127.0.0.1', '::1'];

  it('is an EC P-256 key (0600) and a leaf certificate for ~825 days covering every name, CA:FALSE, for server auth', async () => {
    const dir = join(data.dir, 'tls');
    const before = Date.now();
    const { pair, generatedBecause } = await ensureSelfSignedPair({ dir, names, extraNames: ['192.0.2.7'], commonName: 'wardwatch-4w' });
    expect(generatedBecause).toBe('none in the data directory yet');
    expect(statSync(join(dir, KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, CERT_FILE)).mode & 0o777).toBe(0o644);
    const certificate = new X509Certificate(readFileSync(join(dir, CERT_FILE)));
    expect(certificate.publicKey.asymmetricKeyType).toBe('ec');
    expect(certificate.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(certificate.ca).toBe(false);
    expect(certificate.subject).toContain('CN=wardwatch-4w');
    expect(certificate.checkHost('wardwatch-4w')).toBe('wardwatch-4w');
    expect(certificate.checkHost('localhost')).toBe('localhost');
    expect(certificate.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(certificate.checkIP('::1')).toBe('::1');
    expect(certificate.checkIP('192.0.2.7')).toBe('192.0.2.7');
    expect(certificate.checkHost('elsewhere.example')).toBeUndefined();
    expect(certificate.verify(certificate.publicKey)).toBe(true);
    const { stdout } = await run('openssl', ['x509', '-in', join(dir, CERT_FILE), '-noout', '-ext', 'keyUsage,extendedKeyUsage,basicConstraints']);
    expect(stdout).toMatch(/CA:FALSE/);
    expect(stdout).toMatch(/Digital Signature/);
    expect(stdout).toMatch(/TLS Web Server Authentication/);
    const days = (pair.validTo.getTime() - before) / DAY_MS;
    expect(days).toBeGreaterThan(VALIDITY_DAYS - 1);
    expect(days).toBeLessThan(VALIDITY_DAYS + 1);
    expect(pair.fingerprint256).toBe(certificate.fingerprint256);
    expect(pair.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('is reused on later starts, and made again only when missing, unusable, expired (or nearly), or no longer covering a name', async () => {
    const dir = join(data.dir, 'tls');
    const first = await ensureSelfSignedPair({ dir, names, commonName: 'wardwatch-4w' });
    const again = await ensureSelfSignedPair({ dir, names, extraNames: ['192.0.2.99'], commonName: 'wardwatch-4w' });
    expect(again.generatedBecause).toBeNull();
    expect(again.pair.fingerprint256).toBe(first.pair.fingerprint256);

    const later = first.pair.validTo.getTime() + 1_000;
    const expired = await ensureSelfSignedPair({ dir, names, commonName: 'wardwatch-4w', now: () => later });
    expect(expired.generatedBecause).toMatch(/^the previous one expired on /);
    expect(expired.pair.fingerprint256).not.toBe(first.pair.fingerprint256);

    const nearlyOver = expired.pair.validTo.getTime() - 10 * DAY_MS;
    const renewed = await ensureSelfSignedPair({ dir, names, commonName: 'wardwatch-4w', now: () => nearlyOver });
    expect(renewed.generatedBecause).toMatch(/in less than 30 days$/);

    const widened = await ensureSelfSignedPair({ dir, names: [...names, 'wardwatch.ward4.example'], commonName: 'wardwatch-4w' });
    expect(widened.generatedBecause).toBe('the previous one does not cover wardwatch.ward4.example');
    expect(widened.pair.certificate.checkHost('wardwatch.ward4.example')).toBe('wardwatch.ward4.example');

    writeFileSync(join(dir, CERT_FILE), 'not a certificate');
    const repaired = await ensureSelfSignedPair({ dir, names, commonName: 'wardwatch-4w' });
    expect(repaired.generatedBecause).toMatch(/^the pair on disk is unusable \(.*not an X\.509 certificate/);
  });

  it('without openssl: a clear error naming the Debian package, and how to give a certificate instead', async () => {
    const error = await thrown(ensureSelfSignedPair({ dir: join(data.dir, 'tls'), names, commonName: 'x', openssl: join(data.dir, 'no-such-openssl') }));
    expect(error.code).toBe('TLS_OPENSSL_MISSING');
    expect(error.message).toContain('apt-get install openssl');
    expect(error.message).toContain('tls: { cert: ');
    expect(error.message).toContain('tls: { mode: off }');
  });

  it('prepareServerTls covers the host name, localhost, loopback, the config names and a specific listen address', async () => {
    const tls = await prepareServerTls({ mode: 'self-signed', names: ['wardwatch.ward4.example', '10.4.2.5'] }, { dataDir: data.dir, listenHosts: ['127.0.0.1', '0.0.0.0', '192.0.2.44'], logger: quiet });
    expect(tls?.source).toBe('self-signed');
    const certificate = tls?.certificate;
    for (const host of ['localhost', 'wardwatch.ward4.example']) expect(certificate?.checkHost(host)).toBe(host);
    for (const ip of ['127.0.0.1', '::1', '10.4.2.5', '192.0.2.44']) expect(certificate?.checkIP(ip)).toBe(ip);
    expect(tls?.certFile).toBe(join(data.dir, 'tls', CERT_FILE));
    expect(await prepareServerTls({ mode: 'off' }, { dataDir: data.dir, listenHosts: [], logger: quiet })).toBeNull();
  });
});

describe.skipIf(noOpenssl !== null)('a configured certificate and key', () => {
  let data: ReturnType<typeof temporaryDataDir>;
  beforeEach(() => {
    data = temporaryDataDir();
  });
  afterEach(() => data.remove());

  it('a chain file and its key are read and checked; swapped, mismatched, encrypted or missing files are named', async () => {
    const pki = await makeHospitalPki(data.dir);
    const pair = await readCertificatePair(pki.certFile, pki.keyFile);
    expect(pair.certificate.subject).toContain('CN=wardwatch-4w');
    expect(pair.cert.toString()).toBe(readFileSync(pki.certFile, 'utf8'));
    expect(pair.certificate.checkIssued(new X509Certificate(readFileSync(pki.caFile)))).toBe(true);

    const swapped = await thrown(readCertificatePair(pki.keyFile, pki.certFile));
    expect(swapped.code).toBe('TLS_CERT_INVALID');
    expect(swapped.message).toContain('are cert and key swapped?');

    const mismatch = await thrown(readCertificatePair(pki.certFile, join(data.dir, 'hospital-ca.key')));
    expect(mismatch).toMatchObject({ code: 'TLS_KEY_MISMATCH', field: 'key' });

    const encryptedKey = join(data.dir, 'encrypted.key');
    await run('openssl', ['pkey', '-in', pki.keyFile, '-aes256', '-passout', 'pass:secret', '-out', encryptedKey]);
    const encrypted = await thrown(readCertificatePair(pki.certFile, encryptedKey));
    expect(encrypted).toMatchObject({ code: 'TLS_KEY_ENCRYPTED', field: 'key' });
    expect(encrypted.message).toContain('give it unencrypted');

    const derKey = join(data.dir, 'wardwatch.der');
    await run('openssl', ['pkey', '-in', pki.keyFile, '-outform', 'DER', '-out', derKey]);
    expect((await readCertificatePair(pki.certFile, derKey)).key.toString()).toMatch(/^-----BEGIN PRIVATE KEY-----/);

    const missing = await thrown(readCertificatePair(join(data.dir, 'nope.pem'), pki.keyFile));
    expect(missing).toMatchObject({ code: 'TLS_CERT_UNREADABLE', field: 'cert' });
    expect(missing.message).toMatch(/nope\.pem: file not found$/);
  });

  it('the site config: relative paths are read from the config file\'s directory; a bad path is an error by path; a key others can read is a warning', async () => {
    const pki = await makeHospitalPki(data.dir);
    const siteDir = join(data.dir, 'etc');
    mkdirSync(join(siteDir, 'tls'), { recursive: true });
    copyFileSync(pki.certFile, join(siteDir, 'tls', 'cert.pem'));
    copyFileSync(pki.keyFile, join(siteDir, 'tls', 'key.pem'));
    const site = join(siteDir, 'site.yaml');

    writeFileSync(site, demoConfigWith((doc) => (doc.tls = { cert: 'tls/cert.pem', key: 'tls/key.pem' })));
    const good = await loadSiteConfig(site);
    expect(good.ok).toBe(true);
    if (!good.ok) return;
    expect(good.config.tls).toEqual({ mode: 'files', cert: join(siteDir, 'tls', 'cert.pem'), key: join(siteDir, 'tls', 'key.pem') });
    expect(good.warnings.filter((warning) => warning.path.startsWith('tls'))).toEqual([]);

    writeFileSync(site, demoConfigWith((doc) => (doc.tls = { mode: 'files', cert: 'tls/missing.pem', key: 'tls/key.pem' })));
    const bad = await loadSiteConfig(site);
    expect(bad).toMatchObject({ ok: false, stage: 'files', issues: [{ path: 'tls.cert', message: `${join(siteDir, 'tls', 'missing.pem')}: file not found` }] });

    writeFileSync(site, demoConfigWith((doc) => (doc.tls = { cert: 'tls/cert.pem', key: 'tls/cert.pem' })));
    expect(await loadSiteConfig(site)).toMatchObject({ ok: false, issues: [{ path: 'tls.key' }] });

    chmodSync(join(siteDir, 'tls', 'key.pem'), 0o644);
    writeFileSync(site, demoConfigWith((doc) => (doc.tls = { cert: 'tls/cert.pem', key: 'tls/key.pem' })));
    const readable = await loadSiteConfig(site);
    expect(readable.ok && readable.warnings.find((warning) => warning.path === 'tls.key')?.message).toMatch(/readable by every user on this machine: chmod 600/);
  });
});
