import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/src/app.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import { startTestAgent, temporaryDataDir } from '../helpers/agent-fixture.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { wardwatch } from '../helpers/cli.ts';


function command(issuer: string, name: string, params: Record<string, unknown>): string {
  return JSON.stringify({ id: `bl-${Math.random().toString(36).slice(2)}`, ts: new Date().toISOString(), issuer, user: 'rn-it', command: name, params });
}

/** The demo site with a learning period of about 2 s, so that a real agent judges within the test. */
function quickLearningConfig(): SiteConfig {
  const demo = loadDemoConfig();
  return { ...demo, baseline: { ...demo.baseline, learningHours: 0.0005, saveIntervalSeconds: 3600 } };
}

/**
 * The baseline through the real agent and the real command line: learned over MQTT, kept
 * across a restart, exported, edited, imported, accepted; the commands that change it
 * refuse while an agent runs on the data directory.
 */
describe('wardwatch baseline, with a real agent', () => {
  const data = temporaryDataDir();
  const config = quickLearningConfig();
  const common = ['-c', 'config/demo.yaml', '-d', data.dir];
  let agent: RunningAgent | null = null;
  let station: MqttClient | null = null;

  async function start(): Promise<RunningAgent> {
    agent = await startTestAgent(data.dir, config);
    station = await connectAsync(`mqtt://127.0.0.1:${agent.mqttPort}`, { username: 'station-4w', password: 'demo', protocolVersion: 4, reconnectPeriod: 0 });
    return agent;
  }

  async function stop(): Promise<void> {
    await station?.endAsync(true);
    await agent?.stop();
    station = null;
    agent = null;
  }

  beforeAll(async () => {
    const running = await start();
    for (const rate of [14.4, 14, 15, 14.6, 14.2, 14.8]) {
      await station?.publishAsync('ward/pump-01/command', command('station-4w', 'set_rate', { rate_ml_h: rate }), { qos: 1 });
    }
    await waitFor(() => (running.baseline.devices.get('pump-01')?.commands ?? 0) >= 6 || undefined, 5_000, 'six commands learned');
  });

  afterAll(async () => {
    await stop();
    data.remove();
  });

  it('a push from a pharmacy account that never pushed is alerted once learning is over', async () => {
    const running = agent as RunningAgent;
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const backup = await connectAsync(`mqtt://127.0.0.1:${running.mqttPort}`, { username: 'pharmacy-backup', password: 'demo-pharmacy-backup', protocolVersion: 4, reconnectPeriod: 0 });
    await backup.publishAsync('ward/pump-03/command', command('pharmacy-backup', 'load_drug_library', { version: '4W-dr', sha256: 'd'.repeat(64) }), { qos: 1 });
    await backup.endAsync(true);
    const alert = await waitFor(() => running.alerts.list().find((candidate) => candidate.type === 'baseline-unknown-pusher'), 3_000, 'unknown pusher alert');
    expect(alert.severity).toBe('high');
    expect(alert.title).toMatch(/load_drug_library from pharmacy-backup, which never sent one/);
  });

  it('import, accept and freeze refuse while the agent runs; status reads the saved file', async () => {
    const refused = await wardwatch('baseline', 'freeze', 'pump-01', ...common);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/an agent \(pid \d+\) is running on .* stop it first/);
    await stop();
    const status = await wardwatch('baseline', 'status', ...common, '--json');
    expect(status.code).toBe(0);
    const parsed = JSON.parse(status.stdout) as { devices: { id: string; commands: number }[]; devicesCovered: number };
    expect(parsed.devices.find((device) => device.id === 'pump-01')?.commands).toBe(6);
    expect(parsed.devicesCovered).toBe(1);
  });

  it('a restart keeps the learned state', async () => {
    const restarted = await start();
    expect(restarted.baseline.devices.get('pump-01')?.commands).toBe(6);
    expect(restarted.baseline.devices.get('pump-01')?.values.envelopes.get('heparin/dose')).toBeUndefined();
    expect([...restarted.baseline.devices.get('pump-01')?.commanders.entries.keys() ?? []]).toEqual(['account:station-4w']);
    await stop();
  });

  it('accept takes a learned alert into the baseline; a static alert is refused by name', async () => {
    const log = readFileSync(join(data.dir, 'alerts.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { id: string; type: string });
    const pusher = log.find((line) => line.type === 'baseline-unknown-pusher');
    expect(pusher).toBeDefined();
    const accepted = await wardwatch('baseline', 'accept', pusher?.id ?? '', ...common);
    expect(accepted.stderr).toBe('');
    expect(accepted.stdout).toMatch(/accepted into the baseline of pump-03 \(group\): pusher load_drug_library@account:pharmacy-backup/);
    const unknown = await wardwatch('baseline', 'accept', 'no-such-alert', ...common);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no alert no-such-alert in/);
  });

  it('export → edit → import round-trips through the files a biomedical engineer edits', async () => {
    const file = join(data.dir, 'baseline.yaml');
    const exported = await wardwatch('baseline', 'export', file, ...common);
    expect(exported.code).toBe(0);
    const document = parse(readFileSync(file, 'utf8')) as { devices: Record<string, { frozen: boolean; commanders: string[] }>; groups: Record<string, { pushers: string[] }> };
    expect(document.groups['infusion-pump']?.pushers).toEqual(['load_drug_library@account:pharmacy-backup']);
    expect(document.devices['pump-01']?.commanders).toEqual(['account:station-4w']);
    const pump = document.devices['pump-01'];
    if (pump !== undefined) {
      pump.frozen = true;
      pump.commanders.push('address:10.4.0.10');
    }
    writeFileSync(file, stringify(document));
    const imported = await wardwatch('baseline', 'import', file, ...common);
    expect(imported.stderr).toBe('');
    expect(imported.stdout).toMatch(/imported 2 devices \(1 frozen\)/);
    const again = await wardwatch('baseline', 'export', '-', ...common);
    const reread = parse(again.stdout) as typeof document;
    expect(reread.devices['pump-01']).toMatchObject({ frozen: true, commanders: ['account:station-4w', 'address:10.4.0.10'] });
    writeFileSync(file, 'format: wardwatch-baseline-export/1\ndevices:\n  pump-01: { hours: [24] }\n');
    const bad = await wardwatch('baseline', 'import', file, ...common);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/error devices\.pump-01\.hours\[0\]: .*\n.*1 problem; nothing was imported/);
  });
});
