import { fileURLToPath } from 'node:url';
import { randomInt } from 'node:crypto';
import { Option } from 'commander';
import type { Command } from 'commander';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import { SimulatorError } from './errors.ts';
import { startFleet } from './fleet.ts';
import { brokerUrlProblem } from './transports/mqtt-link.ts';
import { WARD_TRANSPORTS } from './ward-modbus.ts';
import type { WardTransport } from './ward-modbus.ts';

/**
 * `wardwatch sim …`: the simulators on the command line. The agent's CLI calls
 * registerSimCommands; this file only adds commands and owns no process-wide state
 * beyond the signal handlers of a running fleet.
 */

export interface SimCommandRuntime {
  /** Where progress lines go (default: stdout). */
  readonly log?: (line: string) => void;
  /** Stops a running fleet when aborted, in addition to SIGINT/SIGTERM (for tests and embedding). */
  readonly stopSignal?: AbortSignal;
}

/** Exit code for a usage or configuration problem, distinct from 1 (a failure while running). */
export const USAGE_EXIT_CODE = 2;
const MAX_SPEED = 3600;
const MAX_SEED = 0xffff_ffff;

interface FleetCliOptions {
  readonly broker: string;
  readonly config: string;
  readonly pumps?: string;
  readonly programmers?: string;
  readonly speed: string;
  readonly seed?: string;
  readonly transport: string;
  readonly gatewayHost: string;
  readonly longStay?: boolean;
}

const FLEET_HELP_AFTER = `
The ward runs until Ctrl-C (SIGINT) or SIGTERM, then every device publishes a retained
"offline" status and disconnects cleanly. Each device logs in with its own account from
the config (plain-text passwords: a demo config); the nurse station and the EP clinic use
the station accounts that the config's policy allows to command them.

With --transport modbus, each device that has a modbus.gateways entry in the config is a
Modbus/TCP server on its "target" address instead of an MQTT client, and the stations
command it over Modbus through the agent's gateway (--gateway-host, the entry's
listenPort). With --transport both, those devices are on MQTT and Modbus at once and the
stations use MQTT. Devices without a gateway entry stay on MQTT.

Examples:
  wardwatch sim fleet                                  # the demo ward on localhost, real time
  wardwatch sim fleet --speed 600 --seed 42            # ten simulated minutes per second, repeatable
  wardwatch sim fleet --broker mqtt://10.0.4.2:1883 --config site.yaml --pumps 2 --programmers 1
  wardwatch sim fleet --config site.yaml --transport modbus --gateway-host 10.0.4.2
`;

/** Parses a whole number in [min, max]; returns an error message instead of throwing. */
function parseWholeNumber(text: string, option: string, min: number, max: number): number | string {
  if (!/^\d+$/.test(text.trim())) return `${option} must be a whole number, not "${text}"`;
  const value = Number(text.trim());
  if (value < min || value > max) return `${option} must be between ${min} and ${max}, not ${value}`;
  return value;
}

function parseSpeed(text: string): number | string {
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(text.trim())) return `--speed must be a positive number, not "${text}"`;
  const value = Number(text.trim());
  if (value <= 0 || value > MAX_SPEED) return `--speed must be above 0 and at most ${MAX_SPEED} (one simulated hour per second), not ${value}`;
  return value;
}

