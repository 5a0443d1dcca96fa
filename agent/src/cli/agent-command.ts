import type { Command } from 'commander';
import { pino } from 'pino';
import { createReadStream } from 'node:fs';
import { startAgent } from '../app.ts';
import { CaptureIngest } from '../ingest/capture-ingest.ts';
import { loadConfigOrExit } from './config-commands.ts';
import { DEFAULT_TLS } from '../tls/server-tls.ts';
import { offPortsAsNull, parsePort, parsePortOrOff } from './options.ts';
import { tlsBanner } from './tls-banner.ts';
import { startOrExit, stopOnSignal } from './run-until-signal.ts';

interface AgentCommandOptions {
  readonly config: string;
  readonly dataDir: string;
  readonly mqttHost: string;
  readonly mqttPort: number | null;
  readonly mqttsPort: number | null;
  readonly httpHost: string;
  readonly httpPort: number;
  readonly modbusHost: string;
  readonly modbusPort?: number;
  readonly metricsHost: string;
  readonly metricsPort: number | null;
  readonly logLevel: string;
  readonly capture?: string;
  readonly tap?: string;
}

export function registerAgentCommand(program: Command): void {
  program
    .command('agent')
    .description('run the monitor: embedded MQTT broker and Modbus/TCP gateways in the path (or a tap, or a capture beside it), detectors, alert store and dashboard')
    .requiredOption('-c, --config <file>', 'site configuration (YAML); check it first with `wardwatch config check`')
    .option('-d, --data-dir <dir>', 'where alerts are stored (wardwatch.db, alerts.jsonl), and the self-signed certificate (tls/)', './wardwatch-data')
    .option('--mqtt-host <address>', 'address the MQTT broker listens on', '0.0.0.0')
    .option('--mqtt-port <port>', 'plain MQTT port (0 = any free port, logged; off = none, devices must use mqtts)', parsePortOrOff, 1883)
    .option('--mqtts-port <port>', 'MQTT over TLS port, with the certificate of config tls (0 = any free port; off = none)', parsePortOrOff, 8883)
    .option('--http-host <address>', 'address the dashboard listens on: 127.0.0.1 for this machine only (the default), 0.0.0.0 for the nurses\' stations (it asks for a login; keep TLS on)', '127.0.0.1')
    .option('--http-port <port>', 'dashboard port, HTTPS unless config tls.mode is off (0 = any free port, logged)', parsePort, 8080)
    .option('--modbus-host <address>', 'address the Modbus/TCP gateways listen on', '0.0.0.0')
    .option('--modbus-port <port>', 'move the gateways of config modbus.gateways: the i-th listens on port + i (0 = each on a free port, logged)', parsePort)
    .option('--metrics-host <address>', 'address /metrics (Prometheus) and /healthz listen on, plain HTTP without login: counts only, no patient data', '127.0.0.1')
    .option('--metrics-port <port>', 'port of /metrics and /healthz (0 = any free port, logged; off = none)', parsePortOrOff, 9464)
    .option('--tap <url>', 'also watch the site\'s existing broker by subscribing to # there, e.g. mqtt://broker:1883 (credentials: the config\'s tap section); senders are not visible this way')
    .option('--capture <file|->', 'also watch a capture: a pcap/pcapng file, or - for a live stream such as `tcpdump -i eth1 --immediate-mode -U -w - \'port 1883 or port 502\'` (the agent needs no capture privilege)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug', 'info')
    .action(async (parsed: AgentCommandOptions) => {
      const options = offPortsAsNull(parsed, ['mqttPort', 'mqttsPort', 'metricsPort']);
      const config = await loadConfigOrExit(options.config);
      const logger = pino({ level: options.logLevel });
      const agent = await startOrExit('the agent', () =>
        startAgent({
          config,
          dataDir: options.dataDir,
          mqttHost: options.mqttHost,
          mqttPort: options.mqttPort,
          mqttsPort: options.mqttsPort,
          // No tls section: a self-signed pair in the data directory, so a fresh install is encrypted.
          tls: config.tls ?? DEFAULT_TLS,
          httpHost: options.httpHost,
          httpPort: options.httpPort,
          modbusHost: options.modbusHost,
          metricsHost: options.metricsHost,
          metricsPort: options.metricsPort,
          ...(options.tap === undefined ? {} : { tapUrl: options.tap }),
          ...(options.modbusPort === undefined ? {} : { modbusPort: options.modbusPort }),
          logger,
        }),
      );
      const modbus = [...agent.modbusPorts].map(([device, port]) => `${device}:${port}`).join(', ');
      const mqtt = [
        ...(agent.mqttPort === null ? [] : [`MQTT on ${options.mqttHost}:${agent.mqttPort}`]),
        ...(agent.mqttsPort === null ? [] : [`MQTT over TLS on ${options.mqttHost}:${agent.mqttsPort}`]),
      ].join(', ');
      const metrics = agent.metricsPort !== null
        ? `, metrics and health on http://${options.metricsHost.includes(':') ? `[${options.metricsHost}]` : options.metricsHost}:${agent.metricsPort} (/metrics, /healthz)`
        : options.metricsPort === null ? '' : `, NO metrics and health (could not listen on port ${options.metricsPort}, see the log)`;
      process.stdout.write(`wardwatch agent: ${mqtt}, dashboard ${agent.url}${metrics}, alerts in ${agent.alertLogFile}${modbus.length > 0 ? `, Modbus gateways ${modbus}` : ''}\n`);
      if (agent.tls !== null) process.stdout.write(`${tlsBanner(agent.tls).join('\n')}\n`);
      if (options.capture !== undefined) {
        const ingest = new CaptureIngest({
          config,
          ingest: (observation) => agent.pipeline.ingest(observation, 'capture'),
          onInspectionFailure: (deviceId, master, error) => logger.error({ err: error, deviceId, master }, 'inspection of a captured request failed'),
        });
        const input = options.capture === '-' ? process.stdin : createReadStream(options.capture);
        input.on('data', (chunk: Buffer | string) => ingest.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk));
        input.on('end', () => {
          const summary = ingest.end();
          logger.info({ records: summary.records, modbusFlows: summary.modbusFlows, mqttFlows: summary.mqttFlows, anomalies: summary.anomalies }, 'capture input ended');
        });
        input.on('error', (error: Error) => logger.error({ err: error }, 'capture input failed'));
      }
      stopOnSignal(() => agent.stop());
    });
}
