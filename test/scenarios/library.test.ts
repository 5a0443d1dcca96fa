import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateScenario } from '../../agent/src/evaluation/evaluate-scenario.ts';
import { libraryFiles, loadScenarioFile, parseScenario } from '../../agent/src/evaluation/scenario-loader.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';

const config = loadDemoConfig();
const files = await libraryFiles();

/**
 * Detection coverage on every change: each scenario of the library over a fresh agent
 * and simulated ward in virtual time, as `wardwatch eval` runs it (issue 3).
 */
describe('the scenario library', () => {
  it('has at least 20 attack and 4 benign scenarios, each citing its source', async () => {
    const scenarios = await Promise.all(files.map((file) => loadScenarioFile(file, config)));
    const invalid = scenarios.flatMap((result) => (result.ok ? [] : [`${result.file}: ${result.issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`]));
    expect(invalid).toEqual([]);
    const loaded = scenarios.flatMap((result) => (result.ok ? [result.scenario] : []));
    expect(loaded.filter((scenario) => scenario.expect !== 'none').length).toBeGreaterThanOrEqual(20);
    expect(loaded.filter((scenario) => scenario.expect === 'none').length).toBeGreaterThanOrEqual(4);
    for (const scenario of loaded) {
      expect(scenario.models.length, scenario.name).toBeGreaterThan(0);
      expect(scenario.models.every((model) => /^https:\/\//.test(model.reference)), scenario.name).toBe(true);
    }
  });

  it.each(files.map((file) => [basename(file, '.yaml'), file]))('%s: every expected alert within its bound; nothing high or critical if benign', async (_name, file) => {
    const loaded = await loadScenarioFile(file, config);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.issues));
    const evaluation = await evaluateScenario(loaded.scenario, { config: loaded.config, seed: 1 });
    expect(evaluation.problems).toEqual([]);
    for (const outcome of evaluation.expectations) {
      expect(outcome.alert?.type).toBe(outcome.expected.type);
      expect(outcome.latencyMs).not.toBeNull();
      expect(outcome.latencyMs ?? Infinity).toBeLessThanOrEqual(outcome.expected.within);
    }
    if (evaluation.benign) {
      expect(evaluation.alerts.filter((alert) => alert.severity === 'critical' || alert.severity === 'high').map((alert) => alert.title)).toEqual([]);
    }
    // Learned-baseline scenarios simulate a day or two of a ward (up to 54 devices) first.
  }, 240_000);
});

describe('scoring can fail', () => {
  it('an attack the agent cannot see is reported missed', async () => {
    const result = parseScenario(
      `name: invisible
title: A command that is perfectly normal
models: [{ kind: standard, id: x, reference: "https://example.org/", note: "test" }]
attack: { technique: T0836, name: Modify Parameter }
actors: { station: { kind: mqtt, username: station-4w, wardSession: true } }
steps:
  - { at: 1m, actor: station, command: { device: pump-02, command: pause } }
expect:
  alerts: [{ type: dose-above-hard-limit, device: pump-02, within: 5s }]
`,
      config,
      null,
    );
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    const evaluation = await evaluateScenario(result.scenario, { config, seed: 1 });
    expect(evaluation.passed).toBe(false);
    expect(evaluation.problems).toEqual(['missed dose-above-hard-limit on pump-02']);
  });

  it('a benign scenario that raises a critical alert fails', async () => {
    const result = parseScenario(
      `name: not-benign
title: Claimed benign, but doses at ten times the limit
models: [{ kind: standard, id: x, reference: "https://example.org/", note: "test" }]
actors: { station: { kind: mqtt, username: station-4w, wardSession: true } }
steps:
  - { at: 1m, actor: station, command: { device: pump-01, command: set_rate, params: { rate_ml_h: 320 } } }
expect: none
`,
      config,
      null,
    );
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    const evaluation = await evaluateScenario(result.scenario, { config, seed: 1 });
    expect(evaluation.passed).toBe(false);
    expect(evaluation.problems.some((problem) => problem.startsWith('benign scenario raised critical dose-above-hard-limit'))).toBe(true);
  });

  it('a bad scenario file lists every problem by path', () => {
    const result = parseScenario(
      `name: Bad Name!
title: ""
models: []
actors: { a: { kind: raw-tcp } }
steps:
  - { at: soon, actor: nobody, command: { device: pump-99, command: x } }
  - { at: 1m, subscribe: { filters: ["#"] }, publish: { topic: t, payload: p } }
expect: { alerts: [{ type: no-such-alert, within: 1s }] }
`,
      config,
      'bad.yaml',
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const paths = result.issues.map((issue) => issue.path);
    expect(paths).toEqual(expect.arrayContaining(['name', 'title', 'models', 'steps[0].at', 'steps[1]']));
  });

  it('names are checked against the site and the catalogue', () => {
    const result = parseScenario(
      `name: refs
title: References
models: [{ kind: standard, id: x, reference: "https://example.org/", note: "test" }]
attack: { technique: T0836, name: Modify Parameter }
actors: { a: { kind: raw-tcp } }
steps:
  - { at: 1m, actor: nobody, command: { device: pump-99, command: x } }
expect: { alerts: [{ type: no-such-alert, device: pump-42, within: 1s }] }
`,
      config,
      'other.yaml',
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((issue) => `${issue.path}: ${issue.message}`)).toEqual(
      expect.arrayContaining([
        'name: the name "refs" must match the file name (other.yaml)',
        'actors.a.kind: raw-tcp actors are reserved for the capture work; no runner plays them yet',
        expect.stringMatching(/^steps\[0\]\.actor: no actor "nobody"/),
        'steps[0]: no device "pump-99" in the site\'s inventory',
        'expect.alerts[0].type: "no-such-alert" is not in the alert catalogue',
        'expect.alerts[0].device: no device "pump-42" in the site\'s inventory',
      ]),
    );
  });
});
