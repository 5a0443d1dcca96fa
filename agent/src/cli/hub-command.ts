import type { Command } from 'commander';
import { pino } from 'pino';
import { loadHubConfig } from '../hub/hub-config.ts';
import { startHub } from '../hub/hub.ts';
import type { ConfigIssue } from '../model/site-schema.ts';
import { DEFAULT_TLS } from '../tls/server-tls.ts';
import { EXIT_USAGE, parsePort } from './options.ts';
import { startOrExit, stopOnSignal } from './run-until-signal.ts';
import { tlsBanner } from './tls-banner.ts';

interface HubCommandOptions {
  readonly config: string;
  readonly dataDir: string;
  readonly httpHost: string;
  readonly httpPort: number;
  readonly logLevel: string;
}

function printIssues(file: string, issues: readonly ConfigIssue[], label: string): void {
  for (const issue of issues) process.stderr.write(`${file}: ${label} ${issue.path}: ${issue.message}\n`);
}

/** `wardwatch hub`: the central dashboard over many wards (agent/src/hub/, docs/operations.md "Many wards"). */
export function registerHubCommand(program: Command): void {
  program
    .command('hub')
    .description('run the central dashboard over many wards: reads every ward\'s alerts, health and devices from the hospital\'s central MQTT broker (each agent\'s uplink)')
    .requiredOption('-c, --config <file>', 'hub configuration (YAML): site name, broker url, credentials, CA, topic prefix, expected wards; see docs/operations.md')
    .option('-d, --data-dir <dir>', 'the hub\'s own data: users (wardwatch users add … -d DIR), audit log, alerts (hub-alerts.db), self-signed certificate', './wardwatch-hub-data')
    .option('--http-host <address>', 'address the dashboard listens on (0.0.0.0 for other machines; keep TLS on)', '127.0.0.1')
    .option('--http-port <port>', 'dashboard port, HTTPS unless the config\'s tls.mode is off (0 = any free port, logged)', parsePort, 8090)
    .option('--log-level <level>', 'fatal, error, warn, info, debug', 'info')
    .action(async (options: HubCommandOptions) => {
      const loaded = await loadHubConfig(options.config);
      if (!loaded.ok) {
        printIssues(options.config, loaded.issues, 'error');
        process.stderr.write(`${options.config}: ${loaded.issues.length} problem${loaded.issues.length === 1 ? '' : 's'}; nothing was started.\n`);
        process.exit(EXIT_USAGE);
      }
      printIssues(options.config, loaded.warnings, 'warning');
      const { config } = loaded;
      const hub = await startOrExit('the hub', () =>
        startHub({
          config,
          dataDir: options.dataDir,
          httpHost: options.httpHost,
          httpPort: options.httpPort,
          tls: config.tls ?? DEFAULT_TLS,
          logger: pino({ level: options.logLevel }),
        }),
      );
      process.stdout.write(`wardwatch hub: dashboard ${hub.url}, wards from ${config.broker.url} under ${config.broker.topicPrefix}/\n`);
      if (hub.tls !== null) process.stdout.write(`${tlsBanner(hub.tls).join('\n')}\n`);
      stopOnSignal(() => hub.stop());
    });
}
