import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/src/app.ts';
import { DashboardClient, startTestAgent, temporaryDataDir } from '../helpers/agent-fixture.ts';
import { missingPeer } from '../helpers/peers.ts';
import { Rsyslog } from '../helpers/rsyslog.ts';
import { waitFor } from '../helpers/wait-for.ts';

const noRsyslog = missingPeer('rsyslogd', 'rsyslog');

/** The fields of every alerts.jsonl line (docs/operations.md, "alerts.jsonl for Filebeat or Fluent Bit"), with their JSON types. */
const STABLE_FIELDS: Readonly<Record<string, readonly string[]>> = {
  event: ['string'],
  id: ['string'],
  type: ['string'],
  severity: ['string'],
  ts: ['string'],
  lastTs: ['string'],
  count: ['number'],
  deviceId: ['string', 'null'],
  ward: ['string', 'null'],
  bed: ['string', 'null'],
  location: ['string', 'null'],
  title: ['string'],
  evidence: ['object'],
  state: ['string'],
  ack: ['object', 'null'],
};

const jsonType = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);

describe('alerts.jsonl for log shippers', () => {
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

  it.skipIf(noRsyslog !== null)('is one JSON object per line with stable fields, a line break in a title stays inside its line, and rsyslog imfile + mmjsonparse ships every line', async () => {
    const dataDir = join(data.dir, 'agent');
    agent = await startTestAgent(dataDir);
    const running = agent;
    const title = 'Bed 3 · pump-03: two\nlines, "quoted", tab\tand é';
    running.alerts.raise({ type: 'issuer-mismatch', ts: Date.now(), device: null, dedupKey: 'one', title, evidence: { account: 'station-4w', nested: { list: [1, 2] } } });
    running.alerts.raise({ type: 'retained-command', ts: Date.now(), device: null, dedupKey: 'two', title: 'second', evidence: {} });
    const first = running.alerts.list().find((alert) => alert.title === title);
    const nurse = await DashboardClient.logIn(running, dataDir, 'nurse');
    expect((await nurse.post(`/api/alerts/${first?.id ?? ''}/ack`, { reason: 'seen' })).status).toBe(200);

    const text = await waitFor(() => {
      const content = readFileSync(running.alertLogFile, 'utf8');
      return content.split('\n').length - 1 >= 3 ? content : null;
    }, 3_000, 'three lines in alerts.jsonl');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.slice(0, -1).split('\n');
    expect(lines).toHaveLength(3);
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const record of records) {
      expect(jsonType(record)).toBe('object');
      expect(Object.keys(record).sort()).toEqual(Object.keys(STABLE_FIELDS).sort());
      for (const [field, types] of Object.entries(STABLE_FIELDS)) expect(types, `${field}: ${JSON.stringify(record[field])}`).toContain(jsonType(record[field]));
      expect(Number.isNaN(Date.parse(String(record.ts)))).toBe(false);
    }
    expect(records.map((record) => [record.event, record.type])).toEqual([['alert', 'issuer-mismatch'], ['alert', 'retained-command'], ['alert-acknowledged', 'issuer-mismatch']]);
    expect(records[0]?.title).toBe(title);
    expect(records[2]).toMatchObject({ id: first?.id, state: 'acknowledged', ack: { by: nurse.user.username, from: '127.0.0.1' } });

    // A real shipper reads the same file: every line parses as JSON there too.
    const shipper = await Rsyslog.startFileShipper(data.dir, running.alertLogFile, ['event', 'id', 'type', 'severity', 'ts', 'title']);
    try {
      const shipped = await waitFor(() => (shipper.lines().length >= 3 ? shipper.lines() : null), 10_000, `rsyslogd to ship three lines (its log: ${shipper.log})`);
      expect(existsSync(Rsyslog.failedFileIn(data.dir))).toBe(false);
      expect(shipped.map((line) => ({ event: line.event, id: line.id, type: line.type, severity: line.severity, ts: line.ts, title: line.title }))).toEqual(records.map((record) => ({ event: record.event, id: record.id, type: record.type, severity: record.severity, ts: record.ts, title: record.title })));
    } finally {
      await shipper.stop();
    }
  });
});
