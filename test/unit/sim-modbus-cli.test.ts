import { Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import { registerSimCommands, USAGE_EXIT_CODE } from '../../simulators/src/cli.ts';
import { loadDemoConfig } from '../helpers/demo-config.ts';

/** The demo ward with pump-01 behind a gateway on 15020; its own server on any free port. */
function configWithPumpGateway(): SiteConfig {
  const config = structuredClone(loadDemoConfig()) as SiteConfig;
  return { ...config, modbus: { ...config.modbus, gateways: [{ device: 'pump-01', listenPort: 15_020, target: '127.0.0.1:0', unitId: 1 }] } };
}

/** `wardwatch sim fleet …` with exits, output and the stop signal captured (stopped as soon as it has started). */
async function fleet(config: SiteConfig, ...args: string[]) {
  const errors: string[] = [];
  const output: string[] = [];
  const program = new Command('wardwatch')
    .exitOverride()
    .configureOutput({ writeErr: (text) => errors.push(text), writeOut: (text) => output.push(text) });
  registerSimCommands(program, () => Promise.resolve(config), { log: (line) => output.push(line), stopSignal: AbortSignal.abort() });
  let exit: CommanderError | null = null;
  try {
    await program.parseAsync(['sim', 'fleet', ...args], { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    exit = error;
  }
  return { exit, errors: errors.join(''), output: output.join('\n') };
}

describe('wardwatch sim fleet --transport', () => {
  it('documents --transport and --gateway-host with their defaults', async () => {
    const { exit, output } = await fleet(loadDemoConfig(), '--help');
    expect(exit?.exitCode).toBe(0);
    for (const text of ['--transport <mode>', 'mqtt, modbus, both', '(default: "mqtt")', '--gateway-host <host>', '(default: "localhost")', 'modbus.gateways']) {
      expect(output).toContain(text);
    }
  });

  it.each([
    [['--transport', 'udp'], '--transport must be one of mqtt, modbus, both, not "udp"'],
    [['--gateway-host', ' '], '--gateway-host must not be empty'],
  ])('rejects %j with exit code 2', async (args, message) => {
    const { exit, errors } = await fleet(loadDemoConfig(), ...args);
    expect(exit?.exitCode).toBe(USAGE_EXIT_CODE);
    expect(errors).toContain(message);
  });

  it('serves Modbus for the devices with a gateway entry and points the stations at the gateway host', async () => {
    // Every started device is on Modbus only, so no broker is needed.
    const { exit, output } = await fleet(configWithPumpGateway(), '--transport', 'modbus', '--gateway-host', '127.0.0.1', '--pumps', '1', '--programmers', '0', '--seed', '3');
    expect(exit).toBeNull();
    expect(output).toMatch(/pump-01: Modbus\/TCP server on 127\.0\.0\.1:\d+; stations connect to 127\.0\.0\.1:15020/);
    expect(output).toContain('Modbus/TCP (1 devices, --transport modbus)');
    expect(output).toContain('stopping the ward');
  });

  it('says so when no started device has a gateway entry', async () => {
    const { exit, output } = await fleet(loadDemoConfig(), '--transport', 'both', '--pumps', '0', '--programmers', '0');
    expect(exit).toBeNull();
    expect(output).toContain('--transport both: no started device has a modbus.gateways entry');
  });
});
