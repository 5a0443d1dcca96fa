import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareVersions, HubAlertBook } from '../../agent/src/hub/hub-alerts.ts';
import type { AlertView, Severity } from '../../agent/src/server/dashboard-protocol.ts';
import { AlertStore } from '../../agent/src/store/alert-store.ts';
import { sampleAlert as alert } from '../helpers/sample-alert.ts';


const acknowledged = (base: AlertView): AlertView => ({ ...base, state: 'acknowledged', ack: { by: 'rn', at: '2026-03-01T10:05:00.000Z', reason: 'Investigating', from: '10.4.0.10' } });

describe('the hub\'s alerts of every ward', () => {
  it('orders versions of one alert as the agent makes them: more occurrences, a later one, or acknowledged is newer', () => {
    const open = alert();
    expect(compareVersions(open, open)).toBe('same');
    expect(compareVersions({ ...open, count: 2, lastTs: '2026-03-01T10:01:00.000Z' }, open)).toBe('newer');
    expect(compareVersions(acknowledged(open), open)).toBe('newer');
    expect(compareVersions(open, acknowledged(open))).toBe('older');
    expect(compareVersions(open, { ...open, count: 3 })).toBe('older');
  });

  it('a redelivered message is held once; an update replaces the version held; an older one is ignored', () => {
    const book = new HubAlertBook(100, null);
    const first = alert();
    expect(book.accept('4W', first)).toBe('new');
    expect(book.accept('4W', first)).toBe('duplicate');
    expect(book.accept('4W', acknowledged(first))).toBe('updated');
    expect(book.accept('4W', first)).toBe('stale');
    expect(book.list(10)).toEqual([{ ...acknowledged(first), origin: '4W' }]);
    expect(book.stats()).toEqual({ received: 4, new: 1, updated: 1, duplicate: 1, stale: 1, conflict: 0, evicted: 0 });
  });

  it('an id another ward already has is refused: a ward cannot overwrite another\'s alert', () => {
    const book = new HubAlertBook(100, null);
    const original = alert();
    book.accept('4W', original);
    expect(book.accept('5E', acknowledged(original))).toBe('conflict');
    expect(book.get(original.id)).toEqual({ ...original, origin: '4W' });
  });

  it('counts open alerts per ward and severity', () => {
    const book = new HubAlertBook(100, null);
    const severities: [string, Severity][] = [['4W', 'critical'], ['4W', 'warning'], ['5E', 'high'], ['5E', 'high']];
    for (const [ward, severity] of severities) book.accept(ward, alert({ severity }));
    book.accept('5E', acknowledged(alert({ severity: 'critical' })));
    expect(Object.fromEntries(book.openByWard())).toEqual({
      '4W': { critical: 1, high: 0, warning: 1, info: 0 },
      '5E': { critical: 0, high: 2, warning: 0, info: 0 },
    });
  });

  it('is bounded: acknowledged alerts go first, then open warnings; open critical ones stay, and stay listed past the limit', () => {
    const book = new HubAlertBook(3, null);
    const critical = alert();
    book.accept('4W', critical);
    book.accept('4W', acknowledged(alert({ severity: 'info' })));
    const warning = alert({ severity: 'warning' });
    book.accept('4W', warning);
    book.accept('4W', alert({ severity: 'high' }));
    expect(book.size).toBe(3);
    book.accept('5E', alert({ severity: 'high' }));
    expect(book.size).toBe(3);
    expect(book.get(warning.id)).toBeUndefined();
    expect(book.get(critical.id)?.origin).toBe('4W');
    expect(book.stats().evicted).toBe(2);
    expect(book.list(1).map((held) => held.severity)).toEqual(['high', 'high', 'critical']);
  });

  it('with a store: survives a restart of the hub, and recognises a redelivery of an alert let go from memory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wardwatch-hub-alerts-'));
    try {
      const store = new AlertStore(join(dir, 'hub-alerts.db'));
      const book = new HubAlertBook(100, store);
      const first = alert();
      book.accept('4W', first);
      book.accept('4W', acknowledged(first));
      store.close();
      const reopened = new AlertStore(join(dir, 'hub-alerts.db'));
      // Nothing in memory (as if evicted): the store answers for it.
      const after = new HubAlertBook(100, reopened);
      expect(after.accept('4W', acknowledged(first))).toBe('duplicate');
      expect(after.accept('4W', first)).toBe('stale');
      expect(new HubAlertBook(100, reopened, reopened.loadRecent(100)).get(first.id)).toEqual({ ...acknowledged(first), origin: '4W' });
      reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
