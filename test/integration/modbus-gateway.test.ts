import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/src/app.ts';
import { modbusMapFor } from '../../agent/src/model/modbus-map.ts';
import { startTestAgent, temporaryDataDir } from '../helpers/agent-fixture.ts';
import { modbusSiteConfig, startModbusPump, type SimulatedModbusPump } from '../helpers/modbus-ward.ts';
import { IN_CI, missingPeer } from '../helpers/peers.ts';
import { waitFor } from '../helpers/wait-for.ts';

const run = promisify(execFile);
const noMbpoll = missingPeer('mbpoll', 'mbpoll');
const PYTHON = '/usr/bin/python3';
/** Debian's pymodbus lives under /usr/bin/python3 (the python3 on PATH may be another build). */
const noPymodbus = (() => {
  const probe = spawnSync(PYTHON, ['-c', 'import pymodbus.client']);
  if (probe.status === 0) return null;
  const reason = `${PYTHON} cannot import pymodbus (apt-get install python3-pymodbus python3-serial python3-serial-asyncio)`;
  if (IN_CI) throw new Error(`CI=true and a required peer is missing: ${reason}`);
  console.warn(`skipping: ${reason}`);
  return reason;
})();

/** A pymodbus 3 master (Debian's python3-pymodbus), optionally from another loopback address. */
async function pymodbus(port: number, body: string, sourceAddress = '127.0.0.1'): Promise<string> {
  const script = `
from pymodbus.client import ModbusTcpClient
client = ModbusTcpClient('127.0.0.1', port=${port}, source_address=('${sourceAddress}', 0), timeout=1, retries=0)
assert client.connect(), 'connect failed'
${body}
client.close()
`;
  const { stdout } = await run(PYTHON, ['-c', script]);
  return stdout;
}

describe('Modbus/TCP through the agent\'s inspecting gateway, real masters, simulated pump', () => {
  let data: ReturnType<typeof temporaryDataDir> | null = null;
  let agent: RunningAgent | null = null;
  let pump: SimulatedModbusPump | null = null;

  afterEach(async () => {
    await agent?.stop();
    await pump?.stop();
    data?.remove();
    agent = null;
    pump = null;
  });

  async function start(enforce: string[] = []): Promise<{ agent: RunningAgent; pump: SimulatedModbusPump; port: number }> {
    pump = await startModbusPump();
    data = temporaryDataDir();
    agent = await startTestAgent(data.dir, modbusSiteConfig(pump.server.port, enforce));
    const port = agent.modbusPorts.get('pump-01');
    if (port === undefined) throw new Error('no gateway for pump-01');
    return { agent, pump, port };
  }

  it.skipIf(noMbpoll !== null)('mbpoll reads the telemetry, then writes ten times the heparin hard limit: critical alert naming device, bed and source address within 1 s; the device got it', async () => {
    const ctx = await start();
    // The agent learns the running infusion from a full read of the input registers (FC4).
    await run('mbpoll', ['-m', 'tcp', '-p', String(ctx.port), '-a', '1', '-t', '3', '-r', '1', '-c', String(modbusMapFor('infusion-pump').inputSize), '-1', '127.0.0.1']);
    // One FC16 at reference 1 (register 0): [set_rate, 3200 × 0.1 mL/h].
    await run('mbpoll', ['-m', 'tcp', '-p', String(ctx.port), '-a', '1', '-t', '4', '-r', '1', '127.0.0.1', '2', '3200']);
    const seenAt = Date.now();
    const alert = await waitFor(() => ctx.agent.alerts.list().find((a) => a.type === 'dose-above-hard-limit'), 1_000, 'dose alert');
    expect(seenAt - Date.parse(alert.ts)).toBeLessThan(1_000);
    expect(alert.severity).toBe('critical');
    expect(alert.title).toBe('Bed 1 · pump-01: heparin 320 mL/h = 400 units/kg/h, above the hard limit of 40 units/kg/h (sent by Modbus master 127.0.0.1)');
    expect(alert.evidence).toMatchObject({ address: '127.0.0.1', transport: 'modbus' });
    // Monitor mode: the write was forwarded and the pump obeyed.
    expect(ctx.pump.pump.snapshot().rateMlH).toBe(320);
  });

  it.skipIf(noPymodbus !== null)('pymodbus: FC8 force-listen-only from a non-maintenance host is critical; a write from an address the policy does not name is unauthorized', async () => {
    const ctx = await start();
    await pymodbus(ctx.port, 'client.diag_force_listen_only(slave=1)');
    const diagnostic = await waitFor(() => ctx.agent.alerts.list().find((a) => a.type === 'modbus-diagnostic-command'), 2_000, 'FC8 alert');
    expect(diagnostic.severity).toBe('critical');
    expect(diagnostic.title).toContain('force-listen-only-mode (FC8/4) from 127.0.0.1, which is not a maintenance host');

    await pymodbus(ctx.port, 'print(client.write_registers(0, [5], slave=1))', '127.0.0.5');
    const unauthorized = await waitFor(() => ctx.agent.alerts.list().find((a) => a.type === 'unauthorized-command'), 2_000, 'unauthorized alert');
    expect(unauthorized.title).toBe('Bed 1 · pump-01: pause from Modbus master 127.0.0.5, which may not command this device');
  });

  it.skipIf(noPymodbus !== null)('pymodbus scanning function codes and addresses: one alert per scan, with the count', async () => {
    const ctx = await start();
    await pymodbus(ctx.port, `
for address in range(200, 215):
    client.read_holding_registers(address, 1, slave=1)
for _ in range(6):
    client.read_coils(0, 1, slave=1)
`);
    const scans = await waitFor(() => {
      const types = ctx.agent.alerts.list().map((a) => a.type);
      return types.includes('modbus-address-scan') && types.includes('modbus-function-scan') ? ctx.agent.alerts.list() : null;
    }, 3_000, 'scan alerts');
    expect(scans.filter((a) => a.type === 'modbus-address-scan')).toHaveLength(1);
    expect(scans.find((a) => a.type === 'modbus-address-scan')?.title).toContain('drew 10 illegal-data-address exceptions');
  });

  it.skipIf(noMbpoll !== null)('enforce mode: the tenfold write is answered with a Modbus exception and never reaches the pump', async () => {
    const ctx = await start(['dose-above-hard-limit']);
    await run('mbpoll', ['-m', 'tcp', '-p', String(ctx.port), '-a', '1', '-t', '3', '-r', '1', '-c', String(modbusMapFor('infusion-pump').inputSize), '-1', '127.0.0.1']);
    const refused = await run('mbpoll', ['-m', 'tcp', '-p', String(ctx.port), '-a', '1', '-t', '4', '-r', '1', '127.0.0.1', '2', '3200']).then(
      () => 'accepted',
      (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ''}${error.stderr ?? ''}`,
    );
    expect(refused).toContain('Illegal data value');
    expect(ctx.pump.pump.snapshot().rateMlH).toBe(14.4);
    await waitFor(() => ctx.agent.alerts.list().find((a) => a.type === 'dose-above-hard-limit'), 1_000, 'the blocked write still raises its alert');
    // An in-range titration still goes through.
    await run('mbpoll', ['-m', 'tcp', '-p', String(ctx.port), '-a', '1', '-t', '4', '-r', '1', '127.0.0.1', '2', '160']);
    expect(ctx.pump.pump.snapshot().rateMlH).toBe(16);
  });
});
