/**
 * Replay throughput and memory, side by side with TShark extracting the same fields from
 * the same file in the same run (issue 7: at least ten times faster, memory flat as the
 * file grows). Run: `npm run bench:replay` (MESSAGES=1000000 by default).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { readFileSync } from 'node:fs';
import { generateCapture } from './generate-capture.ts';

const run = promisify(execFile);
const MESSAGES = Number(process.env.MESSAGES ?? 1_000_000);

/** Wall seconds and peak RSS (MiB) of a command, by GNU time. */
async function measure(command: string, args: string[]): Promise<{ seconds: number; maxRssMiB: number; stdout: string }> {
  const { stdout, stderr } = await run('/usr/bin/time', ['-f', 'TIME %e %M', command, ...args], { maxBuffer: 1 << 30 });
  const match = /TIME ([\d.]+) (\d+)/.exec(stderr);
  if (match === null) throw new Error(`no timing from /usr/bin/time: ${stderr.slice(-500)}`);
  return { seconds: Number(match[1]), maxRssMiB: Number(match[2]) / 1024, stdout };
}

const dir = mkdtempSync(join(tmpdir(), 'wardwatch-replay-bench-'));
try {
  // The synthetic pump's Modbus server is 10.4.1.11:502; the config names it pump-01.
  const doc = parse(readFileSync('config/demo.yaml', 'utf8')) as Record<string, any>;
  doc.modbus.gateways = [{ device: 'pump-01', listenPort: 0, target: '10.4.1.11:502' }];
  const config = join(dir, 'site.yaml');
  writeFileSync(config, stringify(doc));
  const rows: string[] = [];
  for (const messages of [MESSAGES, 2 * MESSAGES]) {
    const file = join(dir, `ward-${messages}.pcap`);
    await generateCapture(file, messages);
    const size = statSync(file).size / 1_048_576;
    const wardwatch = await measure(process.execPath, ['bin/wardwatch.js', 'replay', file, '--config', config, '--json', '--no-progress']);
    const summary = JSON.parse(wardwatch.stdout.trim().split('\n').at(-1) ?? '{}') as { modbus?: Record<string, number>; mqtt?: Record<string, number> };
    const decoded = Object.values(summary.modbus ?? {}).reduce((a, b) => a + b, 0) + Object.values(summary.mqtt ?? {}).reduce((a, b) => a + b, 0);
    const tshark = messages === MESSAGES
      ? await measure('tshark', ['-r', file, '-n', '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'ip.src', '-e', 'modbus.func_code', '-e', 'modbus.reference_num', '-e', 'mqtt.msgtype', '-e', 'mqtt.topic'])
      : null;
    rows.push(`${String(messages).padStart(9)} messages, ${size.toFixed(0).padStart(4)} MiB | wardwatch ${wardwatch.seconds.toFixed(1).padStart(6)} s, ${(messages / wardwatch.seconds / 1000).toFixed(0).padStart(5)} k msg/s, peak RSS ${wardwatch.maxRssMiB.toFixed(0).padStart(4)} MiB, ${decoded} decoded` +
      (tshark === null ? '' : ` | tshark ${tshark.seconds.toFixed(1).padStart(6)} s, peak RSS ${tshark.maxRssMiB.toFixed(0)} MiB | wardwatch ${(tshark.seconds / wardwatch.seconds).toFixed(1)}× faster`));
    rmSync(file);
  }
  console.log(rows.join('\n'));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
