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
  /** The save in progress, or the last one (never rejects: write() logs and answers false). */
  private saving: Promise<boolean> = Promise.resolve(true);
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

  /**
   * Writes the model now; true once it is on disk. Saves run one after another: the timer's,
   * one asked for after an acceptance from the dashboard (alert/accept-into-baseline.ts) and
   * the one at stop would otherwise write the same temporary file at once. Each takes the
   * model as it is when its turn comes, so the last one asked for writes the latest state.
   */
  save(): Promise<boolean> {
    const turn = this.saving.then(() => this.write());
    this.saving = turn;
    return turn;
  }

  private async write(): Promise<boolean> {
    if (this.model === null) return false;
    try {
      await writeBaselineFile(this.path, this.model.toJSON());
      return true;
    } catch (error) {
      this.logger.error({ err: error, file: this.path }, 'the baseline could not be saved; trying again at the next interval');
      return false;
    }
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.save();
    this.model = null;
  }
}
