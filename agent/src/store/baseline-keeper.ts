import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { BaselineJson, BaselineModel } from '../detect/baseline/baseline-model.ts';
import type { DeviceKind } from '../model/device-profile.ts';
import { BASELINE_FILE, readBaselineFile, writeBaselineFile } from './baseline-file.ts';

/**
 * Keeps the learned baseline across restarts (issue 5): read once at start, written every
 * `baseline.saveIntervalSeconds` and at stop. A damaged file is moved aside (kept for the
 * engineer, never deleted) and learning starts again: the agent must start even then.
 * A failed save is logged and retried at the next interval; monitoring goes on.
 */
export class BaselineKeeper {
  private timer: NodeJS.Timeout | null = null;
  private model: BaselineModel | null = null;
  readonly path: string;

  constructor(dataDir: string, private readonly intervalMs: number, private readonly logger: Logger) {
    this.path = join(dataDir, BASELINE_FILE);
  }

  /** The saved baseline, or null (none yet, or damaged and moved aside). */
  async load(): Promise<BaselineJson | null> {
    const result = await readBaselineFile(this.path);
    if (result.ok) return result.baseline;
    if (result.missing) return null;
    const aside = `${this.path}.damaged-${Date.now()}`;
    await rename(this.path, aside).catch(() => undefined);
    this.logger.error({ problem: result.problem, movedTo: aside }, 'the saved baseline could not be read; it was moved aside and learning starts again');
    return null;
  }

  /** Restores `saved` into `model`, keeping only devices the inventory still has with the same profile. */
  static restore(model: BaselineModel, saved: BaselineJson, inventory: ReadonlyMap<string, DeviceKind>): void {
    model.load(saved, (deviceId, profile) => inventory.get(deviceId) === profile);
  }

  start(model: BaselineModel): void {
    this.model = model;
    this.timer = setInterval(() => void this.save(), this.intervalMs);
    this.timer.unref();
  }

  async save(): Promise<void> {
    if (this.model === null) return;
    try {
      await writeBaselineFile(this.path, this.model.toJSON());
    } catch (error) {
      this.logger.error({ err: error, file: this.path }, 'the baseline could not be saved; trying again at the next interval');
    }
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.save();
    this.model = null;
  }
}
