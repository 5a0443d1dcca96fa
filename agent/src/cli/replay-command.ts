import { createReadStream, statSync } from 'node:fs';
import type { Command } from 'commander';
import { pino } from 'pino';
import type { AlertSink } from '../alert/alert-sink.ts';
import { CaptureIngest } from '../ingest/capture-ingest.ts';
import type { Observation } from '../ingest/observation.ts';
import { createMonitor } from '../monitor.ts';
import { functionName } from '../protocol/modbus/index.ts';
import type { AlertView } from '../server/dashboard-protocol.ts';
import { loadConfigOrExit } from './config-commands.ts';
import { EXIT_USAGE, parsePort, DEMO_CONFIG } from './options.ts';

interface ReplayOptions {
  readonly config: string;
  readonly alertsOnly?: boolean;
  readonly json?: boolean;
  readonly progress: boolean;
  readonly mqttPort: number[];
  readonly modbusPort: number[];
}

function collectPort(value: string, previous: number[]): number[] {
  const port = parsePort(value);
  return [...previous, port];
}

/** Counts of what a replay saw, by protocol and type. */
class ReplayCounts {
  readonly modbus = new Map<string, number>();
  readonly mqtt = new Map<string, number>();
  readonly anomalies = new Map<string, number>();

  note(observation: Observation): void {
    switch (observation.kind) {
      case 'modbus-request':
        bump(this.modbus, `request ${functionName(observation.pdu[0] ?? 0)}`);
        return;
      case 'modbus-response':
        bump(this.modbus, (observation.pdu[0] ?? 0) >= 0x80 ? `exception ${functionName((observation.pdu[0] ?? 0) & 0x7f)}` : `response ${functionName(observation.pdu[0] ?? 0)}`);
        return;
      case 'modbus-anomaly':
        bump(this.anomalies, `modbus-${observation.name}`);
        return;
      case 'mqtt-anomaly':
        bump(this.anomalies, `mqtt-${observation.name}`);
        return;
      case 'capture-anomaly':
        // Counted with the decoder's own anomalies (its summary), which are added at the end.
        return;
      default:
        bump(this.mqtt, observation.kind.replace(/^mqtt-/, ''));
    }
  }
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function table(title: string, map: ReadonlyMap<string, number>): string[] {
  if (map.size === 0) return [`${title}: none`];
  return [`${title}:`, ...[...map].sort((a, b) => b[1] - a[1]).map(([key, count]) => `  ${String(count).padStart(9)}  ${key}`)];
}

/** A one-line progress bar on stderr: bytes done, throughput, time left. */
function progressLine(done: number, total: number, startedAt: number): string {
  const elapsed = Math.max(0.001, (Date.now() - startedAt) / 1000);
  const rate = done / elapsed;
  const fraction = total > 0 ? Math.min(1, done / total) : 0;
  const width = 30;
  const bar = '#'.repeat(Math.round(fraction * width)).padEnd(width, '.');
  const eta = rate > 0 ? Math.max(0, (total - done) / rate) : 0;
  return `\r[${bar}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${(rate / 1_048_576).toFixed(1)} MiB/s  ETA ${eta.toFixed(0)} s `;
}

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description('run a pcap or pcapng capture (a file, or - for standard input) through the detectors, with event time from the capture')
    .argument('<capture>', 'capture file, or - to read a stream such as `tcpdump -U -w -`')
    .option('-c, --config <file>', 'site configuration (devices, drug library, policy, Modbus gateway targets)', DEMO_CONFIG)
    .option('--alerts-only', 'print only the alerts, no summary')
    .option('--json', 'JSON lines: one per alert, then one summary object')
    .option('--no-progress', 'no progress bar on standard error')
    .option('--mqtt-port <port>', 'also decode this server port as MQTT (repeatable; the config\'s capture.mqttPorts too)', collectPort, [])
    .option('--modbus-port <port>', 'also decode this server port as Modbus/TCP (repeatable)', collectPort, [])
    .action(async (capture: string, options: ReplayOptions) => {
      const config = await loadConfigOrExit(options.config, { warnings: false });
      const json = options.json === true;
      const print = (line: string): void => {
        process.stdout.write(`${line}\n`);
      };
      const printer: AlertSink = {
        name: 'replay-output',
        alertRaised: (alert: AlertView) => print(json ? JSON.stringify({ event: 'alert', ...alert }) : `${alert.ts}  ${alert.severity.toUpperCase().padEnd(8)} ${alert.title}`),
        alertUpdated: () => undefined,
      };
      const monitor = createMonitor(config, { sinks: [printer], logger: pino({ level: 'silent' }) });
      const counts = new ReplayCounts();
      const inspectionFailures: string[] = [];
      const ingest = new CaptureIngest({
        config,
        ingest: (observation) => {
          counts.note(observation);
          return monitor.pipeline.ingest(observation);
        },
        onInspectionFailure: (deviceId, _master, error) => inspectionFailures.push(`${deviceId}: ${(error as Error).message}`),
        mqttPorts: options.mqttPort,
        modbusPorts: options.modbusPort,
      });

      let total = 0;
      if (capture !== '-') {
        try {
          total = statSync(capture).size;
        } catch (error) {
          process.stderr.write(`wardwatch: cannot read ${capture}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}\n`);
          process.exit(EXIT_USAGE);
        }
      }
      const input = capture === '-' ? process.stdin : createReadStream(capture, { highWaterMark: 1 << 20 });
      const showProgress = options.progress && !json && capture !== '-' && process.stderr.isTTY === true;
      const startedAt = Date.now();
      let done = 0;
      let lastDrawn = 0;
      for await (const chunk of input as AsyncIterable<Buffer>) {
        ingest.push(chunk);
        done += chunk.length;
        if (showProgress && Date.now() - lastDrawn > 250) {
          lastDrawn = Date.now();
          process.stderr.write(progressLine(done, total, startedAt));
        }
      }
      const summary = ingest.end();
      monitor.alerts.flush();
      if (showProgress) process.stderr.write(`${progressLine(done, total, startedAt)}\n`);
      if (summary.records === 0 && (summary.anomalies['pcap-bad-magic'] ?? 0) > 0) {
        process.stderr.write(`wardwatch: ${capture} is not a pcap or pcapng capture\n`);
        process.exit(EXIT_USAGE);
      }
      for (const [name, count] of Object.entries(summary.anomalies)) counts.anomalies.set(name, (counts.anomalies.get(name) ?? 0) + count);
      // Anomalies the normalizer found in decoded payloads (not JSON, unknown device…), not already counted above.
      for (const [name, count] of monitor.health.anomalies) if (!counts.anomalies.has(name)) counts.anomalies.set(name, count);
      const alertsByType = new Map<string, number>();
      for (const alert of monitor.alerts.list()) bump(alertsByType, `${alert.type} (${alert.severity})`);
      const seconds = (Date.now() - startedAt) / 1000;
      if (json) {
        print(JSON.stringify({
          event: 'summary',
          bytes: done,
          seconds,
          records: summary.records,
          tcpSegments: summary.tcpSegments,
          ipFragments: { taken: summary.ipFragments, reassembled: summary.ipReassembled },
          flows: { modbus: summary.modbusFlows, mqtt: summary.mqttFlows, other: summary.otherFlows },
          modbus: Object.fromEntries(counts.modbus),
          mqtt: Object.fromEntries(counts.mqtt),
          anomalies: Object.fromEntries(counts.anomalies),
          alerts: Object.fromEntries(alertsByType),
          inspectionFailures,
          maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
        }));
        return;
      }
      if (options.alertsOnly === true) return;
      print([
        '',
        `${capture}: ${summary.records} records, ${summary.tcpSegments} TCP segments${summary.ipFragments > 0 ? ` (${summary.ipFragments} IP fragments, ${summary.ipReassembled} datagrams reassembled)` : ''}, ${(done / 1_048_576).toFixed(1)} MiB in ${seconds.toFixed(1)} s`,
        `flows: ${summary.modbusFlows} Modbus/TCP, ${summary.mqttFlows} MQTT, ${summary.otherFlows} other (not decoded)`,
        ...table('Modbus frames', counts.modbus),
        ...table('MQTT', counts.mqtt),
        ...table('anomalies', counts.anomalies),
        ...table('alerts', alertsByType),
      ].join('\n'));
    });
}
