import type { Command } from 'commander';
import { parseParamAssignment, sendOneShotCommand } from '../../../simulators/src/one-shot-command.ts';
import type { ParamValue } from '../model/wire.ts';
import { EXIT_RUNTIME, EXIT_USAGE } from './options.ts';

interface SendOptions {
  readonly broker: string;
  readonly username: string;
  readonly password: string;
  readonly issuer?: string;
  readonly user?: string;
}

/** `wardwatch sim command`: one station command from the terminal, for testers and the demo. */
export function registerSimCommandCommand(sim: Command): void {
  sim
    .command('command')
    .description('send one command to a device as a station would, e.g. `sim command -u station-4w -P demo pump-01 set_rate rate_ml_h=320`')
    .argument('<device>', 'device id, e.g. pump-01')
    .argument('<command>', 'command name, e.g. set_rate, program_infusion, program')
    .argument('[params...]', 'parameters as name=value (numbers and true/false are typed)')
    .option('--broker <url>', 'broker URL', 'mqtt://localhost:1883')
    .requiredOption('-u, --username <name>', 'MQTT account')
    .requiredOption('-P, --password <password>', 'MQTT password')
    .option('--issuer <account>', 'issuer written in the payload (default: the username; set it to test issuer spoofing)')
    .option('--user <clinician>', 'clinician id written in the payload', 'tester')
    .action(async (device: string, command: string, assignments: string[], options: SendOptions) => {
      const params: Record<string, ParamValue> = {};
      for (const assignment of assignments) {
        try {
          const [name, value] = parseParamAssignment(assignment);
          params[name] = value;
        } catch (error) {
          process.stderr.write(`wardwatch: ${(error as Error).message}\n`);
          process.exit(EXIT_USAGE);
        }
      }
      try {
        const sent = await sendOneShotCommand({ brokerUrl: options.broker, username: options.username, password: options.password, deviceId: device, command, params, issuer: options.issuer, user: options.user });
        process.stdout.write(`sent ${sent.command} ${JSON.stringify(sent.params)} to ${device} as ${options.username} (id ${sent.id})\n`);
      } catch (error) {
        process.stderr.write(`wardwatch: could not send: ${(error as Error).message}\n`);
        process.exit(EXIT_RUNTIME);
      }
    });
}
