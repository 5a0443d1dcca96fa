import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { pino } from 'pino';
import { startAgent } from '../app.ts';
import { configForAcceleratedWard } from '../config/accelerated-ward.ts';
import { startFleet } from '../../../simulators/src/fleet.ts';
import { ConsoleAlertSink } from './console-alert-sink.ts';
import { loadConfigOrExit } from './config-commands.ts';
import { demoTrigger } from './demo-trigger.ts';
import { demoCode, demoLoginLines, ensureDemoLogins } from './demo-logins.ts';
import { DEFAULT_TLS } from '../tls/server-tls.ts';
import { parsePort, parsePositiveNumber, DEMO_CONFIG } from './options.ts';
import { tlsBanner } from './tls-banner.ts';
import { startOrExit, stopOnSignal } from './run-until-signal.ts';

interface DemoOptions {
  readonly config: string;
  readonly dataDir: string;
  readonly mqttHost: string;
  readonly mqttPort: number;
  readonly httpPort: number;
  readonly tls?: true;
  readonly mqttsPort: number;
  readonly speed: number;
  readonly seed?: number;
}

function demoAccounts(config: Awaited<ReturnType<typeof loadConfigOrExit>>): string[] {
  const accounts = config.mqtt.accounts.filter((account) => account.role !== 'device' && account.password !== undefined);
  const nameWidth = Math.max(...accounts.map((account) => account.username.length));
  const passwordWidth = Math.max(...accounts.map((account) => (account.password ?? '').length));
  return accounts.map((account) => `  ${account.username.padEnd(nameWidth)} / ${(account.password ?? '').padEnd(passwordWidth)}  ${account.description ?? account.role}`);
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo-code')
    .description('print the current 6-digit code of the demo\'s dashboard logins (DEMO ONLY: their authenticator secret is published)')
    .action(() => {
      const { code, secondsLeft } = demoCode(Date.now());
      process.stdout.write(`${code}   (current for ${secondsLeft} more s; a code logs each demo user in once, the next one comes after)\n`);
    });

  program
    .command('demo')
    .description('run the agent with its embedded broker and store, a simulated ward and the dashboard, all in one process')
    .option('-c, --config <file>', 'site configuration', DEMO_CONFIG)
    .option('-d, --data-dir <dir>', 'where alerts are stored', join('.wardwatch', 'demo'))
    .option('--mqtt-host <address>', 'address the MQTT broker listens on (loopback: demo accounts have published passwords)', '127.0.0.1')
    .option('--mqtt-port <port>', 'MQTT broker port (0 = any free port)', parsePort, 1883)
    .option('--http-port <port>', 'dashboard port (0 = any free port)', parsePort, 8080)
    .option('--tls', 'also try TLS: the dashboard on https:// and mqtts, with a self-signed certificate made in the data directory (the simulated ward stays on plain MQTT on loopback)')
    .option('--mqtts-port <port>', 'MQTT over TLS port with --tls (0 = any free port)', parsePort, 8883)
    .option('--speed <n>', 'simulated ward runs n times faster than real time (the publish-flood threshold scales with it)', parsePositiveNumber, 1)
    .option('--seed <n>', 'seed of the simulated ward (same seed, same day)', parsePositiveNumber)
    .action(async (options: DemoOptions) => {
      const config = await loadConfigOrExit(options.config);
      const logger = pino({ level: 'warn' });
      // The demo's dashboard logins, made in its own data directory if absent (demo-logins.ts).
      mkdirSync(options.dataDir, { recursive: true, mode: 0o750 });
      await startOrExit('the demo logins', () => ensureDemoLogins(options.dataDir));
      const agent = await startOrExit('the agent', () =>
        startAgent({
          config: configForAcceleratedWard(config, options.speed),
          dataDir: options.dataDir,
          mqttHost: options.mqttHost,
          mqttPort: options.mqttPort,
          // Plain HTTP and MQTT on loopback unless --tls: nothing leaves the machine, the
          // browser opens the page without a certificate warning, and the commands printed
          // below work as pasted (docs/operations.md, "TLS").
          ...(options.tls === true ? { tls: config.tls ?? DEFAULT_TLS, mqttsPort: options.mqttsPort } : {}),
          httpHost: '127.0.0.1',
          httpPort: options.httpPort,
          logger,
          extraSinks: [new ConsoleAlertSink()],
        }),
      );
      const brokerUrl = `mqtt://127.0.0.1:${agent.mqttPort}`;
      const fleet = await startOrExit('the simulated ward', () =>
        startFleet({ brokerUrl, config, speed: options.speed, seed: options.seed ?? Date.now() % 1_000_000, log: (line) => logger.info(line) }),
      );
      const pumps = config.devices.filter((d) => d.profile === 'infusion-pump').length;
      const programmers = config.devices.length - pumps;
      const lines = [
        '',
        `Wardwatch demo — ${config.site.name}, ward ${config.site.ward}`,
        `  Dashboard:       ${agent.url}`,
        `  MQTT broker:     mqtt://localhost:${agent.mqttPort}${agent.mqttsPort === null ? '' : `, mqtts://localhost:${agent.mqttsPort}`}`,
        `  Alerts:          ${agent.alertLogFile} (and wardwatch.db beside it)`,
        `  Simulated ward:  ${pumps} infusion pumps, ${programmers} pacemaker programmers, ${options.speed}× real time`,
        '',
        ...(agent.tls === null ? [] : [...tlsBanner(agent.tls), '']),
        ...demoLoginLines(options.dataDir),
        agent.tls === null
          ? '  The session cookie cannot be marked Secure on plain http://; that is why the demo listens on loopback only (--tls for https).'
          : '  Over https the session cookie is marked Secure.',
        '',
        'Demo MQTT accounts — DEMO ONLY, the passwords are published:',
        ...demoAccounts(config),
      ];
      const trigger = demoTrigger(config);
      if (trigger !== null) {
        // A fresh id on every paste (the shell fills it in), or the second paste is also a replay.
        const payload = JSON.stringify({ id: 'demo-ID', ts: new Date().toISOString(), issuer: 'station-4w', user: 'rn-demo', command: 'set_rate', params: { rate_ml_h: trigger.rateMlPerHour } }).replace('demo-ID', `demo-'$(date +%s%N)'`);
        lines.push(
          '',
          `Trigger an alert: ${trigger.drug} on ${trigger.deviceId} (bed ${trigger.bed}) at ten times its hard limit of ${trigger.hardLimit}:`,
          agent.tls === null || agent.mqttsPort === null
            ? `  mosquitto_pub -h localhost -p ${agent.mqttPort} -u station-4w -P demo -t ward/${trigger.deviceId}/command -m '${payload}'`
            : `  mosquitto_pub -h localhost -p ${agent.mqttsPort} --cafile ${agent.tls.certFile} -u station-4w -P demo -t ward/${trigger.deviceId}/command -m '${payload}'`,
          'or, with nothing else installed:',
          `  npx wardwatch sim command --broker mqtt://localhost:${agent.mqttPort} -u station-4w -P demo ${trigger.deviceId} set_rate rate_ml_h=${trigger.rateMlPerHour}`,
          'The same command as guest (-u guest) gives an unauthorized-command alert. Either also raises',
          '"account-concurrent-session": the simulated station is logged in as station-4w already, and it is true.',
        );
      }
      lines.push('', 'Alerts appear below and on the dashboard. Ctrl-C stops.', '');
      process.stdout.write(lines.join('\n'));
      stopOnSignal(async () => {
        await fleet.stop();
        await agent.stop();
        process.stdout.write(`\nWardwatch demo stopped; alerts are kept in ${agent.alertLogFile} and wardwatch.db.\n`);
      });
    });
}
