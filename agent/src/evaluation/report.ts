import { formatDuration } from '../../../simulators/src/scenarios/duration.ts';
import type { ScenarioEvaluation } from './evaluate-scenario.ts';

export interface ReportRow {
  readonly scenario: string;
  readonly title: string;
  readonly source: string;
  readonly technique: string;
  readonly expected: string;
  readonly detected: string;
  readonly timeToAlert: string;
  readonly unexpected: string;
  readonly result: 'pass' | 'FAIL';
  readonly problems: readonly string[];
}

/** One row per scenario: what was expected, which alerts met it and how fast, what else fired. */
export function reportRow(evaluation: ScenarioEvaluation): ReportRow {
  const { scenario } = evaluation;
  const expected = evaluation.benign
    ? 'none (benign)'
    : evaluation.expectations.map((outcome) => `${outcome.expected.type}${outcome.expected.device ? `@${outcome.expected.device}` : ''} ≤${formatDuration(outcome.expected.within)}`).join('; ');
  const detected = evaluation.benign
    ? '—'
    : evaluation.expectations.map((outcome) => (outcome.alert === null ? 'MISSED' : outcome.alert.id.slice(0, 8))).join('; ');
  const timeToAlert = evaluation.benign
    ? '—'
    : evaluation.expectations.map((outcome) => (outcome.latencyMs === null ? '—' : formatDuration(outcome.latencyMs))).join('; ');
  const unexpectedByType = new Map<string, number>();
  for (const alert of evaluation.unexpected) {
    const key = `${alert.type} (${alert.severity})`;
    unexpectedByType.set(key, (unexpectedByType.get(key) ?? 0) + 1);
  }
  return {
    scenario: scenario.name,
    title: scenario.title,
    source: scenario.models.map((model) => model.id).join(', '),
    technique: scenario.attack?.technique ?? '—',
    expected,
    detected,
    timeToAlert,
    unexpected: unexpectedByType.size === 0 ? 'none' : [...unexpectedByType].map(([key, count]) => (count > 1 ? `${key} ×${count}` : key)).join('; '),
    result: evaluation.passed ? 'pass' : 'FAIL',
    problems: evaluation.problems,
  };
}

const COLUMNS: readonly (keyof ReportRow)[] = ['scenario', 'expected', 'detected', 'timeToAlert', 'unexpected', 'result'];
const HEADERS: Readonly<Record<string, string>> = { scenario: 'scenario', expected: 'expected', detected: 'detected (alert id)', timeToAlert: 'time to alert', unexpected: 'unexpected alerts', result: 'result' };

export function textTable(rows: readonly ReportRow[]): string {
  const widths = COLUMNS.map((column) => Math.max((HEADERS[column] ?? '').length, ...rows.map((row) => String(row[column]).length)));
  const line = (cells: readonly string[]): string => cells.map((cell, index) => cell.padEnd(widths[index] ?? 0)).join('  ').trimEnd();
  const out = [line(COLUMNS.map((column) => HEADERS[column] ?? column)), line(widths.map((width) => '-'.repeat(width)))];
  for (const row of rows) {
    out.push(line(COLUMNS.map((column) => String(row[column]))));
    for (const problem of row.problems) out.push(`    ↳ ${problem}`);
  }
  return out.join('\n');
}

function markdownCell(text: string): string {
  return text.replaceAll('|', '\\|');
}

export function markdownTable(rows: readonly ReportRow[]): string {
  const columns: (keyof ReportRow)[] = ['scenario', 'source', 'technique', 'expected', 'detected', 'timeToAlert', 'unexpected', 'result'];
  const headers: Record<string, string> = { ...HEADERS, source: 'models', technique: 'ATT&CK' };
  const out = [`| ${columns.map((column) => headers[column] ?? column).join(' | ')} |`, `|${columns.map(() => '---').join('|')}|`];
  for (const row of rows) out.push(`| ${columns.map((column) => markdownCell(String(row[column]))).join(' | ')} |`);
  return out.join('\n');
}

export function summaryLine(rows: readonly ReportRow[]): string {
  const failed = rows.filter((row) => row.result === 'FAIL').length;
  return `${rows.length} scenarios: ${rows.length - failed} passed, ${failed} failed`;
}
