import { spawn } from 'node:child_process';
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DEMO_CONFIG_FILE } from '../helpers/demo-config.ts';
import { FIXTURES, skipWithoutFixtures } from '../helpers/shared-fixtures.ts';
import { temporaryDataDir, readAlertLog } from '../helpers/agent-fixture.ts';
import { waitFor } from '../helpers/wait-for.ts';

const missingFixture = skipWithoutFixtures('agent --capture test');
const FIXTURE = join(FIXTURES, 'modbus/iti-modbus_test.pcap');

/**
 * `tcpdump … -w - | wardwatch agent --capture -`: the agent reads a capture stream on
 * standard input. A real capture written by others (ITI: one writer, 192.168.0.156, to
 * registers 4–5 of 192.168.0.20) with that server listed as pump-01's Modbus address:
 * register writes from a master no policy rule names.
 */
describe.skipIf(missingFixture)('agent --capture - reads a capture stream from standard input', () => {
  it('judges the captured Modbus writes and writes the alerts to alerts.jsonl', async () => {
    const data = temporaryDataDir();
    const doc = parse(readFileSync(DEMO_CONFIG_FILE, 'utf8')) as Record<string, any>;
    doc.modbus.gateways = [{ device: 'pump-01', listenPort: 0, target: '192.168.0.20:502' }];
    const configFile = join(data.dir, 'site.yaml');
    writeFileSync(configFile, stringify(doc));
    const agent = spawn(process.execPath, ['bin/wardwatch.js', 'agent', '--config', configFile, '--data-dir', data.dir, '--mqtt-host', '127.0.0.1', '--mqtt-port', '0', '--http-port', '0', '--modbus-host', '127.0.0.1', '--modbus-port', '0', '--log-level', 'warn', '--capture', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    try {
      createReadStream(FIXTURE).pipe(agent.stdin);
      const alert = await waitFor(() => readAlertLog(join(data.dir, 'alerts.jsonl')).find((line) => line.type === 'modbus-unauthorized-write'), 10_000, 'alert from the capture');
      expect(alert.severity).toBe('critical');
      expect(alert.title).toMatch(/^Bed 1 · pump-01: registers [45]–[45] written by Modbus master 192\.168\.0\.156, which may not command this device$/);
      // Event time is the capture's (2017), not now.
      expect(alert.ts.startsWith('2017-04-28')).toBe(true);
    } finally {
      agent.kill('SIGTERM');
      await new Promise((resolve) => agent.once('close', resolve));
      data.remove();
    }
  });
});
