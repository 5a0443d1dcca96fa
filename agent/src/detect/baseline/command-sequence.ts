import type { DeviceBaseline } from './baseline-model.ts';

/**
 * After this long without a command, the next one starts a new sequence (`-`): a pump
 * idle overnight is not "still" in its last step. A day covers the longest quiet spell of
 * a running infusion (titrations every 1–4 h) with room to spare.
 */
const SEQUENCE_GAP_MS = 12 * 3_600_000;

/** The command before the one at `ts`, or `-` when there was none recently. */
export function previousCommand(device: DeviceBaseline, ts: number): string {
  const last = device.lastCommand;
  if (last === null || ts - last.ts > SEQUENCE_GAP_MS || ts < last.ts) return '-';
  return last.name;
}
