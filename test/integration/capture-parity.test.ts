import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/src/app.ts';
import { modbusMapFor } from '../../agent/src/model/modbus-map.ts';
import { startTestAgent, temporaryDataDir } from '../helpers/agent-fixture.ts';
import { modbusSiteConfig, startModbusPump, type SimulatedModbusPump } from '../helpers/modbus-ward.ts';
import { missingPeer } from '../helpers/peers.ts';
import { waitFor } from '../helpers/wait-for.ts';

const run = promisify(execFile);
const noTcpdump = missingPeer('tcpdump', 'tcpdump');
const noMbpoll = missingPeer('mbpoll', 'mbpoll');

/**
 * Live or replayed, the same bytes give the same alerts (DESIGN.md; issue 7, parity):
 * tcpdump on loopback records the gateway-to-device leg while real masters attack through
 * the gateway; `wardwatch replay` of that capture, with the device's address in the
 * config, raises the alerts the live agent raised, with the capture's time.
 */
describe.skipIf(noTcpdump !== null || noMbpoll !== null)('capture parity: Modbus through the gateway, captured with tcpdump, replayed', () => {
  const data = temporaryDataDir();
  let pump: SimulatedModbusPump;
  let agent: RunningAgent;
  let capture: ChildProcess;
  const captureFile = join(data.dir, 'ward.pcap');

  beforeAll(async () => {
    pump = await startModbusPump();
    agent = await startTestAgent(data.dir, modbusSiteConfig(pump.server.port));
    capture = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-n', '-w', captureFile, `tcp port ${pump.server.port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let started = '';
    capture.stderr?.on('data', (chunk: Buffer) => (started += chunk.toString()));
    await waitFor(() => started.includes('listening on'), 5_000, 'tcpdump to start');
  });

  afterAll(async () => {
    capture.kill('SIGINT');
    await agent.stop();
    await pump.stop();
    data.remove();
  });

  it('the replay raises the alerts the live agent raised', async () => {
    const port = String(agent.modbusPorts.get('pump-01'));
    const mbpoll = (...args: string[]) => run('mbpoll', ['-m', 'tcp', '-p', port, ...args, '127.0.0.1']).catch(() => undefined);
    await mbpoll('-a', '1', '-t', '3', '-r', '1', '-c', String(modbusMapFor('infusion-pump').inputSize), '-1');
    await run('mbpoll', ['-m', 'tcp', '-p', port, '-a', '1', '-t', '4', '-r', '1', '127.0.0.1', '2', '3200']);
    await run('mbpoll', ['-m', 'tcp', '-p', port, '-a', '1', '-t', '4', '-r', '1', '127.0.0.1', '2', '144']);
    for (let i = 0; i < 12; i += 1) await mbpoll('-a', '1', '-t', '4', '-r', String(300 + i), '-c', '1', '-1');
    const live = await waitFor(() => {
      const types = new Set(agent.alerts.list().map((alert) => alert.type));
      return types.has('dose-above-hard-limit') && types.has('modbus-address-scan') ? types : null;
    }, 3_000, 'live alerts');
    await new Promise((resolve) => setTimeout(resolve, 500));
    capture.kill('SIGINT');
    await new Promise((resolve) => capture.once('close', resolve));

    const configFile = join(data.dir, 'site.yaml');
    writeFileSync(configFile, stringify(modbusSiteConfig(pump.server.port)));
    const { stdout } = await run(process.execPath, ['bin/wardwatch.js', 'replay', captureFile, '--config', configFile, '--json']);
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string; type?: string; ts?: string; title?: string; modbus?: Record<string, number> });
    const replayed = new Set(lines.filter((line) => line.event === 'alert').map((line) => line.type));
    expect([...replayed].sort()).toEqual([...live].sort());
    const dose = lines.find((line) => line.type === 'dose-above-hard-limit');
    expect(dose?.title).toBe('Bed 1 · pump-01: heparin 320 mL/h = 400 units/kg/h, above the hard limit of 40 units/kg/h (sent by Modbus master 127.0.0.1)');
    const liveDose = agent.alerts.list().find((alert) => alert.type === 'dose-above-hard-limit');
    // Event time from the capture: within a few ms of the live event time, not the replay's clock.
    expect(Math.abs(Date.parse(dose?.ts ?? '') - Date.parse(liveDose?.ts ?? ''))).toBeLessThan(50);
    const summary = lines.at(-1);
    expect(summary?.event).toBe('summary');
    expect(summary?.modbus?.['request write-multiple-registers']).toBe(2);
  });
});

/**
 * The same for MQTT: library scenarios played live against the agent's embedded broker
 * while tcpdump records the broker's port; the replay of that capture (the port named on
 * the command line) raises the same alert types.
 */
describe.skipIf(noTcpdump !== null)('capture parity: MQTT scenarios in-path, captured with tcpdump, replayed', () => {
  it('the replay raises the alert types the live agent raised', async () => {
    const data = temporaryDataDir();
    const agent = await startTestAgent(data.dir);
    const captureFile = join(data.dir, 'mqtt.pcap');
    const capture = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-n', '-w', captureFile, `tcp port ${agent.mqttPort}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let started = '';
    capture.stderr?.on('data', (chunk: Buffer) => (started += chunk.toString()));
    try {
      await waitFor(() => started.includes('listening on'), 5_000, 'tcpdump to start');
      for (const scenario of ['pacing-asynchronous-mode', 'wildcard-subscription', 'retained-command', 'issuer-spoofing']) {
        await run(process.execPath, ['bin/wardwatch.js', 'sim', 'scenario', 'run', scenario, '--broker', `mqtt://127.0.0.1:${agent.mqttPort}`]);
      }
      const live = await waitFor(() => {
        const types = new Set(agent.alerts.list().map((alert) => alert.type));
        return types.size >= 4 ? types : null;
      }, 3_000, 'live alerts');
      await new Promise((resolve) => setTimeout(resolve, 300));
      capture.kill('SIGINT');
      await new Promise((resolve) => capture.once('close', resolve));
      const { stdout } = await run(process.execPath, ['bin/wardwatch.js', 'replay', captureFile, '--mqtt-port', String(agent.mqttPort), '--json']);
      const replayed = new Set(stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string; type?: string }).filter((line) => line.event === 'alert').map((line) => line.type));
      expect([...replayed].sort()).toEqual([...live].sort());
      expect(live).toContain('pacing-asynchronous-mode');
      expect(live).toContain('broad-subscription');
    } finally {
      capture.kill('SIGINT');
      await agent.stop();
      data.remove();
    }
  });
});
