import type { ServerTls } from '../tls/server-tls.ts';

/** `IP Address:0:0:0:0:0:0:0:1` (as node:crypto writes it) → `IP:::1`. */
function readableNames(subjectAltName: string): string {
  return subjectAltName.replace(/IP Address:([0-9A-Fa-f:.]+)/g, (_, address: string) => `IP:${address.includes(':') ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address}`);
}

/**
 * What a user needs at start to trust the agent's certificate: where it is, its SHA-256
 * fingerprint (to compare with what the browser shows before accepting it), how long it
 * is valid and for which names.
 */
export function tlsBanner(tls: ServerTls): string[] {
  const origin = tls.source === 'files'
    ? 'from the site config'
    : tls.generatedBecause === null ? 'self-signed, reused from the data directory' : `self-signed, generated now: ${tls.generatedBecause}`;
  const lines = [
    `TLS certificate: ${tls.certFile} (${origin})`,
    `  SHA-256 fingerprint: ${tls.fingerprint256}`,
    `  valid until ${tls.validTo.toISOString().slice(0, 10)} for ${readableNames(tls.certificate.subjectAltName ?? tls.certificate.subject)}`,
  ];
  if (tls.source === 'self-signed') {
    lines.push(`  A browser warns about it until trusted: check that it shows this fingerprint. MQTT clients: --cafile ${tls.certFile}`);
  }
  return lines;
}
