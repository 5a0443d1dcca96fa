import type { ConfigIssue } from '../model/site-schema.ts';
import { readCertificatePair, TlsError } from './certificate-pair.ts';

/** RFC 5280 §4.2.1.12: id-kp-clientAuth, and anyExtendedKeyUsage, which admits every purpose. */
const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';
const ANY_EXTENDED_KEY_USAGE_OID = '2.5.29.37.0';

/**
 * A client certificate and key a config names (`siem.syslog[].cert`/`key`, `uplink.cert`/
 * `key`, the hub's `broker.cert`/`key`), checked when the config is loaded: both readable,
 * parsed, and belonging together (tls/certificate-pair.ts, which also refuses an encrypted
 * key: the agent starts unattended). Found now, by path, rather than as a handshake failure
 * retried for ever after start. What only makes the peer refuse the certificate (expired,
 * not made for client authentication) is a warning: monitoring goes on without that output.
 * `peer` names who checks it in the messages: `collector`, `broker`.
 */
export async function clientCertificateIssues(section: string, files: { readonly cert?: string | undefined; readonly key?: string | undefined }, peer: string, now = Date.now()): Promise<{ readonly issues: ConfigIssue[]; readonly warnings: ConfigIssue[] }> {
  const issues: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  if (files.cert === undefined || files.key === undefined) return { issues, warnings };
  try {
    const pair = await readCertificatePair(files.cert, files.key);
    if (pair.validTo.getTime() <= now) warnings.push({ path: `${section}.cert`, message: `the client certificate expired on ${pair.validTo.toISOString()}; the ${peer} will refuse it` });
    // No extendedKeyUsage extension: any purpose (RFC 5280 §4.2.1.12); OpenSSL's peers refuse a clientAuth handshake with one that leaves it out.
    const purposes = pair.certificate.keyUsage;
    if (purposes !== undefined && !purposes.includes(CLIENT_AUTH_OID) && !purposes.includes(ANY_EXTENDED_KEY_USAGE_OID)) {
      warnings.push({ path: `${section}.cert`, message: `the certificate is not made for client authentication (its extendedKeyUsage has no clientAuth); the ${peer} will refuse it` });
    }
    if (pair.keyReadableByOthers) warnings.push({ path: `${section}.key`, message: `${files.key} is readable by every user on this machine: chmod 600 it (or 640 with a group the agent's user is in)` });
  } catch (error) {
    if (!(error instanceof TlsError)) throw error;
    issues.push({ path: `${section}.${error.field ?? 'cert'}`, message: error.message });
  }
  return { issues, warnings };
}
