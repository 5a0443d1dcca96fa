import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { evaluateScenario, type ScenarioEvaluation } from '../evaluation/evaluate-scenario.ts';
import { markdownTable, reportRow, summaryLine, textTable } from '../evaluation/report.ts';
import { libraryFiles, loadScenarioFile, resolveScenario } from '../evaluation/scenario-loader.ts';
import type { Scenario } from '../../../simulators/src/scenarios/scenario-schema.ts';
import type { SiteConfig } from '../model/site-schema.ts';
import { loadConfigOrExit } from './config-commands.ts';
import { EXIT_USAGE, parseCount, DEMO_CONFIG } from './options.ts';

interface EvalOptions {
  readonly config: string;
  readonly out: string;
  readonly seed: number;
}

/** Loads scenarios by name or file (all of the library when none is named); every problem by path, exit 2. */
export async function loadScenariosOrExit(names: readonly string[], config: SiteConfig): Promise<Scenario[]> {
  const files = names.length === 0 ? await libraryFiles() : names.map((name) => resolveScenario(name));
  const scenarios: Scenario[] = [];
  let problems = 0;
  for (const file of files) {
    const loaded = await loadScenarioFile(file, config);
    if (loaded.ok) {
      scenarios.push(loaded.scenario);
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
    .description('score detection: each scenario over a fresh agent and simulated ward, in virtual time; exits 1 when an expected alert is missing or a benign scenario raises a high or critical alert')
    .argument('[scenarios...]', 'library names or scenario files (default: the whole library)')
    .option('-c, --config <file>', 'site configuration the ward and agent use', DEMO_CONFIG)
    .option('-o, --out <dir>', 'where eval.json and eval.md are written', 'wardwatch-eval')
    .option('--seed <n>', 'seed of the background ward', parseCount, 1)
    .action(async (names: string[], options: EvalOptions) => {
      const config = await loadConfigOrExit(options.config, { warnings: false });
      const scenarios = await loadScenariosOrExit(names, config);
      const evaluations: ScenarioEvaluation[] = [];
      for (const scenario of scenarios) {
        evaluations.push(await evaluateScenario(scenario, { config, seed: options.seed }));
      }
      const rows = evaluations.map(reportRow);
      process.stdout.write(`${textTable(rows)}\n\n${summaryLine(rows)}\n`);
      await mkdir(options.out, { recursive: true });
      const command = `wardwatch eval${names.length > 0 ? ` ${names.join(' ')}` : ''} --config ${options.config} --seed ${options.seed}`;
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
      };
      await writeFile(join(options.out, 'eval.json'), `${JSON.stringify(json, null, 2)}\n`);
      await writeFile(join(options.out, 'eval.md'), `Made by \`${command}\`.\n\n${markdownTable(rows)}\n\n${summaryLine(rows)}\n`);
      process.stdout.write(`written: ${join(options.out, 'eval.json')}, ${join(options.out, 'eval.md')}\n`);
      process.exitCode = rows.some((row) => row.result === 'FAIL') ? 1 : 0;
    });
}
