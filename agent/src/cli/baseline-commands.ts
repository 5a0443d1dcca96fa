import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { AuditLog, cliActor, type AuditAction } from '../audit/audit-log.ts';
import { acceptanceOf, acceptDeviation } from '../detect/baseline/baseline-accept.ts';
import { exportBaselineYaml } from '../detect/baseline/baseline-export.ts';
import { applyBaselineImport, parseBaselineImport } from '../detect/baseline/baseline-import.ts';
import { BaselineModel } from '../detect/baseline/baseline-model.ts';
import { baselineStatus, formatBaselineStatus } from '../detect/baseline/baseline-status.ts';
import type { DeviceKind } from '../model/device-profile.ts';
import type { SiteConfig } from '../model/site-schema.ts';
import { AlertStore } from '../store/alert-store.ts';
import { BASELINE_FILE, readBaselineFile, writeBaselineFile } from '../store/baseline-file.ts';
import { runningAgentPid } from '../store/data-dir-lock.ts';
import { loadConfigOrExit } from './config-commands.ts';
import { EXIT_RUNTIME, EXIT_USAGE } from './options.ts';

/**
 * `wardwatch baseline status|export|import|accept|freeze|unfreeze` (issue 5, part 2): the
 * learned baseline in the agent's data directory. Reading works any time (the state as of
 * the agent's last save); changing it needs the agent stopped, since a running agent
 * would overwrite the file at its next save. A running agent accepts an alert itself, from
 * its dashboard (alert/accept-into-baseline.ts); `accept` here is for a stopped one. Every change is appended to the audit log
 * (issue 6) as "cli:<os user>" from "local", once the baseline file is written.
 */

interface BaselineOptions {
  readonly config: string;
  readonly dataDir: string;
}

function fail(message: string, code = EXIT_USAGE): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function inventoryOf(config: SiteConfig): Map<string, DeviceKind> {
  return new Map(config.devices.map((device) => [device.id, device.profile]));
}

/** The saved baseline in a model, or an empty model when none was saved yet. */
async function loadModel(config: SiteConfig, dataDir: string): Promise<{ model: BaselineModel; saved: boolean }> {
  const model = new BaselineModel(config.baseline);
  const result = await readBaselineFile(join(dataDir, BASELINE_FILE));
  if (!result.ok) {
    if (result.missing) return { model, saved: false };
    fail(`${result.problem}\nThe file is damaged; the agent moves it aside at its next start and learns again.`, EXIT_RUNTIME);
  }
  const inventory = inventoryOf(config);
  model.load(result.baseline, (id, profile) => inventory.get(id) === profile);
  return { model, saved: true };
}

/** `instead`: what can be done without stopping the agent, said after the refusal. */
async function refuseWhileRunning(dataDir: string, instead?: string): Promise<void> {
  const pid = await runningAgentPid(dataDir);
  if (pid === null) return;
  const refusal = `an agent (pid ${pid}) is running on ${dataDir} and would overwrite the baseline at its next save`;
  if (instead !== undefined) fail(`${refusal}.\n${instead}\nOtherwise stop it first (e.g. systemctl stop wardwatch), then run this again.`);
  fail(`${refusal}; stop it first (e.g. systemctl stop wardwatch), then run this again`);
}

/** The running agent takes an acceptance itself (POST /api/alerts/<id>/accept-baseline): no need to leave the ward unwatched. */
function acceptOnDashboardHint(alertId: string): string {
  return `Accept it without stopping the agent: open the alert on the dashboard (#alert/${alertId}) as a biomed or admin and choose "Accept as normal for this ward".`;
}

async function save(model: BaselineModel, dataDir: string): Promise<void> {
  if (!existsSync(dataDir)) fail(`${dataDir} does not exist: give the agent's --data-dir`);
  await writeBaselineFile(join(dataDir, BASELINE_FILE), model.toJSON());
}

function audit(dataDir: string, action: AuditAction, details: Record<string, unknown>): void {
  AuditLog.forDataDir(dataDir).append({ actor: cliActor(), from: 'local', action, details });
}

/** Event time new entries are dated with: the end of what was learned, else now. */
function importTime(model: BaselineModel): number {
  return model.learnedUntil ?? Date.now();
}

function withCommonOptions(command: Command): Command {
  return command
    .requiredOption('-c, --config <file>', 'site configuration (YAML) the agent runs with')
    .option('-d, --data-dir <dir>', 'the agent\'s data directory', './wardwatch-data');
}

