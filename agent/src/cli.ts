import { Command, CommanderError } from 'commander';
import { registerSimCommands } from '../../simulators/src/cli.ts';
import { registerAgentCommand } from './cli/agent-command.ts';
import { registerAuditCommands } from './cli/audit-commands.ts';
import { registerBaselineCommands } from './cli/baseline-commands.ts';
import { loadConfigOrExit, registerConfigCommands } from './cli/config-commands.ts';
import { registerDemoCommand } from './cli/demo-command.ts';
import { EXIT_USAGE } from './cli/options.ts';
import { registerSimCommandCommand } from './cli/sim-command-command.ts';
import { registerEvalCommand } from './cli/eval-command.ts';
import { registerHubCommand } from './cli/hub-command.ts';
import { registerReplayCommand } from './cli/replay-command.ts';
import { registerScenarioCommands } from './cli/scenario-commands.ts';
import { registerUsersCommands } from './cli/users-commands.ts';

/** The one command line: `wardwatch demo | agent | hub | sim … | config … | baseline … | users … | audit …`. */
const program = new Command('wardwatch')
  .description('Wardwatch: monitor for the MQTT and Modbus/TCP traffic of infusion pumps and pacemaker programmers on a hospital ward')
  .showHelpAfterError('(add --help for usage)')
  .exitOverride();

registerDemoCommand(program);
registerAgentCommand(program);
registerHubCommand(program);
registerSimCommands(program, loadConfigOrExit);
const sim = program.commands.find((command) => command.name() === 'sim');
if (sim !== undefined) {
  registerSimCommandCommand(sim);
  registerScenarioCommands(sim);
}
registerEvalCommand(program);
registerReplayCommand(program);
registerConfigCommands(program);
registerBaselineCommands(program);
registerUsersCommands(program);
registerAuditCommands(program);
for (const command of program.commands) command.exitOverride();
for (const command of sim?.commands ?? []) {
  command.exitOverride();
  for (const sub of command.commands) sub.exitOverride();
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version are "errors" to commander; they exit 0. Usage errors exit 2.
    process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE);
  }
  process.stderr.write(`wardwatch: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
