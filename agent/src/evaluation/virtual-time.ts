import type { VirtualClock } from '../../../simulators/src/clock.ts';

const yieldToPromises = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Moves a virtual clock to `targetMs` one due timer at a time, letting promise
 * continuations run between timers. Scenario actors `await` their logins and their
 * waits; advancing in one go would run later timers before those continuations and
 * stretch every repeated action to the next timer.
 */
export async function advanceWithPromises(clock: VirtualClock, targetMs: number): Promise<void> {
  await yieldToPromises();
  for (let next = clock.nextDueAt(); next !== null && next <= targetMs; next = clock.nextDueAt()) {
    clock.advanceTo(Math.max(next, clock.now()));
    await yieldToPromises();
  }
  clock.advanceTo(Math.max(targetMs, clock.now()));
  await yieldToPromises();
}
