/**
 * A learned baseline saved in a data directory as a previous run of the agent leaves it
 * (agent/src/store/baseline-keeper.ts reads it at start): two days of pump-01's heparin
 * doses, 15–22 units/kg/h, and the ICU pumps' heparin rates, 12–17.6 mL/h from two pumps.
 * The agent restores it and judges by it at once, so tests see a learned envelope without
 * a day of traffic.
 */
import { join } from 'node:path';
import { BaselineModel } from '../../agent/src/detect/baseline/baseline-model.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import { BASELINE_FILE, writeBaselineFile } from '../../agent/src/store/baseline-file.ts';

const HOUR = 3_600_000;
export const LEARNED_SAMPLES = 30;

export async function saveLearnedBaseline(dataDir: string, config: SiteConfig, now = Date.now()): Promise<void> {
  const model = new BaselineModel(config.baseline);
  const start = now - 48 * HOUR;
  const device = model.device('pump-01', 'infusion-pump', start);
  const group = model.group('infusion-pump', start);
  for (let index = 0; index < LEARNED_SAMPLES; index += 1) {
    const ts = start + index * HOUR;
    device.values.learn('heparin/dose', 15 + (index % 8), 'units/kg/h', ts);
    group.values.learn('ICU/heparin/rate', 12 + (index % 8) * 0.8, 'mL/h', ts, index % 2 === 0 ? 'pump-01' : 'pump-02');
  }
  device.commands = LEARNED_SAMPLES;
  group.commands = LEARNED_SAMPLES;
  model.events = 2 * LEARNED_SAMPLES;
  model.learnedUntil = start + (LEARNED_SAMPLES - 1) * HOUR;
  await writeBaselineFile(join(dataDir, BASELINE_FILE), model.toJSON());
}
