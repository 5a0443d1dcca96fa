import { execFile, spawn } from 'node:child_process';
import { createReadStream, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { CaptureIngest } from '../../agent/src/ingest/capture-ingest.ts';
import { createMonitor } from '../../agent/src/monitor.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';
import { FIXTURES, skipWithoutFixtures } from '../helpers/shared-fixtures.ts';
import { temporaryDataDir } from '../helpers/agent-fixture.ts';

const run = promisify(execFile);
const missing = skipWithoutFixtures('replay tests');

function captures(directory: string): string[] {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) return captures(path);
    return /\.pcap(ng)?$/.test(name) ? [path] : [];
  });
}

describe.skipIf(missing)('wardwatch replay', () => {
  it('every capture in the fixtures (Modbus, MQTT, negative) runs through the whole pipeline without an exception', () => {
    const files = captures(FIXTURES);
    expect(files.length).toBeGreaterThan(40);
    const config = loadDemoConfig();
    for (const file of files) {
      const monitor = createMonitor(config, { sinks: [], logger: pino({ level: 'silent' }) });
      const failures: string[] = [];
      // 17501: ndpi-mqtt.pcapng's broker; 18830: the paho captures' (SOURCES.md, expected-tshark.json decode_as).
      const ingest = new CaptureIngest({ config, ingest: (observation) => monitor.pipeline.ingest(observation), onInspectionFailure: (_d, _m, error) => failures.push(String(error)), mqttPorts: [17501, 18830] });
      ingest.push(readFileSync(file));
      const summary = ingest.end();
      expect(failures, file).toEqual([]);
      expect(summary.records, file).toBeGreaterThan(0);
      expect(monitor.health.view().reasons, file).toEqual([]);
    }
  });

  it('paho 3.1.1 against mosquitto: MQTT decoded on the port the config names, and a wildcard subscription alert from the capture', async () => {
    const data = temporaryDataDir();
    try {
      const config = join(data.dir, 'site.yaml');
      writeFileSync(config, readFileSync('config/demo.yaml', 'utf8').replace('modbus:\n', 'capture: { mqttPorts: [18830] }\nmodbus:\n'));
      const { stdout } = await run(process.execPath, ['bin/wardwatch.js', 'replay', join(FIXTURES, 'mqtt/paho-v311-mosquitto.pcap'), '--config', config, '--json']);
      const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, any>);
      const summary = lines.at(-1);
      expect(summary?.event).toBe('summary');
      expect(summary?.flows.mqtt).toBeGreaterThan(10);
      expect(summary?.mqtt.connect).toBe(21);
      expect(lines.some((line) => line.event === 'alert' && line.type === 'broad-subscription')).toBe(true);
      // Never a password in the output (the paho suite logs in with one).
      expect(stdout).not.toMatch(/"password"/);
    } finally {
      data.remove();
    }
  });

  it('reads standard input (-) as a tcpdump -w - stream would arrive', async () => {
    const child = spawn(process.execPath, ['bin/wardwatch.js', 'replay', '-', '--alerts-only']);
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    createReadStream(join(FIXTURES, 'modbus/iti-modbus_test.pcap')).pipe(child.stdin);
    const code = await new Promise((resolve) => child.once('close', resolve));
    expect(code).toBe(0);
    expect(stdout).toBe('');
  });

  it('a file that is not a capture is a clear error, exit 2', async () => {
    const result = await run(process.execPath, ['bin/wardwatch.js', 'replay', 'README.md']).then(() => ({ code: 0, stderr: '' }), (error: { code: number; stderr: string }) => error);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('README.md is not a pcap or pcapng capture');
  });
});
