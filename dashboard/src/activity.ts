/**
 * The session's idle timeout counts requests (agent/src/server/sessions.ts); the live feed
 * is not one, so that a screen nobody touches is signed out. This tells the agent when
 * someone does touch the page: a pointer, a key, a scroll, at most once a minute, as a
 * GET /api/session. Its answer also says when the session has already ended.
 */
import { fetchSession } from './api.ts';

const PING_EVERY_MS = 60_000;
const EVENTS = ['pointerdown', 'keydown', 'wheel', 'touchstart'] as const;

export class ActivityReporter {
  private lastPingAt = 0;
  private stopped = true;

  /** `onSignedOut`: the agent says there is no session any more. */
  constructor(private readonly onSignedOut: () => void) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.lastPingAt = Date.now();
    for (const name of EVENTS) window.addEventListener(name, this.touched, { passive: true, capture: true });
  }

  stop(): void {
    this.stopped = true;
    for (const name of EVENTS) window.removeEventListener(name, this.touched, { capture: true });
  }

  private readonly touched = (): void => {
    if (this.stopped || Date.now() - this.lastPingAt < PING_EVERY_MS) return;
    this.lastPingAt = Date.now();
    void fetchSession().then((reply) => {
      if (!this.stopped && reply.kind === 'ok' && reply.value.user === null) this.onSignedOut();
    });
  };
}
