/**
 * The device page's pure parts (dashboard/src/history-format.ts): which series share a
 * chart, the rows uPlot gets (a silent device is a gap, not a line), the value range that
 * keeps limits and envelope in view, and the legend's words.
 */
import { describe, expect, it } from 'vitest';
import type { CommandMarkerView, HistorySeriesView } from '../../agent/src/server/dashboard-protocol.ts';
import { alignHistory, chartGroups, envelopeLegend, limitsLegend, markerDetails, valueRange } from '../../dashboard/src/history-format.ts';

const MINUTE = 60_000;
const T0 = Date.UTC(2025, 2, 1, 10, 0, 0);

function series(overrides: Partial<HistorySeriesView>): HistorySeriesView {
  return { key: 'rate_ml_h', family: 'rate', label: 'Programmed rate', unit: 'mL/h', source: 'telemetry', t: [], last: [], min: [], max: [], limits: null, envelope: null, ...overrides };
}

describe('device page charts', () => {
  it('gives each drug\'s dose a chart of its own and puts a programmer\'s rates on one chart', () => {
    const groups = chartGroups([
      series({ key: 'dose:ICU/heparin', family: 'dose', label: 'heparin dose (ICU)', unit: 'units/kg/h' }),
      series({ key: 'dose:ICU/insulin', family: 'dose', label: 'insulin dose (ICU)', unit: 'units/kg/h' }),
      series({ key: 'lower_rate_ppm', family: 'pacing-rate', label: 'Lower rate', unit: 'ppm', source: 'command' }),
      series({ key: 'upper_rate_ppm', family: 'pacing-rate', label: 'Upper tracking rate', unit: 'ppm', source: 'command' }),
    ]);
    expect(groups.map((group) => [group.id, group.title, group.series.length])).toEqual([
      ['dose:ICU/heparin', 'Heparin dose (ICU)', 1],
      ['dose:ICU/insulin', 'Insulin dose (ICU)', 1],
      ['pacing-rate', 'Pacing rates (programmed)', 2],
    ]);
  });

  it('aligns series on the union of their minutes, undefined where one has no point, and a null row in a silence longer than two minutes', () => {
    const a = series({ key: 'a', t: [T0, T0 + MINUTE, T0 + 10 * MINUTE], last: [1, 2, 3], min: [1, 2, 3], max: [1, 5, 3] });
    const b = series({ key: 'b', t: [T0 + MINUTE], last: [7], min: [7], max: [7] });
    const aligned = alignHistory([a, b], MINUTE);
    expect(aligned.x).toEqual([T0, T0 + MINUTE, T0 + 2 * MINUTE, T0 + 10 * MINUTE]);
    expect(aligned.columns[0]).toEqual([1, 2, null, 3]);
    expect(aligned.columns[2]).toEqual([1, 5, null, 3]);
    expect(aligned.columns[3]).toEqual([undefined, 7, null, undefined]);
  });

  it('keeps the limits, the envelope and a commanded value in the value range, from zero for a dose', () => {
    const dose = series({ key: 'dose:ICU/heparin', family: 'dose', t: [T0], last: [18], min: [18], max: [18], limits: { kind: 'drug-library', source: 'x', unit: 'units/kg/h', hardMin: null, hardMax: 40, softMin: 5, softMax: 25 } });
    const marker: CommandMarkerView = { ts: T0, command: 'set_rate', sender: 'station-4w', transport: 'mqtt', params: { rate_ml_h: 320 }, values: { 'dose:ICU/heparin': 400 } };
    const [group] = chartGroups([dose]);
    if (group === undefined) throw new Error('no chart');
    const [low, high] = valueRange(group, []);
    expect(low).toBe(0);
    expect(high).toBeCloseTo(40 * 1.08, 5);
    expect(valueRange(group, [marker])[1]).toBeCloseTo(400 * 1.08, 5);
  });

  it('says each limit, the envelope and how they are drawn in words', () => {
    expect(limitsLegend({ kind: 'drug-library', source: 'ICU drug library: heparin', unit: 'units/kg/h', hardMin: null, hardMax: 40, softMin: 5, softMax: 25 }, null)).toEqual([
      'Hard limit: max 40 units/kg/h, solid red line — ICU drug library: heparin',
      'Soft limits: 5–25 units/kg/h, dashed amber lines',
    ]);
    expect(limitsLegend({ kind: 'device', source: 'programmable range of the pacemaker programmer', unit: 'ppm', hardMin: 30, hardMax: 175, softMin: null, softMax: null }, 'Lower rate')).toEqual([
      'Programmable range (Lower rate): 30–175 ppm, solid red lines — programmable range of the pacemaker programmer',
    ]);
    expect(envelopeLegend(null, null)).toBe('Learned envelope: still learning, not drawn');
    expect(envelopeLegend({ level: 'group', key: 'ICU/heparin/rate', low: 12, high: 17.6, unit: 'mL/h', samples: 1200, stable: true, pinned: false, judged: false }, null))
      .toBe('Learned envelope: 12–17.6 mL/h, shaded band — the ward\'s devices of this kind, 1,200 samples, stable; not judged yet');
  });

  it('writes a command\'s parameters with their units and the dose a rate means', () => {
    const marker: CommandMarkerView = { ts: T0, command: 'program', sender: 'ep-clinic', transport: 'mqtt', params: { mode: 'VOO', lower_rate_ppm: 90, tachy_therapy: false }, values: { lower_rate_ppm: 90 } };
    expect(markerDetails(marker, () => undefined)).toBe('mode VOO, lower rate 90 ppm, tachy therapy OFF');
    const rate: CommandMarkerView = { ts: T0, command: 'set_rate', sender: 'station-4w', transport: 'mqtt', params: { rate_ml_h: 24 }, values: { rate_ml_h: 24, 'dose:ICU/heparin': 30 } };
    expect(markerDetails(rate, (key) => (key === 'dose:ICU/heparin' ? 'units/kg/h' : undefined))).toBe('rate 24 mL/h (= 30 units/kg/h)');
  });
});
