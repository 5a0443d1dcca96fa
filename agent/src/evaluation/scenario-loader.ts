import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { scenarioSchema, type Scenario } from '../../../simulators/src/scenarios/scenario-schema.ts';
import { ALERT_CATALOGUE } from '../alert/catalogue.ts';
import type { ConfigIssue, SiteConfig } from '../model/site-schema.ts';
import { parseWireTopic } from '../model/wire.ts';
import { parseYamlDocument } from '../model/yaml-document.ts';
import { loadSiteConfig } from '../config/load-site-config.ts';
import { z } from 'zod';

/** The scenario library that ships with Wardwatch. */
export const SCENARIO_DIR = fileURLToPath(new URL('../../../simulators/scenarios/', import.meta.url));

export type ScenarioLoadResult =
  /** `config` is the site the scenario runs on: its own `site`, else the one given. */
  | { readonly ok: true; readonly scenario: Scenario; readonly file: string; readonly config: SiteConfig }
  | { readonly ok: false; readonly file: string; readonly issues: readonly ConfigIssue[] };

/** Names in a scenario that must exist in the site config and the alert catalogue. */
export function scenarioReferenceIssues(scenario: Scenario, config: SiteConfig, fileName: string | null): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const devices = new Set(config.devices.map((device) => device.id));
  const accounts = new Map(config.mqtt.accounts.map((account) => [account.username, account]));
  if (fileName !== null && fileName !== `${scenario.name}.yaml`) {
    issues.push({ path: 'name', message: `the name "${scenario.name}" must match the file name (${fileName})` });
  }
  for (const [name, actor] of Object.entries(scenario.actors)) {
    if (actor.kind === 'raw-tcp') {
      issues.push({ path: `actors.${name}.kind`, message: 'raw-tcp actors are reserved for the capture work; no runner plays them yet' });
      continue;
    }
    if (actor.kind !== 'mqtt') continue;
    const account = accounts.get(actor.username);
    if (actor.wardSession && (account === undefined || account.role !== 'station')) {
      issues.push({ path: `actors.${name}.wardSession`, message: `only a station account the simulated ward uses can share its session ("${actor.username}" is not one)` });
    }
  }
  scenario.steps.forEach((step, index) => {
    const path = `steps[${index}]`;
    if (step.actor !== undefined && !Object.hasOwn(scenario.actors, step.actor)) {
      issues.push({ path: `${path}.actor`, message: `no actor "${step.actor}" in actors (${Object.keys(scenario.actors).join(', ') || 'none'})` });
    }
    const device = step.command?.device ?? step.capture?.device ?? step.replay?.device ?? step.modbus?.device;
    const actor = step.actor === undefined ? undefined : scenario.actors[step.actor];
    if (step.modbus !== undefined && actor !== undefined && actor.kind !== 'modbus-master') {
      issues.push({ path: `${path}.actor`, message: `a modbus step needs a modbus-master actor ("${step.actor}" is ${actor.kind})` });
    }
    if (step.modbus === undefined && actor?.kind === 'modbus-master') {
      issues.push({ path: `${path}.actor`, message: `a modbus-master actor only sends modbus steps` });
    }
    if (device !== undefined && !devices.has(device)) issues.push({ path: `${path}`, message: `no device "${device}" in the site's inventory` });
    const ward = step.ward;
    const wardDevice = ward === undefined ? undefined : 'silence' in ward ? ward.silence : 'reboot' in ward ? ward.reboot : 'occlusion' in ward ? ward.occlusion : 'reconfigureDelivery' in ward ? ward.reconfigureDelivery : undefined;
    if (wardDevice !== undefined && !devices.has(wardDevice)) issues.push({ path: `${path}.ward`, message: `no device "${wardDevice}" in the site's inventory` });
    if (step.publish !== undefined && step.publish.topic.startsWith('ward/')) {
      const topic = parseWireTopic(step.publish.topic);
      if (topic !== null && !devices.has(topic.deviceId)) issues.push({ path: `${path}.publish.topic`, message: `no device "${topic.deviceId}" in the site's inventory` });
    }
  });
  if (scenario.expect !== 'none') {
    scenario.expect.alerts.forEach((expected, index) => {
      const path = `expect.alerts[${index}]`;
      if (!Object.hasOwn(ALERT_CATALOGUE, expected.type)) issues.push({ path: `${path}.type`, message: `"${expected.type}" is not in the alert catalogue` });
      if (expected.device !== undefined && !devices.has(expected.device)) issues.push({ path: `${path}.device`, message: `no device "${expected.device}" in the site's inventory` });
    });
  } else if (scenario.attack !== undefined) {
    issues.push({ path: 'attack', message: 'a benign scenario (expect: none) has no ATT&CK technique' });
  }
  if (scenario.expect !== 'none' && scenario.attack === undefined) {
    issues.push({ path: 'attack', message: 'an attack scenario names its MITRE ATT&CK for ICS technique' });
  }
  return issues;
}

export function parseScenario(text: string, config: SiteConfig, fileName: string | null): ScenarioLoadResult {
  const file = fileName ?? '(text)';
  const parsed = parseYamlDocument(text, scenarioSchema);
  if (!parsed.ok) return { ok: false, file, issues: parsed.issues };
  const issues = scenarioReferenceIssues(parsed.value, config, fileName);
  if (issues.length > 0) return { ok: false, file, issues };
  return { ok: true, scenario: parsed.value, file, config };
}

/** The configs shipped in config/, where a scenario's `site` points. */
export const SITE_DIR = fileURLToPath(new URL('../../../config/', import.meta.url));

/** A scenario's own site config, or `config` when it names none; issues by path when it cannot be loaded. */
async function siteFor(text: string, config: SiteConfig): Promise<{ readonly config: SiteConfig } | { readonly issues: readonly ConfigIssue[] }> {
  const header = parseYamlDocument(text, z.looseObject({ site: z.string().optional() }));
  const site = header.ok ? header.value.site : undefined;
  if (site === undefined || !/^[a-z0-9][a-z0-9-]{0,63}$/.test(site)) return { config };
  const loaded = await loadSiteConfig(join(SITE_DIR, `${site}.yaml`));
  if (!loaded.ok) return { issues: [{ path: 'site', message: `config/${site}.yaml: ${loaded.issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}` }] };
  return { config: loaded.config };
}

export async function loadScenarioFile(file: string, config: SiteConfig): Promise<ScenarioLoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    return { ok: false, file, issues: [{ path: '(file)', message: code === 'ENOENT' ? 'file not found' : `cannot read file (${code})` }] };
  }
  const site = await siteFor(text, config);
  if ('issues' in site) return { ok: false, file, issues: site.issues };
  const result = parseScenario(text, site.config, basename(file));
  return result.ok ? { ...result, file } : { ...result, file };
}

/** Every scenario file of the library, sorted by name. */
export async function libraryFiles(directory = SCENARIO_DIR): Promise<string[]> {
  const names = await readdir(directory);
  return names.filter((name) => name.endsWith('.yaml')).sort().map((name) => join(directory, name));
}

/** A library name (`heparin-dose-tamper`) or a path to a scenario file. */
export function resolveScenario(nameOrFile: string, directory = SCENARIO_DIR): string {
  return nameOrFile.endsWith('.yaml') || nameOrFile.includes('/') ? nameOrFile : join(directory, `${nameOrFile}.yaml`);
}
