import type { BenignRunResult } from './benign-run.ts';

/**
 * The false-alarm budget of issue 5 ("Done when"): on the long benign run, at most 0.05
 * high or critical alerts per device-day and at most 0.5 warnings per device-day.
 */
export const FALSE_ALERT_BUDGET = { seriousPerDeviceDay: 0.05, warningsPerDeviceDay: 0.5 } as const;

export function withinBudget(result: BenignRunResult): boolean {
  return result.perDeviceDay.critical + result.perDeviceDay.high <= FALSE_ALERT_BUDGET.seriousPerDeviceDay
    && result.perDeviceDay.warning <= FALSE_ALERT_BUDGET.warningsPerDeviceDay;
}

function rate(value: number): string {
  return value.toFixed(3);
}

function typesOf(result: BenignRunResult): string {
  const entries = Object.entries(result.byType).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? 'none' : entries.map(([type, count]) => `${type} ×${count}`).join('; ');
}

const HEADER = ['site', 'devices', 'days (learning)', 'device-days judged', 'critical+high', 'per device-day', 'warnings', 'per device-day', 'alert types', 'budget'];

function cells(result: BenignRunResult): string[] {
  return [
    result.site,
    String(result.devices),
    `${result.days} (${result.learningHours} h)`,
    String(result.judgedDeviceDays),
    String(result.bySeverity.critical + result.bySeverity.high),
    rate(result.perDeviceDay.critical + result.perDeviceDay.high),
    String(result.bySeverity.warning),
    rate(result.perDeviceDay.warning),
    typesOf(result),
    withinBudget(result) ? 'within' : 'OVER',
  ];
}

export function benignMarkdown(results: readonly BenignRunResult[]): string {
  const lines = [`| ${HEADER.join(' | ')} |`, `|${HEADER.map(() => '---').join('|')}|`];
  for (const result of results) lines.push(`| ${cells(result).map((cell) => cell.replaceAll('|', '\\|')).join(' | ')} |`);
  return lines.join('\n');
}

export function benignText(results: readonly BenignRunResult[]): string {
  return results.map((result) => {
    const [site, devices, , judged, serious, seriousRate, warnings, warningRate, types, budget] = cells(result);
    return `${site}: ${devices} devices, ${result.days} days (the first ${result.learningHours} h learning), ${judged} device-days judged, ${(result.wallMs / 1000).toFixed(0)} s\n`
      + `  critical+high ${serious} (${seriousRate}/device-day), warnings ${warnings} (${warningRate}/device-day): ${types} — ${budget} budget\n`
      + result.events.map((event) => `  ${event}\n`).join('');
  }).join('');
}
