import type { SiemConfig } from '../model/siem-schema.ts';
import type { ConfigIssue } from '../model/site-schema.ts';
import { caFileIssues } from '../tls/ca-file-issues.ts';
import { readCertificatePair, TlsError } from '../tls/certificate-pair.ts';

/**
 * The files `siem.syslog[]` names, checked when the config is loaded (`config check`,
 * `agent`): the CA parses, and a client certificate and key parse and belong together.
 * Found now, by path, rather than as a handshake failure retried for ever after start.
 * An expiring client certificate is a warning: the collector will refuse it, but
 * monitoring goes on.
 */
export async function siemFileIssues(siem: SiemConfig | undefined, now = Date.now()): Promise<{ readonly issues: ConfigIssue[]; readonly warnings: ConfigIssue[] }> {
  const issues: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  for (const [index, destination] of (siem?.syslog ?? []).entries()) {
    if (destination.transport !== 'tls') continue;
    const path = `siem.syslog[${index}]`;
    issues.push(...(await caFileIssues(`${path}.ca`, destination.ca)));
    if (destination.cert === undefined || destination.key === undefined) continue;
    try {
      const pair = await readCertificatePair(destination.cert, destination.key);
      if (pair.validTo.getTime() <= now) warnings.push({ path: `${path}.cert`, message: `the client certificate expired on ${pair.validTo.toISOString()}; the collector will refuse it` });
      if (pair.keyReadableByOthers) warnings.push({ path: `${path}.key`, message: `${destination.key} is readable by every user on this machine: chmod 600 it (or 640 with a group the agent's user is in)` });
    } catch (error) {
      if (!(error instanceof TlsError)) throw error;
      issues.push({ path: `${path}.${error.field ?? 'cert'}`, message: error.message });
    }
  }
  return { issues, warnings };
}
