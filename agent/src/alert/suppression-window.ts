/**
 * An alert's suppression window (Zeek notice framework: `identifier`, `suppress_for`), as
 * the embedded store keeps it beside the alert so that the alert manager can rebuild its
 * table after a restart (an upgrade, a power cut at the Pi, systemd restarting the agent).
 *
 * Never part of AlertView: the key is built from dedup identifiers, which name accounts
 * and addresses that the dashboards, exports, alerts.jsonl, syslog and the uplink do not
 * need. Only the store reads it.
 */
export interface SuppressionWindow {
  /** `type|dedupKey`: which findings fold into the alert. */
  readonly key: string;
  /** Event time, epoch ms, until which they do. */
  readonly until: number;
}

/** A window reloaded from the store, with the alert it belongs to. */
export interface StoredSuppression extends SuppressionWindow {
  readonly alertId: string;
}

/** What `restorableWindows` kept, and what it left out (logged at start). */
export interface RestoredWindows {
  /** Oldest `until` first: the order the manager's table evicts in. */
  readonly windows: StoredSuppression[];
  /** Their alert not reloaded, or no longer open: an acknowledged alert never absorbs repeats. */
  readonly notOpen: number;
  /** Ended before the start. */
  readonly expired: number;
  /** Left out because more were left than `cap` (the oldest go). */
  readonly overCap: number;
}

/**
 * Which stored windows to rebuild at start, and until when.
 *
 * Suppression is judged in event time (alert/finding.ts), but at start no event has been
 * seen yet: the wall clock at start stands for "now". Live ingest stamps events with that
 * same clock (ingest/mqtt-broker.ts), and a restart is a live matter, so:
 * - a window that ended before the start is not rebuilt: no live event can fall into it,
 *   and a capture with past event times replayed after the restart (`--capture`) then
 *   raises its own alerts rather than folding into one from an earlier session;
 * - a window is cut to at most one window past the start (`until ≤ now + windowMs`). A live
 *   alert's window already ends by then (it began at or before the start), so nothing
 *   changes for it; one raised by a capture with future event times can then hold no more
 *   than a window's worth of event time ahead of the start.
 * Once rebuilt, a window is judged exactly as before the restart: a finding folds when its
 * event time lies between the alert's first occurrence (its `ts`) and `until` (the alert
 * manager bounds it below too, so a replayed past event, or a live one stamped before an
 * alert a capture raised with future times, raises its own alert). If several open alerts
 * share a key, the newest window wins. At most `cap` windows, newest `until` kept.
 */
export function restorableWindows(
  stored: readonly StoredSuppression[],
  isOpen: (alertId: string) => boolean,
  now: number,
  windowMs: number,
  cap: number,
): RestoredWindows {
  let notOpen = 0;
  let expired = 0;
  const newestByKey = new Map<string, StoredSuppression>();
  for (const window of stored) {
    if (!isOpen(window.alertId)) {
      notOpen += 1;
      continue;
    }
    if (window.until <= now) {
      expired += 1;
      continue;
    }
    const cut: StoredSuppression = window.until > now + windowMs ? { ...window, until: now + windowMs } : window;
    const known = newestByKey.get(cut.key);
    if (known === undefined || known.until < cut.until) newestByKey.set(cut.key, cut);
  }
  // Several alerts of one key: the older are simply superseded, as in the manager's table, not counted as left out.
  const windows = [...newestByKey.values()].sort((a, b) => a.until - b.until);
  const overCap = Math.max(0, windows.length - cap);
  return { windows: windows.slice(overCap), notOpen, expired, overCap };
}
