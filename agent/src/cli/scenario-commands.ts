import { basename } from 'node:path';
import type { Command } from 'commander';
import { RealTimeClock } from '../../../simulators/src/clock.ts';
import { formatDuration } from '../../../simulators/src/scenarios/duration.ts';
import { MqttActorTransport } from '../../../simulators/src/scenarios/mqtt-actor-transport.ts';
import { TcpModbusTransport } from '../../../simulators/src/scenarios/tcp-modbus-transport.ts';
import { ScenarioRunner } from '../../../simulators/src/scenarios/scenario-runner.ts';
import { libraryFiles, loadScenarioFile } from '../evaluation/scenario-loader.ts';
import { scoreScenario } from '../evaluation/scoring.ts';
import type { AlertView } from '../server/dashboard-protocol.ts';
import { loadConfigOrExit } from './config-commands.ts';
import { loadScenariosOrExit } from './eval-command.ts';
import { EXIT_RUNTIME, EXIT_USAGE, parsePort, DEMO_CONFIG } from './options.ts';
import { DashboardLoginError, openDashboardSession, type DashboardCredentials, type DashboardSession } from './dashboard-session-client.ts';
import { DEMO_LOGINS, DEMO_PASSWORD, DEMO_TOTP_SECRET_BASE32 } from './demo-logins.ts';

interface RunOptions {
  readonly broker: string;
  readonly config: string;
  readonly agent?: string;
  readonly modbusHost?: string;
  readonly modbusPort?: number;
  readonly user?: string;
  readonly code?: string;
  readonly demoLogin?: true;
}

async function fetchAlerts(agentUrl: string, session: DashboardSession): Promise<AlertView[]> {
  const response = await session.get('api/alerts?limit=1000');
  if (!response.ok) throw new Error(`${agentUrl} answered ${response.status}`);
  return (await response.json()) as AlertView[];
}

/**
 * Reading the agent's alerts needs a dashboard login: `--user` with the password in
 * WARDWATCH_PASSWORD and the second factor from `--code` or WARDWATCH_TOTP_SECRET, or
 * `--demo-login` against `wardwatch demo`. Null (after a message, exit 2) when none is given.
 */
function credentialsOf(options: RunOptions): DashboardCredentials | null {
  if (options.demoLogin === true) {
    const nurse = DEMO_LOGINS.find((login) => login.role === 'nurse');
    return { username: nurse?.username ?? 'demo-nurse', password: DEMO_PASSWORD, totpSecretBase32: DEMO_TOTP_SECRET_BASE32 };
  }
  const password = process.env['WARDWATCH_PASSWORD'];
  const secret = process.env['WARDWATCH_TOTP_SECRET'];
  if (options.user === undefined || password === undefined || password === '' || (options.code === undefined && (secret === undefined || secret === ''))) {
    process.stderr.write('reading the agent\'s alerts (--agent) needs a dashboard login: --user NAME with the password in WARDWATCH_PASSWORD and the code with --code (or the account\'s TOTP secret in WARDWATCH_TOTP_SECRET); against `wardwatch demo`, --demo-login\n');
    return null;
  }
  return { username: options.user, password, ...(options.code === undefined ? { totpSecretBase32: secret ?? '' } : { code: options.code }) };
}

