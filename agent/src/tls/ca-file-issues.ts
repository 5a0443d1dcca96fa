import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ConfigIssue } from '../model/site-schema.ts';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * A CA file a config names to trust a broker's certificate (`uplink.ca`, the hub's
 * `broker.ca`), checked when the config is loaded: it is readable and holds at least one
 * PEM certificate that parses. Found now rather than as a TLS failure, retried for ever,
 * after the agent has started.
 */
export async function caFileIssues(path: string, file: string | undefined): Promise<ConfigIssue[]> {
  if (file === undefined) return [];
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    return [{ path, message: code === 'ENOENT' ? `${file}: file not found` : `${file}: cannot read the file (${code})` }];
  }
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return [{ path, message: `${file}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file` }];
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch {
      return [{ path, message: `${file}: a certificate in the file does not parse` }];
    }
  }
  return [];
}