export function registerBaselineCommands(program: Command): void {
  const baseline = program.command('baseline').description('the learned baseline: progress, export for review, import an edited one, accept an alert, freeze devices');

  withCommonOptions(baseline.command('status').description('learning progress: events seen, devices covered, how stable each envelope is'))
    .option('--json', 'machine-readable output')
    .action(async (options: BaselineOptions & { readonly json?: boolean }) => {
      const config = await loadConfigOrExit(options.config, { warnings: false });
      const { model, saved } = await loadModel(config, options.dataDir);
      const status = baselineStatus(model, config, saved);
      process.stdout.write(options.json === true ? `${JSON.stringify(status, null, 2)}\n` : formatBaselineStatus(status));
    });

  withCommonOptions(baseline.command('export').description('write the baseline as reviewable, git-diffable YAML').argument('<file>', 'output file, or - for standard output'))
    .action(async (file: string, options: BaselineOptions) => {
      const config = await loadConfigOrExit(options.config, { warnings: false });
      const { model, saved } = await loadModel(config, options.dataDir);
      if (!saved) process.stderr.write(`note: no baseline saved in ${options.dataDir} yet; the export is empty\n`);
      const yaml = exportBaselineYaml(model, `${config.site.name}, ward ${config.site.ward}`);
      if (file === '-') process.stdout.write(yaml);
      else {
        await writeFile(file, yaml, { mode: 0o600 });
        process.stderr.write(`written: ${file} (${model.devices.size} devices, ${model.events} events learned)\n`);
      }
    });

  withCommonOptions(baseline.command('import').description('make an edited export the baseline the agent judges by (the agent must be stopped)').argument('<file>', 'a file written by `baseline export`, edited'))
    .option('--freeze', 'freeze every device in the file: they learn no more, the file is policy')
    .action(async (file: string, options: BaselineOptions & { readonly freeze?: boolean }) => {
      const config = await loadConfigOrExit(options.config, { warnings: false });
      await refuseWhileRunning(options.dataDir);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        fail(`${file}: ${(error as Error).message}`);
      }
      const inventory = inventoryOf(config);
      const parsed = parseBaselineImport(text, inventory);
      if (!parsed.ok) {
        for (const issue of parsed.issues) process.stderr.write(`${file}: error ${issue.path}: ${issue.message}\n`);
        fail(`${file}: ${parsed.issues.length} problem${parsed.issues.length === 1 ? '' : 's'}; nothing was imported.`);
      }
      const { model } = await loadModel(config, options.dataDir);
      if (options.freeze === true) for (const device of Object.values(parsed.document.devices)) device.frozen = true;
      applyBaselineImport(model, parsed.document, inventory, importTime(model));
      await save(model, options.dataDir);
      const frozen = Object.values(parsed.document.devices).filter((device) => device.frozen).length;
      audit(options.dataDir, 'baseline-imported', { file: resolve(file), devices: Object.keys(parsed.document.devices).length, frozen, kinds: Object.keys(parsed.document.groups).length });
      process.stdout.write(`imported ${Object.keys(parsed.document.devices).length} devices (${frozen} frozen) and ${Object.keys(parsed.document.groups).length} kinds into ${join(options.dataDir, BASELINE_FILE)}\n`);
    });

  withCommonOptions(baseline.command('accept').description('accept what a learned alert found unusual into the baseline (the agent must be stopped; a running agent accepts it from its dashboard)').argument('<alert-id>', 'id of the alert (dashboard, alerts.jsonl)'))
    .action(async (alertId: string, options: BaselineOptions) => {
      const config = await loadConfigOrExit(options.config, { warnings: false });
      await refuseWhileRunning(options.dataDir, acceptOnDashboardHint(alertId));
      const dbFile = join(options.dataDir, 'wardwatch.db');
      if (!existsSync(dbFile)) fail(`${dbFile} does not exist: give the agent's --data-dir`);
      const store = new AlertStore(dbFile);
      const alert = store.get(alertId);
      store.close();
      if (alert === null) fail(`no alert ${alertId} in ${dbFile}`);
      const acceptance = acceptanceOf(alert);
      if (acceptance === null) fail(`alert ${alertId} (${alert.type}) is not a learned deviation; there is nothing to accept into the baseline`);
      const profile = inventoryOf(config).get(acceptance.device);
      if (profile === undefined) fail(`device ${acceptance.device} of alert ${alertId} is not in ${options.config}`);
      const { model } = await loadModel(config, options.dataDir);
      acceptDeviation(model, acceptance, profile, importTime(model));
      await save(model, options.dataDir);
      audit(options.dataDir, 'baseline-accepted', { alertId, alertType: alert.type, device: acceptance.device, level: acceptance.level, table: acceptance.table, key: acceptance.key, ...(acceptance.value === undefined ? {} : { value: acceptance.value }) });
      process.stdout.write(`accepted into the baseline of ${acceptance.device} (${acceptance.level}): ${acceptance.table} ${acceptance.key}${acceptance.value === undefined ? '' : ` = ${String(acceptance.value)}`}\n`);
    });

  for (const [name, frozen] of [['freeze', true], ['unfreeze', false]] as const) {
    withCommonOptions(baseline.command(name).description(frozen ? 'stop learning on devices: what they learned is kept as policy (the agent must be stopped)' : 'let devices learn again (the agent must be stopped)').argument('<devices...>', 'device ids'))
      .action(async (ids: string[], options: BaselineOptions) => {
        const config = await loadConfigOrExit(options.config, { warnings: false });
        await refuseWhileRunning(options.dataDir);
        const inventory = inventoryOf(config);
        const unknown = ids.filter((id) => !inventory.has(id));
        if (unknown.length > 0) fail(`not devices of ${options.config}: ${unknown.join(', ')}`);
        const { model } = await loadModel(config, options.dataDir);
        for (const id of ids) model.device(id, inventory.get(id) as DeviceKind, importTime(model)).frozen = frozen;
        await save(model, options.dataDir);
        audit(options.dataDir, frozen ? 'baseline-frozen' : 'baseline-unfrozen', { devices: ids });
        process.stdout.write(`${frozen ? 'frozen' : 'unfrozen'}: ${ids.join(', ')}\n`);
      });
  }
}
