/**
 * The parts of "Accept as normal for this ward" that need no agent: which alerts carry an
 * acceptance (agent and dashboard read the same evidence), the sentence the confirmation
 * shows per baseline table, the route's permission, the record of earlier acceptances read
 * from the audit log (command line ones too), the acceptor refusing when the audit log
 * cannot be written, and the baseline keeper running saves one after another.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BaselineAcceptor } from '../../agent/src/alert/accept-into-baseline.ts';
import { AcceptedAlerts, MAX_REMEMBERED_ACCEPTANCES } from '../../agent/src/audit/accepted-alerts.ts';
import { AUDIT_FILE, AuditLog } from '../../agent/src/audit/audit-log.ts';
import { USER_ROLES } from '../../agent/src/auth/roles.ts';
import { acceptanceOf } from '../../agent/src/detect/baseline/baseline-accept.ts';
import { BaselineModel } from '../../agent/src/detect/baseline/baseline-model.ts';
import type { BaselineAcceptanceView } from '../../agent/src/server/dashboard-protocol.ts';
import { accessFor, roleMay } from '../../agent/src/server/access.ts';
import { readBaselineFile } from '../../agent/src/store/baseline-file.ts';
import { BaselineKeeper } from '../../agent/src/store/baseline-keeper.ts';
import { acceptanceOfAlert, acceptanceSentence } from '../../dashboard/src/baseline-accept-text.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { sampleAlert } from '../helpers/sample-alert.ts';

const quiet = pino({ level: 'silent' });
const COMMANDER_ACCEPT = { device: 'pump-01', table: 'commander', key: 'account:station-4w', level: 'device' } as const;

function learnedAlert(accept: unknown, type = 'baseline-new-commander'): ReturnType<typeof sampleAlert> {
  return sampleAlert({ type, severity: 'warning', evidence: { baseline: { level: 'device', accept, howToAccept: 'If this is normal, accept it' } } });
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wardwatch-accept-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('which alerts can be accepted into the baseline', () => {
  it('a learned alert with an acceptance in its evidence, read the same by the agent and the page', () => {
    const alert = learnedAlert({ ...COMMANDER_ACCEPT, extra: 'ignored' });
    expect(acceptanceOf(alert)).toEqual(COMMANDER_ACCEPT);
    expect(acceptanceOfAlert(alert)).toEqual(COMMANDER_ACCEPT);
    const value = learnedAlert({ device: 'pump-01', table: 'value', key: 'heparin/dose', value: 30, unit: 'units/kg/h', level: 'device' }, 'baseline-value-unusual');
    expect(acceptanceOf(value)).toEqual({ device: 'pump-01', table: 'value', key: 'heparin/dose', value: 30, unit: 'units/kg/h', level: 'device' });
    expect(acceptanceOfAlert(value)).toEqual(acceptanceOf(value));
  });

  it('not an alert from a rule, a learned alert without one, or evidence of another shape', () => {
    const cases = [
      sampleAlert({ evidence: { baseline: { accept: COMMANDER_ACCEPT } } }), // a rule's type, whatever its evidence says
      learnedAlert(COMMANDER_ACCEPT, 'baseline-no-such-type'),
      sampleAlert({ type: 'baseline-rate-creep', evidence: { baseline: { level: 'device' } } }),
      learnedAlert({ ...COMMANDER_ACCEPT, table: 'everything' }),
      learnedAlert({ ...COMMANDER_ACCEPT, level: 'ward' }),
      learnedAlert({ ...COMMANDER_ACCEPT, device: '' }),
      learnedAlert({ ...COMMANDER_ACCEPT, value: { nested: true } }),
      learnedAlert('commander'),
      sampleAlert({ type: 'baseline-new-commander', evidence: { baseline: 'accept' } }),
    ];
    for (const alert of cases) {
      expect(acceptanceOf(alert), JSON.stringify(alert.evidence)).toBeNull();
      // The page offers nothing for these either (it does not know the catalogue: an unknown baseline-* type it would offer, and the agent refuses).
      if (alert.type !== 'baseline-no-such-type') expect(acceptanceOfAlert(alert), JSON.stringify(alert.evidence)).toBeNull();
    }
  });

  it('only biomed and admin may call the route', () => {
    const access = accessFor('POST', '/api/alerts/0b9f4d2e-1c1a-4c55-9d0e-2f7b1f7c9a10/accept-baseline');
    if (access.kind !== 'protected') throw new Error('expected a protected route');
    expect(USER_ROLES.filter((role) => roleMay(role, access.route))).toEqual(['biomed', 'admin']);
    expect(accessFor('GET', '/api/alerts/0b9f4d2e-1c1a-4c55-9d0e-2f7b1f7c9a10/accept-baseline').kind).toBe('unknown');
  });
});

describe('what the confirmation says will be learned', () => {
  it.each<[BaselineAcceptanceView, string]>([
    [COMMANDER_ACCEPT, 'account station-4w becomes a known commander of pump-01.'],
    [{ device: 'pump-04', table: 'commander', key: 'address:10.4.0.10', level: 'group' }, 'Modbus master 10.4.0.10 becomes a known commander of every device of pump-04\'s kind on this ward.'],
    [{ device: 'pump-01', table: 'value', key: 'heparin/dose', value: 30, unit: 'units/kg/h', level: 'device' }, 'The learned range of heparin/dose for pump-01 is widened to include 30 units/kg/h.'],
    [{ device: 'pump-02', table: 'value', key: 'ICU/heparin/rate', value: 24.5, unit: 'mL/h', level: 'group' }, 'The learned range of ICU/heparin/rate for every device of pump-02\'s kind on this ward is widened to include 24.5 mL/h.'],
    [{ device: 'pm-01', table: 'value', key: 'mode', value: 'DDD', unit: '', level: 'device' }, 'mode = DDD becomes a known value for pm-01.'],
    [{ device: 'pump-01', table: 'origin', key: 'account:station-4w@10.4.0.99', level: 'group' }, 'Commands from account station-4w at address 10.4.0.99 become normal for every device of pump-01\'s kind on this ward.'],
    [{ device: 'pump-03', table: 'pusher', key: 'load_drug_library@account:pharmacy-backup', level: 'group' }, 'load_drug_library from account pharmacy-backup becomes a known push for every device of pump-03\'s kind on this ward.'],
    [{ device: 'pump-01', table: 'hour', key: 'h03', level: 'group' }, 'Commands at 03:00–03:59 (the site\'s time zone) become normal for pump-01 and for every device of its kind on this ward.'],
    [{ device: 'pump-01', table: 'transition', key: 'stop>bolus', level: 'group' }, 'bolus right after stop becomes a known sequence for pump-01 and every device of its kind on this ward.'],
    [{ device: 'pump-01', table: 'transition', key: '->program_infusion', level: 'group' }, 'program_infusion as the first command in 12 hours becomes a known sequence for pump-01 and every device of its kind on this ward.'],
    [{ device: 'pump-01', table: 'cadence', key: 'telemetry', value: 2.5, unit: 's', level: 'device' }, 'pump-01\'s telemetry about every 2.5 s becomes its learned rate.'],
    [{ device: 'pump-01', table: 'version', key: 'library=4W-2027', level: 'device' }, 'Version library=4W-2027 becomes known for pump-01.'],
  ])('%j', (acceptance, sentence) => {
    expect(acceptanceSentence(acceptance)).toBe(sentence);
  });
});

describe('earlier acceptances, from the audit log', () => {
  it('finds the command line\'s and the dashboard\'s, skips damaged lines, adds its own', async () => {
    const log = AuditLog.forDataDir(dir);
    log.append({ actor: 'cli:biomed', from: 'local', action: 'baseline-accepted', details: { alertId: 'a-1', table: 'commander' }, at: Date.UTC(2026, 0, 5) });
    log.append({ actor: 'rn-a', from: '10.4.0.21', action: 'alert-acknowledged', details: { alertId: 'a-2' } });
    log.append({ actor: 'be-b', from: '10.4.0.30', action: 'baseline-accepted', details: { alertId: 'a-3' }, at: Date.UTC(2026, 0, 6) });
    const accepted = new AcceptedAlerts(join(dir, AUDIT_FILE));
    await accepted.ready();
    expect(accepted.get('a-1')).toEqual({ by: 'cli:biomed', at: '2026-01-05T00:00:00.000Z' });
    expect(accepted.get('a-2')).toBeUndefined();
    expect(accepted.get('a-3')?.by).toBe('be-b');
    accepted.remember('a-4', { by: 'admin-c', at: '2026-01-07T00:00:00.000Z' });
    expect(accepted.get('a-4')?.by).toBe('admin-c');
  });

  it(`keeps at most ${MAX_REMEMBERED_ACCEPTANCES}, forgetting the oldest and counting it`, async () => {
    const accepted = new AcceptedAlerts(join(dir, AUDIT_FILE));
    await accepted.ready();
    for (let index = 0; index <= MAX_REMEMBERED_ACCEPTANCES; index += 1) accepted.remember(`a-${index}`, { by: 'x', at: 't' });
    expect(accepted.get('a-0')).toBeUndefined();
    expect(accepted.get(`a-${MAX_REMEMBERED_ACCEPTANCES}`)).toBeDefined();
    expect(accepted.forgotten).toBe(1);
  });
});

describe('the acceptor', () => {
  it('accepts nothing when the audit log cannot be written', async () => {
    const config = loadDemoConfig();
    const model = new BaselineModel(config.baseline);
    const alert = learnedAlert(COMMANDER_ACCEPT);
    // The audit log's directory does not exist: its lock file cannot be made.
    const acceptor = new BaselineAcceptor({
      model,
      inventory: new Map([['pump-01', 'infusion-pump']]),
      findAlert: (id) => (id === alert.id ? alert : null),
      acknowledge: () => {
        throw new Error('must not acknowledge');
      },
      save: () => Promise.reject(new Error('must not save')),
      auditLog: AuditLog.forDataDir(join(dir, 'missing')),
      logger: quiet,
    });
    const outcome = await acceptor.accept({ alertId: alert.id, by: 'be-a', reason: 'new station', from: '10.4.0.30' });
    expect(outcome).toMatchObject({ ok: false, error: 'not-audited' });
    expect(model.devices.get('pump-01')?.commanders.has('account:station-4w') ?? false).toBe(false);
  });
});

describe('the baseline keeper', () => {
  it('runs saves asked for at once one after another, each written whole', async () => {
    const config = loadDemoConfig();
    const model = new BaselineModel(config.baseline);
    model.device('pump-01', 'infusion-pump', 1_000).commanders.see('account:station-4w', 1_000, 5);
    const keeper = new BaselineKeeper(dir, 3_600_000, quiet);
    keeper.start(model);
    const results = await Promise.all(Array.from({ length: 8 }, () => keeper.save()));
    await keeper.stop();
    expect(results).toEqual(Array.from({ length: 8 }, () => true));
    const saved = await readBaselineFile(keeper.path);
    expect(saved.ok && saved.baseline.devices['pump-01']?.commanders['account:station-4w']?.count).toBe(5);
    expect(readFileSync(keeper.path, 'utf8').endsWith('}\n')).toBe(true);
  });

  it('answers false before it has a model, so the caller can say the file is not written yet', async () => {
    expect(await new BaselineKeeper(dir, 3_600_000, quiet).save()).toBe(false);
  });
});
