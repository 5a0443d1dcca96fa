import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { crossReferenceIssues, siteConfigSchema, type ConfigIssue, type SiteConfig } from '../model/site-schema.ts';
import { parseYamlDocument } from '../model/yaml-document.ts';
import { ALERT_CATALOGUE } from '../alert/catalogue.ts';
import { tlsConfigIssues } from '../tls/tls-config-issues.ts';
import { caFileIssues } from '../tls/ca-file-issues.ts';
import { clientCertificateIssues } from '../tls/client-certificate-issues.ts';
import { uplinkWarnings } from '../model/uplink-schema.ts';
import { influxdbWarnings } from '../model/influxdb-schema.ts';
import { siemWarnings } from '../model/siem-schema.ts';
import { siemFileIssues } from '../export/siem-file-issues.ts';

export type ConfigLoadResult =
  | { readonly ok: true; readonly config: SiteConfig; readonly warnings: readonly ConfigIssue[] }
  /**
   * `structure`: the schema failed, so references between sections were not checked yet;
   * `files`: files the config names (the TLS certificate and key) are missing or unusable.
   */
  | { readonly ok: false; readonly issues: readonly ConfigIssue[]; readonly stage: 'file' | 'structure' | 'references' | 'files' };

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Advice that does not stop the agent: things a real site should not ship with. */
function configWarnings(config: SiteConfig): ConfigIssue[] {
  const warnings: ConfigIssue[] = [];
  const plain = config.mqtt.accounts.filter((account) => account.password !== undefined).map((account) => account.username);
  if (plain.length > 0) {
    warnings.push({
      path: 'mqtt.accounts',
      message: `${plain.length} account${plain.length === 1 ? ' has a' : 's have'} plain-text password${plain.length === 1 ? '' : 's'} (${plain.join(', ')}); acceptable for a demo only, use passwordHash (wardwatch config hash-password) on a real site`,
    });
  }
  if (config.mqtt.allowAnonymous) {
    warnings.push({ path: 'mqtt.allowAnonymous', message: 'anonymous MQTT clients are accepted; their commands cannot be attributed' });
  }
  warnings.push(...uplinkWarnings(config.uplink));
  warnings.push(...influxdbWarnings(config.influxdb));
  warnings.push(...siemWarnings(config.siem));
  return warnings;
}

/** Enforce lists name alert types, which the alert catalogue defines. */
function enforceIssues(config: SiteConfig): ConfigIssue[] {
  return config.modbus.enforce.flatMap((type, index) =>
    Object.hasOwn(ALERT_CATALOGUE, type) ? [] : [{ path: `modbus.enforce[${index}]`, message: `"${type}" is not an alert type (see docs/protocol.md, Catalogue)` }],
  );
}

export interface ParseOptions {
  /** Relative file paths in the config (tls.cert, tls.key) are read from here: the config file's directory. */
  readonly baseDir?: string;
}

/** Validates YAML text; every problem is reported with its path, nothing throws. Reads no file. */
export function parseSiteConfig(text: string, options: ParseOptions = {}): ConfigLoadResult {
  const parsed = parseYamlDocument(text, siteConfigSchema);
  if (!parsed.ok) return { ...parsed, stage: 'structure' };
  const crossIssues = [...crossReferenceIssues(parsed.value), ...enforceIssues(parsed.value)];
  if (crossIssues.length > 0) return { ok: false, issues: crossIssues, stage: 'references' };
  const { tls } = parsed.value;
  if (tls?.mode === 'files' && options.baseDir !== undefined) {
    parsed.value.tls = { ...tls, cert: resolve(options.baseDir, tls.cert), key: resolve(options.baseDir, tls.key) };
  }
  const baseDir = options.baseDir;
  const resolved = (file: string | undefined): string | undefined => (file === undefined || baseDir === undefined ? file : resolve(baseDir, file));
  const { uplink } = parsed.value;
  if (uplink !== undefined && baseDir !== undefined) parsed.value.uplink = { ...uplink, ca: resolved(uplink.ca), cert: resolved(uplink.cert), key: resolved(uplink.key) };
  const { influxdb } = parsed.value;
  if (influxdb?.ca !== undefined && options.baseDir !== undefined) parsed.value.influxdb = { ...influxdb, ca: resolve(options.baseDir, influxdb.ca) };
  const { siem } = parsed.value;
  if (siem !== undefined && baseDir !== undefined) {
    parsed.value.siem = { ...siem, syslog: siem.syslog.map((destination) => ({ ...destination, ca: resolved(destination.ca), cert: resolved(destination.cert), key: resolved(destination.key) })) };
  }
  return { ok: true, config: deepFreeze(parsed.value), warnings: configWarnings(parsed.value) };
}

export async function loadSiteConfig(file: string): Promise<ConfigLoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    return { ok: false, issues: [{ path: '(file)', message: code === 'ENOENT' ? 'file not found' : `cannot read file (${code})` }], stage: 'file' };
  }
  const parsed = parseSiteConfig(text, { baseDir: dirname(resolve(file)) });
  if (!parsed.ok) return parsed;
  const tls = await tlsConfigIssues(parsed.config.tls);
  const siemFiles = await siemFileIssues(parsed.config.siem);
  const uplinkClient = await clientCertificateIssues('uplink', parsed.config.uplink ?? {}, 'broker');
  const fileIssues = [...tls.issues, ...(await caFileIssues('uplink.ca', parsed.config.uplink?.ca)), ...uplinkClient.issues, ...(await caFileIssues('influxdb.ca', parsed.config.influxdb?.ca)), ...siemFiles.issues];
  if (fileIssues.length > 0) return { ok: false, issues: fileIssues, stage: 'files' };
  return { ...parsed, warnings: [...parsed.warnings, ...tls.warnings, ...uplinkClient.warnings, ...siemFiles.warnings] };
}