export function registerScenarioCommands(sim: Command): void {
  const scenario = sim.command('scenario').description('the attack and benign scenario library: list it, or run one against a running agent');
  scenario
    .command('list')
    .description('name, title and source of every scenario in the library')
    .option('-c, --config <file>', 'site configuration the scenarios are checked against', DEMO_CONFIG)
    .action(async (options: { config: string }) => {
      const config = await loadConfigOrExit(options.config, { warnings: false });
      for (const file of await libraryFiles()) {
        const loaded = await loadScenarioFile(file, config);
        if (!loaded.ok) {
          process.stdout.write(`${file}: INVALID (${loaded.issues.length} problems; see \`wardwatch eval ${file}\`)\n`);
          continue;
        }
        const { name, title, models, attack, expect } = loaded.scenario;
        const kind = expect === 'none' ? 'benign' : (attack?.technique ?? '');
        process.stdout.write(`${name.padEnd(36)} ${kind.padEnd(7)} ${title}  [${models.map((model) => model.id).join(', ')}]\n`);
      }
    });
  scenario
    .command('run')
    .description('play a scenario against a running agent over MQTT and Modbus/TCP, in real time (the first step at once); with --agent, wait for its alerts and score them')
    .argument('<scenario>', 'library name (see `sim scenario list`) or a scenario file')
    .option('--broker <url>', 'the agent\'s MQTT broker', 'mqtt://localhost:1883')
    .option('-c, --config <file>', 'site configuration of that agent (plain-text passwords of the actors\' accounts)', DEMO_CONFIG)
    .option('--agent <url>', 'the agent\'s dashboard URL, e.g. http://localhost:8080/, to read its alerts and score the run')
    .option('--modbus-host <host>', 'host of the agent\'s Modbus gateways (default: the broker\'s host)')
    .option('--modbus-port <port>', 'as the agent\'s --modbus-port: the i-th gateway of the config listens on port + i', parsePort)
    .option('--user <name>', 'with --agent: the dashboard user to read the alerts as (password in WARDWATCH_PASSWORD)')
    .option('--code <code>', 'with --user: the authenticator code (or set the account\'s TOTP secret in WARDWATCH_TOTP_SECRET)')
    .option('--demo-login', 'with --agent: log in as the demo\'s published demo-nurse (DEMO ONLY; `wardwatch demo` makes it)')
    .action(async (name: string, options: RunOptions) => {
      let session: DashboardSession | null = null;
      if (options.agent !== undefined) {
        const credentials = credentialsOf(options);
        if (credentials === null) process.exit(EXIT_USAGE);
        try {
          session = await openDashboardSession(options.agent, credentials);
        } catch (error) {
          process.stderr.write(`wardwatch: ${error instanceof DashboardLoginError ? error.message : `cannot reach ${options.agent}: ${(error as Error).message}`}\n`);
          process.exit(EXIT_RUNTIME);
        }
      }
      const config = await loadConfigOrExit(options.config, { warnings: false });
      const [found] = await loadScenariosOrExit([name], config);
      if (found === undefined) return;
      const loaded = found.scenario;
      if (loaded.site !== undefined && basename(options.config) !== `${loaded.site}.yaml`) {
        process.stderr.write(`${loaded.name} runs on the site config/${loaded.site}.yaml; give that config with -c (and run the agent with it)\n`);
        process.exit(EXIT_USAGE);
      }
      const passwords = new Map(config.mqtt.accounts.map((account) => [account.username, account.password]));
      const clock = new RealTimeClock(1);
      const runner = new ScenarioRunner(loaded, {
        clock,
        transport: new MqttActorTransport(options.broker),
        ward: null,
        modbus: new TcpModbusTransport((deviceId) => {
          const port = gatewayPort(deviceId);
          return port === undefined ? undefined : { host: options.modbusHost ?? new URL(options.broker).hostname, port };
        }),
        deviceKind: (deviceId) => config.devices.find((device) => device.id === deviceId)?.profile,
        passwordOf: (username) => passwords.get(username),
        log: (line) => process.stdout.write(`  ${line}\n`),
      });
      // What only an evaluation can play: ward events (its own simulated ward), Modbus steps to a device without a known gateway port.
      const gatewayPort = (deviceId: string): number | undefined => {
        const index = config.modbus.gateways.findIndex((gateway) => gateway.device === deviceId);
        const gateway = config.modbus.gateways[index];
        if (gateway === undefined) return undefined;
        const port = options.modbusPort === undefined ? gateway.listenPort : options.modbusPort + index;
        return port === 0 ? undefined : port;
      };
      const unplayable = loaded.steps.flatMap((step, index) => {
        if (step.ward !== undefined) return [`step ${index + 1} stages a ward event, which needs the evaluation's own simulated ward`];
        if (step.modbus !== undefined && gatewayPort(step.modbus.device) === undefined) return [`step ${index + 1} needs a Modbus gateway for ${step.modbus.device} (config modbus.gateways, or --modbus-port)`];
        return [];
      });
      if (unplayable.length > 0) {
        process.stdout.write(`${loaded.name}: SKIPPED on a live run: ${unplayable.join('; ')}. Run it with \`wardwatch eval ${loaded.name}\`.\n`);
        await session?.logout();
        return;
      }
      const firstOffset = Math.min(...loaded.steps.map((step) => step.at));
      const startAt = clock.now() - firstOffset;
      process.stdout.write(`${loaded.name}: ${loaded.title}\n`);
      let outcome;
      try {
        outcome = await runner.run(startAt);
      } catch (error) {
        process.stderr.write(`wardwatch: scenario failed: ${(error as Error).message}\n`);
        await runner.close();
        process.exit(EXIT_RUNTIME);
      }
      await runner.close();
      process.stdout.write(`steps done${outcome.refusedLogins > 0 ? `, ${outcome.refusedLogins} logins refused` : ''}${outcome.skippedSteps.length > 0 ? `, skipped on a live run: ${outcome.skippedSteps.join('; ')}` : ''}\n`);
      if (loaded.expect === 'none') process.stdout.write('expected: no high or critical alert\n');
      else for (const expected of loaded.expect.alerts) process.stdout.write(`expected: ${expected.type}${expected.severity ? ` (${expected.severity})` : ''}${expected.device ? ` on ${expected.device}` : ''} within ${formatDuration(expected.within)}\n`);
      if (options.agent === undefined || session === null) {
        process.stdout.write('watch the dashboard for the alerts (add --agent http://localhost:8080/ and a login to score the run here)\n');
        return;
      }
      const longest = loaded.expect === 'none' ? 5_000 : Math.max(...loaded.expect.alerts.map((expected) => expected.within));
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, outcome.triggerAt + longest + 1_000 - Date.now())));
      // Alerts this run raised or repeated: earlier runs' alerts that did not recur are not this run's.
      const alerts = (await fetchAlerts(options.agent, session)).filter((alert) => Date.parse(alert.lastTs) >= startAt - 1_000);
      await session.logout();
      const score = scoreScenario(loaded, alerts, outcome.triggerAt);
      for (const result of score.expectations) {
        process.stdout.write(`${result.alert === null ? 'MISSED  ' : 'detected'} ${result.expected.type}${result.latencyMs === null ? '' : ` in ${formatDuration(result.latencyMs)}: ${result.alert?.title ?? ''}`}\n`);
      }
      for (const alert of score.unexpected) process.stdout.write(`also    ${alert.severity} ${alert.type}: ${alert.title}\n`);
      process.stdout.write(score.passed ? 'PASS\n' : `FAIL: ${score.problems.join('; ')}\n`);
      process.exitCode = score.passed ? 0 : 1;
    });
}
