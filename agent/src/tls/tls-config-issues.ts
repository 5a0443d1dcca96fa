import type { ConfigIssue, TlsConfig } from '../model/site-schema.ts';
import { readCertificatePair, TlsError } from './certificate-pair.ts';

/**
 * The `tls` section's files, checked when the config is loaded (`config check`, `agent`):
 * they exist, parse (node:crypto X509Certificate, createPrivateKey) and belong together.
 * An expired certificate is a warning, not an error: refusing to start would stop the
 * monitoring too, and the plain listener and the log still work (fail open).
 */
export async function tlsConfigIssues(tls: TlsConfig | undefined, now = Date.now()): Promise<{ readonly issues: ConfigIssue[]; readonly warnings: ConfigIssue[] }> {
  const issues: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  if (tls?.mode !== 'files') return { issues, warnings };
  try {
    const pair = await readCertificatePair(tls.cert, tls.key);
    if (pair.validTo.getTime() <= now) warnings.push({ path: 'tls.cert', message: `the certificate expired on ${pair.validTo.toISOString()}; clients will refuse the agent until it is renewed` });
    else if (pair.validTo.getTime() - now < 30 * 86_400_000) warnings.push({ path: 'tls.cert', message: `the certificate expires on ${pair.validTo.toISOString()}, in less than 30 days` });
    if (pair.validFrom.getTime() > now) warnings.push({ path: 'tls.cert', message: `the certificate is not valid before ${pair.validFrom.toISOString()} (is the clock right?)` });
    if (pair.keyReadableByOthers) warnings.push({ path: 'tls.key', message: `${tls.key} is readable by every user on this machine: chmod 600 it (or 640 with a group the agent's user is in)` });
  } catch (error) {
    if (!(error instanceof TlsError)) throw error;
    issues.push({ path: `tls.${error.field ?? 'cert'}`, message: error.message });
  }
  return { issues, warnings };
}
