import { spawn } from 'node:child_process';

/**
 * `promtool check metrics` (Debian package prometheus) on an exposition read from stdin:
 * exit 0 when it parses and passes the linter (HELP present, `_total` on counters and on
 * nothing else, base units, ...), 3 for lint problems, 1 for a parse error; the problems
 * are on stdout/stderr.
 */
export function promtoolCheckMetrics(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
    child.stdin.end(text);
  });
}
