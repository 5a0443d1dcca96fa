import { describe, expect, it } from 'vitest';
import { loadSiteConfig } from '../../agent/src/config/load-site-config.ts';
import { FALSE_ALERT_BUDGET, withinBudget } from '../../agent/src/evaluation/benign-report.ts';
import { runBenignWard } from '../../agent/src/evaluation/benign-run.ts';

async function site(file: string) {
  const loaded = await loadSiteConfig(file);
  if (!loaded.ok) throw new Error(`${file}: ${JSON.stringify(loaded.issues)}`);
  return loaded.config;
}

/**
 * The false-alarm budget of issue 5 on the long benign run: 7 simulated days, learning on
 * day 1, of the demo ward and of the 54-device ward, through the agent's real pipeline
 * (`wardwatch eval --benign-days 7` reports the same). Nothing here is an attack, so every
 * alert after learning counts as false.
 */
describe('a benign week', () => {
  it.each([
    ['config/demo.yaml', 8],
    ['config/large-ward.yaml', 54],
  ])('%s: within the false-alert budget, and the week was varied', async (file, devices) => {
    const result = await runBenignWard({ config: await site(file), seed: 1, days: 7 });
    expect(result.devices).toBe(devices);
    expect(result.judgedDeviceDays).toBe(devices * 6);
    const serious = result.perDeviceDay.critical + result.perDeviceDay.high;
    expect(serious, result.alerts.filter((alert) => alert.severity !== 'warning').map((alert) => alert.title).join('\n')).toBeLessThanOrEqual(FALSE_ALERT_BUDGET.seriousPerDeviceDay);
    expect(result.perDeviceDay.warning).toBeLessThanOrEqual(FALSE_ALERT_BUDGET.warningsPerDeviceDay);
    expect(withinBudget(result)).toBe(true);
    // The week must have exercised the baseline: library pushes on day 1 and day 5 (a swap where there is a spare), every device busy.
    expect(result.events.filter((event) => event.includes('pushed drug library'))).toHaveLength(2);
    if (devices > 8) expect(result.events.some((event) => event.includes('swapped for the spare'))).toBe(true);
    expect(result.commands).toBeGreaterThan(devices * 7 * 5);
    expect(result.publishes).toBeGreaterThan(devices * 7 * 17_000);
  }, 600_000);
});
