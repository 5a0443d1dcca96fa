/**
 * The suppression window survives a restart of the agent (alert/suppression-window.ts):
 * a real agent, a real MQTT client, the agent stopped and a new one started on the same
 * data directory, as systemd does after an upgrade or a crash. The same offending command
 * after the restart is the same alert, counted twice, not a second alert with its chime.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connectAsync } from 'mqtt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/src/app.ts';
import type { AlertView } from '../../agent/src/server/dashboard-protocol.ts';
import { DashboardFeed, loggedInClient, readAlertLog, startTestAgent, temporaryDataDir } from '../helpers/agent-fixture.ts';
import { waitFor } from '../helpers/wait-for.ts';

/** What the authorization detector folds the guest's `stop` to pump-02 under (its dedup identifier). */
const SUPPRESSION_KEY = 'unauthorized-command|pump-02|guest|stop';

/** `guest` may not command pumps (config/demo.yaml policy): a fresh command id each time, so it is the same offence, not a replay. */
async function guestStopsPump02(agent: RunningAgent): Promise<void> {
  const guest = await connectAsync(`mqtt://127.0.0.1:${agent.mqttPort}`, { username: 'guest', password: 'demo', protocolVersion: 4, reconnectPeriod: 0 });
  try {
    const message = { id: `restart-${Math.random().toString(36).slice(2)}`, ts: new Date().toISOString(), issuer: 'guest', user: 'rn-it', command: 'stop', params: {} };
    await guest.publishAsync('ward/pump-02/command', JSON.stringify(message), { qos: 1 });
  } finally {
    await guest.endAsync(true);
  }
}

function storedRows(dataDir: string): { body: string; dedup_key: string | null; suppressed_until: number | null }[] {
  const db = new Database(join(dataDir, 'wardwatch.db'), { readonly: true });
  try {
    return db.prepare("SELECT body, dedup_key, suppressed_until FROM alerts WHERE type = 'unauthorized-command'").all() as { body: string; dedup_key: string | null; suppressed_until: number | null }[];
  } finally {
    db.close();
  }
}

describe('an open alert\'s suppression window across a restart of the agent', () => {
  let data: ReturnType<typeof temporaryDataDir>;
  let agent: RunningAgent | null = null;

  beforeEach(() => {
    data = temporaryDataDir();
  });

  afterEach(async () => {
    await agent?.stop();
    agent = null;
    data.remove();
  });

  it('the same offending MQTT command after a restart folds into the alert raised before it: one alert, count 2, in the API, on the screen and in the store', async () => {
    const before = await startTestAgent(data.dir);
    agent = before;
    await guestStopsPump02(before);
    const first = await waitFor(() => before.alerts.list().find((alert) => alert.type === 'unauthorized-command'), 2_000, 'the first alert');
    expect(first.count).toBe(1);
    await before.stop();

    const after = await startTestAgent(data.dir);
    agent = after;
    const feed = await DashboardFeed.connect(after, { dataDir: data.dir });
    try {
      await waitFor(() => feed.messages.find((message) => message.type === 'snapshot'), 2_000, 'snapshot');
      await guestStopsPump02(after);
      // Folded repeats reach the screen and the store within REPEAT_FLUSH_MS (1 s).
      const pushed = await waitFor(() => feed.alerts().find((alert) => alert.type === 'unauthorized-command'), 3_000, 'the repeat on the WebSocket');
      expect(pushed.id).toBe(first.id);
      expect(pushed.count).toBe(2);
      expect(Date.parse(pushed.lastTs)).toBeGreaterThan(Date.parse(first.ts));

      const nurse = await loggedInClient(after, data.dir);
      const listed = (await nurse.json<AlertView[]>('/api/alerts')).filter((alert) => alert.type === 'unauthorized-command');
      expect(listed.map((alert) => [alert.id, alert.count, alert.state])).toEqual([[first.id, 2, 'open']]);
      const stored = await waitFor(() => {
        const rows = storedRows(data.dir);
        return rows.length === 1 && (JSON.parse(rows[0]?.body ?? '{}') as AlertView).count === 2 ? rows : null;
      }, 3_000, 'the repeat in wardwatch.db');
      expect(stored[0]?.dedup_key).toBe(SUPPRESSION_KEY);
      expect(stored[0]?.suppressed_until).toBe(Date.parse(first.ts) + 300_000);
      // One `alert` line in alerts.jsonl across both runs: the repeat was not raised again.
      expect(readAlertLog(after.alertLogFile).filter((line) => line.type === 'unauthorized-command').map((line) => [line.event, line.id])).toEqual([['alert', first.id]]);

      // The key stays beside the row: not in the API, the exports, alerts.jsonl, the WebSocket or the stored view.
      const outward = [
        JSON.stringify(listed),
        (await nurse.get('/api/alerts/export?format=json')).body,
        (await nurse.get('/api/alerts/export?format=csv')).body,
        readFileSync(after.alertLogFile, 'utf8'),
        JSON.stringify(feed.messages),
        stored[0]?.body ?? '',
      ];
      for (const text of outward) {
        expect(text).toContain(first.id);
        expect(text).not.toContain('pump-02|guest');
      }
    } finally {
      feed.close();
    }
  });
});
