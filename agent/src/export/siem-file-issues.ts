import type { SiemConfig } from '../model/siem-schema.ts';
import type { ConfigIssue } from '../model/site-schema.ts';
import { caFileIssues } from '../tls/ca-file-issues.ts';
import { clientCertificateIssues } from '../tls/client-certificate-issues.ts';

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
    const client = await clientCertificateIssues(path, destination, 'collector', now);
    issues.push(...client.issues);
    warnings.push(...client.warnings);
  }
  return { issues, warnings };
}
