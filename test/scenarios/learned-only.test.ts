import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateScenario } from '../../agent/src/evaluation/evaluate-scenario.ts';
import { libraryFiles, loadScenarioFile } from '../../agent/src/evaluation/scenario-loader.ts';
import { SEVERITY_RANK } from '../../agent/src/alert/catalogue.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';

const files = (await libraryFiles()).filter((file) => basename(file).startsWith('learned-'));

/**
 * Issue 5 asks for scenarios "that no static rule catches". Each `learned-*` scenario is
 * evaluated with the baseline switched off (`baseline.mode: off`, which also stops the
 * creep, delivery and version detectors): then nothing at warning or above may fire, and
 * its expected alert must be missing. The library test runs them with the baseline on.
 */
describe('learned-only scenarios', () => {
  it('there are at least six', () => {
    expect(files.length).toBeGreaterThanOrEqual(6);
  });

  it.each(files.map((file) => [basename(file, '.yaml'), file]))('%s: no static rule catches it', async (_name, file) => {
    const loaded = await loadScenarioFile(file, loadDemoConfig());
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
    const config = { ...loaded.config, baseline: { ...loaded.config.baseline, mode: 'off' as const } };
    const evaluation = await evaluateScenario(loaded.scenario, { config, seed: 1 });
    expect(evaluation.passed).toBe(false);
    expect(evaluation.expectations.every((outcome) => outcome.alert === null)).toBe(true);
    const seen = evaluation.alerts.filter((alert) => SEVERITY_RANK[alert.severity] <= SEVERITY_RANK.warning && Date.parse(alert.ts) >= evaluation.triggerAt - 60_000);
    expect(seen.map((alert) => `${alert.type}: ${alert.title}`)).toEqual([]);
  }, 240_000);
});