function waitForStop(signal: AbortSignal | undefined): Promise<string> {
  return new Promise((resolve) => {
    const finish = (reason: string): void => {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigterm);
      signal?.removeEventListener('abort', onAbort);
      resolve(reason);
    };
    // Handlers are removed at the first signal: a second Ctrl-C during the clean stop ends the process at once.
    const onSigint = (): void => finish('SIGINT');
    const onSigterm = (): void => finish('SIGTERM');
    const onAbort = (): void => finish('stop requested');
    process.once('SIGINT', onSigint);
    process.once('SIGTERM', onSigterm);
    if (signal?.aborted === true) finish('stop requested');
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export function registerSimCommands(program: Command, loadConfig: (file: string) => Promise<SiteConfig>, runtime: SimCommandRuntime = {}): void {
  const log = runtime.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const sim = program
    .command('sim')
    .description('run simulated medical devices (infusion pumps, pacemaker programmers) and their users');

  sim
    .command('fleet')
    .description('start a simulated ward on an MQTT broker: devices, the nurse station and the EP clinic')
    .option('--broker <url>', 'MQTT broker URL (the agent\'s embedded broker, or the site\'s)', 'mqtt://localhost:1883')
    .option('-c, --config <file>', 'site configuration with the device inventory, drug library, accounts and policy', fileURLToPath(new URL('../../config/demo.yaml', import.meta.url)))
    .option('--pumps <n>', 'start only the first n infusion pumps of the inventory (default: all)')
    .option('--programmers <n>', 'start only the first n pacemaker programmers of the inventory (default: all)')
    .addOption(new Option('--speed <n>', `simulated seconds per real second, up to ${MAX_SPEED}`).default('1', '1, real time'))
    .option('--seed <n>', 'seed of every random choice, to repeat a run (default: random, printed at start)')
    .addOption(new Option('--transport <mode>', `how devices and stations talk: ${WARD_TRANSPORTS.join(', ')}`).default('mqtt'))
    .option('--gateway-host <host>', 'host of the agent\'s Modbus gateways, where stations connect under --transport modbus', 'localhost')
    .option('--long-stay', 'for runs of several days: patients discharged and admitted, quieter nights, EP clinic only in clinic hours (site.timezone)')
    .addHelpText('after', FLEET_HELP_AFTER)
    .action(async (options: FleetCliOptions, command: Command) => {
      const usage = (message: string): never => command.error(`error: ${message}`, { exitCode: USAGE_EXIT_CODE, code: 'wardwatch.sim.usage' });
      const brokerProblem = brokerUrlProblem(options.broker);
      if (brokerProblem !== null) usage(`--broker: ${brokerProblem}`);
      const speed = parseSpeed(options.speed);
      if (typeof speed === 'string') return usage(speed);
      const pumps = options.pumps === undefined ? undefined : parseWholeNumber(options.pumps, '--pumps', 0, 10_000);
      if (typeof pumps === 'string') return usage(pumps);
      const programmers = options.programmers === undefined ? undefined : parseWholeNumber(options.programmers, '--programmers', 0, 10_000);
      if (typeof programmers === 'string') return usage(programmers);
      const seed = options.seed === undefined ? randomInt(MAX_SEED) : parseWholeNumber(options.seed, '--seed', 0, MAX_SEED);
      if (typeof seed === 'string') return usage(seed);
      if (!(WARD_TRANSPORTS as readonly string[]).includes(options.transport)) {
        return usage(`--transport must be one of ${WARD_TRANSPORTS.join(', ')}, not "${options.transport}"`);
      }
      const transport = options.transport as WardTransport;
      const gatewayHost = options.gatewayHost.trim();
      if (gatewayHost.length === 0) return usage('--gateway-host must not be empty');

      let config: SiteConfig;
      try {
        config = await loadConfig(options.config);
      } catch (error) {
        return usage(`cannot use ${options.config}: ${error instanceof Error ? error.message : String(error)}`);
      }

      let ward;
      try {
        ward = await startFleet({
          brokerUrl: options.broker,
          config,
          speed,
          seed,
          ...(pumps === undefined ? {} : { pumps }),
          ...(programmers === undefined ? {} : { programmers }),
          transport,
          gatewayHost,
          ...(options.longStay === true ? { longStay: true } : {}),
          log,
        });
      } catch (error) {
        if (error instanceof SimulatorError) return usage(error.message);
        throw error;
      }
      if (transport !== 'mqtt' && ward.modbusServers.size === 0) {
        log(`--transport ${transport}: no started device has a modbus.gateways entry in ${options.config}; every device stays on MQTT`);
      }
      const over = transport === 'mqtt' ? options.broker : `${options.broker} and Modbus/TCP (${ward.modbusServers.size} devices, --transport ${transport})`;
      log(`simulating ${config.site.name}, ward ${config.site.ward}, on ${over} at ${speed}× (seed ${seed}; repeat with --seed ${seed}); Ctrl-C to stop`);
      const reason = await waitForStop(runtime.stopSignal);
      log(`${reason}: stopping the ward (devices publish offline)`);
      await ward.stop();
    });
}
