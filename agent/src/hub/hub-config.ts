import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { siteConfigSchema, type ConfigIssue } from '../model/site-schema.ts';
import { brokerConnectionFields, brokerConnectionIssues, clientId, DEFAULT_HUB_CLIENT_ID, isPlainRemote, TOPIC_LEVEL } from '../model/uplink-schema.ts';
import { parseYamlDocument } from '../model/yaml-document.ts';
import { caFileIssues } from '../tls/ca-file-issues.ts';
import { clientCertificateIssues } from '../tls/client-certificate-issues.ts';
import { tlsConfigIssues } from '../tls/tls-config-issues.ts';

/** Most wards one hub follows (DESIGN.md, principle 3); messages from more are dropped and counted. */
export const MAX_HUB_WARDS = 500;

/**
 * `wardwatch hub -c hub.yaml`: the central view over many wards (docs/operations.md,
 * "Many wards"). A file of its own rather than options, because it holds the broker's
 * password (never on a command line, where `ps` shows it) and shares the agent's `tls`
 * and `dashboard` sections, validated the same way, every problem listed by path.
 */
export const hubConfigSchema = z.strictObject({
  site: z.strictObject({
    /** Shown in the dashboard's header. */
    name: z.string().min(1).max(100),
  }),
  broker: z.strictObject({
    ...brokerConnectionFields,
    /** Fixed, so that the broker keeps the hub's subscriptions and its undelivered alerts while it is away; unique on the broker. */
    clientId: clientId.default(DEFAULT_HUB_CLIENT_ID),
  }),
  /** Wards the hub expects: one that has never reported is shown offline rather than missing. Others are shown as they report. */
  wards: z.array(z.string().regex(TOPIC_LEVEL, 'must be a ward name as in its agent\'s site.ward: 1–32 letters, digits, ".", "_" or "-"')).max(MAX_HUB_WARDS).default([]),
  /** Alerts held in memory for the dashboard (every alert is also kept in `<data-dir>/hub-alerts.db`); acknowledged ones go first when it is full. */
  maxAlerts: z.number().int().min(100).max(100_000).default(10_000),
  /** As an agent's: absent, `wardwatch hub` makes a self-signed certificate in its data directory. */
  tls: siteConfigSchema.shape.tls,
  dashboard: siteConfigSchema.shape.dashboard,
});

export type HubConfig = z.infer<typeof hubConfigSchema>;

export type HubConfigLoadResult =
  | { readonly ok: true; readonly config: HubConfig; readonly warnings: readonly ConfigIssue[] }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] };

function crossIssues(config: HubConfig): ConfigIssue[] {
  const issues = brokerConnectionIssues('broker', config.broker);
  const seen = new Set<string>();
  config.wards.forEach((ward, index) => {
    if (seen.has(ward)) issues.push({ path: `wards[${index}]`, message: `duplicate ward "${ward}"` });
    seen.add(ward);
  });
  return issues;
}

function warnings(config: HubConfig): ConfigIssue[] {
  const advice: ConfigIssue[] = [];
  if (isPlainRemote(config.broker.url)) advice.push({ path: 'broker.url', message: 'plain mqtt:// to another machine: every ward\'s alerts cross the network unencrypted; use mqtts://' });
  if (config.broker.username === undefined && config.broker.cert === undefined) advice.push({ path: 'broker.username', message: 'no credentials: the central broker should let only the hub read every ward\'s topics' });
  return advice;
}

/** Validates YAML text; relative file paths (tls, broker.ca, broker.cert, broker.key) are read from `baseDir`. Never throws. */
export function parseHubConfig(text: string, options: { readonly baseDir?: string } = {}): HubConfigLoadResult {
  const parsed = parseYamlDocument(text, hubConfigSchema);
  if (!parsed.ok) return parsed;
  const issues = crossIssues(parsed.value);
  if (issues.length > 0) return { ok: false, issues };
  const config = parsed.value;
  if (options.baseDir !== undefined) {
    const baseDir = options.baseDir;
    const resolved = (file: string | undefined): string | undefined => (file === undefined ? undefined : resolve(baseDir, file));
    config.broker = { ...config.broker, ca: resolved(config.broker.ca), cert: resolved(config.broker.cert), key: resolved(config.broker.key) };
    if (config.tls?.mode === 'files') config.tls = { ...config.tls, cert: resolve(options.baseDir, config.tls.cert), key: resolve(options.baseDir, config.tls.key) };
  }
  return { ok: true, config: Object.freeze(config), warnings: warnings(config) };
}

/** Reads, validates and checks the files the config names (the broker's CA, the hub's client certificate and key, the dashboard's certificate and key). */
export async function loadHubConfig(file: string): Promise<HubConfigLoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    return { ok: false, issues: [{ path: '(file)', message: code === 'ENOENT' ? 'file not found' : `cannot read file (${code})` }] };
  }
  const parsed = parseHubConfig(text, { baseDir: dirname(resolve(file)) });
  if (!parsed.ok) return parsed;
  const tls = await tlsConfigIssues(parsed.config.tls);
  const client = await clientCertificateIssues('broker', parsed.config.broker, 'broker');
  const issues = [...tls.issues, ...(await caFileIssues('broker.ca', parsed.config.broker.ca)), ...client.issues];
  if (issues.length > 0) return { ok: false, issues };
  return { ...parsed, warnings: [...parsed.warnings, ...tls.warnings, ...client.warnings] };
}
