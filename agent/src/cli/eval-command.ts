import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { runBenignWard, type BenignRunResult } from '../evaluation/benign-run.ts';
import { benignMarkdown, benignText, withinBudget } from '../evaluation/benign-report.ts';
import type { Command } from 'commander';
import { evaluateScenario, type ScenarioEvaluation } from '../evaluation/evaluate-scenario.ts';
import { markdownTable, reportRow, summaryLine, textTable } from '../evaluation/report.ts';
import { libraryFiles, loadScenarioFile, resolveScenario, SITE_DIR } from '../evaluation/scenario-loader.ts';
import type { Scenario } from '../../../simulators/src/scenarios/scenario-schema.ts';
import type { SiteConfig } from '../model/site-schema.ts';
import { loadConfigOrExit } from './config-commands.ts';
import { EXIT_USAGE, parseCount, DEMO_CONFIG } from './options.ts';

/** A scenario and the site it runs on (its own `site`, or the config given). */
export interface LoadedScenario {
  readonly scenario: Scenario;
  readonly config: SiteConfig;
}

interface EvalOptions {
  readonly config: string;
  readonly out: string;
  readonly seed: number;
  readonly benignDays: number;
  readonly benignConfig?: string[];
}

/** The long benign run's default sites: the evaluated one and the 54-device ward. */
const LARGE_WARD = join(SITE_DIR, 'large-ward.yaml');

/** Loads scenarios by name or file (all of the library when none is named); every problem by path, exit 2. */
export async function loadScenariosOrExit(names: readonly string[], config: SiteConfig): Promise<LoadedScenario[]> {
  const files = names.length === 0 ? await libraryFiles() : names.map((name) => resolveScenario(name));
  const scenarios: LoadedScenario[] = [];
  let problems = 0;
  for (const file of files) {
    const loaded = await loadScenarioFile(file, config);
    if (loaded.ok) {
      scenarios.push({ scenario: loaded.scenario, config: loaded.config });
      continue;
    }
    for (const issue of loaded.issues) process.stderr.write(`${file}: error ${issue.path}: ${issue.message}\n`);
    problems += loaded.issues.length;
  }
  if (problems > 0) {
    process.stderr.write(`${problems} problem${problems === 1 ? '' : 's'} in scenario files; nothing was run.\n`);
    process.exit(EXIT_USAGE);
  }
  return scenarios;
}

export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description('score detection: each scenario over a fresh agent and simulated ward, in virtual time; exits 1 when an expected alert is missing, a benign scenario raises a high or critical alert, or a long benign run (--benign-days) exceeds the false-alert budget')
    .argument('[scenarios...]', 'library names or scenario files (default: the whole library)')
    .option('-c, --config <file>', 'site configuration the ward and agent use', DEMO_CONFIG)
    .option('-o, --out <dir>', 'where eval.json and eval.md are written', 'wardwatch-eval')
    .option('--seed <n>', 'seed of the background ward', parseCount, 1)
    .option('--benign-days <n>', 'also run each benign site for n simulated days (learning on the first) and count false alerts per device-day (issue 5); 0 = skip', parseCount, 0)
    .option('--benign-config <files...>', 'sites of the long benign run (default: --config and config/large-ward.yaml)')
    .action(async (names: string[], options: EvalOptions) => {
      const config = await loadConfigOrExit(options.config, { warnings: false });
      const scenarios = await loadScenariosOrExit(names, config);
      const evaluations: ScenarioEvaluation[] = [];
      for (const loaded of scenarios) {
        evaluations.push(await evaluateScenario(loaded.scenario, { config: loaded.config, seed: options.seed }));
      }
      const rows = evaluations.map(reportRow);
      process.stdout.write(`${textTable(rows)}\n\n${summaryLine(rows)}\n`);
      const benignSites = options.benignConfig ?? [options.config, relative(process.cwd(), LARGE_WARD)];
      const benign: BenignRunResult[] = [];
      if (options.benignDays > 0) {
        for (const file of benignSites) {
          const site = await loadConfigOrExit(file, { warnings: false });
          process.stdout.write(`\nbenign run: ${file}, ${options.benignDays} simulated days…\n`);
          benign.push(await runBenignWard({ config: site, seed: options.seed, days: options.benignDays }));
        }
        process.stdout.write(`\n${benignText(benign)}`);
      }
      await mkdir(options.out, { recursive: true });
      const benignArguments = options.benignDays > 0 ? ` --benign-days ${options.benignDays}${options.benignConfig === undefined ? '' : ` --benign-config ${options.benignConfig.join(' ')}`}` : '';
      const command = `wardwatch eval${names.length > 0 ? ` ${names.join(' ')}` : ''} --config ${options.config} --seed ${options.seed}${benignArguments}`;
      const json = {
        command,
        seed: options.seed,
        scenarios: evaluations.map((evaluation, index) => ({
          ...rows[index],
          benign: evaluation.benign,
          simulatedMs: evaluation.simulatedMs,
          expectations: evaluation.expectations.map((outcome) => ({ ...outcome.expected, alertId: outcome.alert?.id ?? null, latencyMs: outcome.latencyMs, title: outcome.alert?.title ?? null })),
          unexpected: evaluation.unexpected.map((alert) => ({ id: alert.id, type: alert.type, severity: alert.severity, title: alert.title })),
        })),
        benign: benign.map((result) => ({ ...result, alerts: result.alerts.map((alert) => ({ ts: alert.ts, type: alert.type, severity: alert.severity, title: alert.title })) })),
      };
      await writeFile(join(options.out, 'eval.json'), `${JSON.stringify(json, null, 2)}\n`);
      const benignSection = benign.length === 0 ? '' : `\n## Long benign run\n\n${benignMarkdown(benign)}\n`;
      await writeFile(join(options.out, 'eval.md'), `Made by \`${command}\`.\n\n${markdownTable(rows)}\n\n${summaryLine(rows)}\n${benignSection}`);
      process.stdout.write(`written: ${join(options.out, 'eval.json')}, ${join(options.out, 'eval.md')}\n`);
      process.exitCode = rows.some((row) => row.result === 'FAIL') || benign.some((result) => !withinBudget(result)) ? 1 : 0;
    });
}
