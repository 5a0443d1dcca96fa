/**
 * The agent's memory with a large ward: `wardwatch agent` as a separate process, as it runs
 * on a Pi (tsx, the dashboard bundled by esbuild at start, the embedded broker, every
 * detector, the alert store), and `wardwatch sim fleet` with the same config publishing
 * the ward's traffic to it over MQTT on loopback. The agent's resident set (VmRSS, and
 * the peak VmHWM, from /proc) is sampled every few seconds, with that of its child
 * processes (esbuild's service stays alive after the bundle). Prints a table of samples
 * and a summary to paste into docs/benchmarks.md. Run: `npm run bench:memory`.
 *
 * Settings (environment): MINUTES of traffic (5), SPEED of the simulated ward in simulated
 * seconds per real second (1 = real time; 60 = an hour of ward per minute), SAMPLE_SECONDS
 * (5), CONFIG (config/large-ward.yaml: 54 devices), SEED (1). Linux only (/proc).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MINUTES = Number(process.env.MINUTES ?? 5);
const SPEED = Number(process.env.SPEED ?? 1);
const SAMPLE_SECONDS = Number(process.env.SAMPLE_SECONDS ?? 5);
const CONFIG = process.env.CONFIG ?? 'config/large-ward.yaml';
const SEED = process.env.SEED ?? '1';
const CLI = 'bin/wardwatch.js';
/** Waits for the agent's start-up line (tsx, esbuild and the self-signed certificate take a few seconds on a Pi). */
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

interface Sample {
  readonly seconds: number;
  /** The agent process's VmRSS, kB. */
  readonly agentKb: number;
  /** The agent's child processes (esbuild), kB. */
  readonly childrenKb: number;
  /** The agent process's peak resident set so far (VmHWM), kB. */
  readonly peakKb: number;
}

function statusField(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match === null ? 0 : Number(match[1]);
}

/** Every descendant of `pid` (children of each thread's task), for esbuild's service process. */
function descendants(pid: number): number[] {
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift() as number;
    let children = '';
    try {
      children = readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const child of children.trim().split(/\s+/).filter((text) => text !== '').map(Number)) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

function sample(pid: number, startedAt: number): Sample {
  let childrenKb = 0;
  for (const child of descendants(pid)) {
    try {
      childrenKb += statusField(child, 'VmRSS');
    } catch {
      // the child ended between the listing and the read
    }
  }
  return { seconds: Math.round((Date.now() - startedAt) / 1000), agentKb: statusField(pid, 'VmRSS'), childrenKb, peakKb: statusField(pid, 'VmHWM') };
}

function mb(kb: number): string {
  return (kb / 1024).toFixed(1);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** Resolves with the first stdout line matching `pattern`, or rejects when the process exits or the time is up. */
function waitForLine(child: ChildProcess, pattern: RegExp, what: string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${START_TIMEOUT_MS} ms: ${stderr.slice(-2000)}`)), START_TIMEOUT_MS);
    child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered = (buffered + chunk.toString()).slice(-16_000);
      const match = pattern.exec(buffered);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) before starting: ${stderr.slice(-2000)}`));
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

async function agentFlags(): Promise<string> {
  const help = spawn(process.execPath, [CLI, 'agent', '--help'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let text = '';
  help.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  await new Promise((resolve) => help.once('exit', resolve));
  return text;
}

/** Sums of the agent's observation and alert counters on /metrics (Prometheus text format). */
async function counterTotals(metricsUrl: string): Promise<{ observations: number; alerts: number }> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const sum = (name: string): number => text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  return { observations: sum('wardwatch_observations_total'), alerts: sum('wardwatch_alerts_raised_total') };
}

const dataDir = mkdtempSync(join(tmpdir(), 'wardwatch-memory-'));
// Free ports everywhere, so that the bench runs beside another agent; /metrics too when
// this agent has it (its default 9464 may be taken).
const metricsArgs = (await agentFlags()).includes('--metrics-port') ? ['--metrics-port', '0'] : [];
const agent = spawn(process.execPath, [CLI, 'agent', '--config', CONFIG, '--data-dir', dataDir, '--mqtt-port', '0', '--mqtts-port', 'off', '--http-port', '0', ...metricsArgs, '--log-level', 'warn'], {
  stdio: ['ignore', 'pipe', 'pipe'],
});
let ward: ChildProcess | null = null;
try {
  const started = await waitForLine(agent, /MQTT on [^ ]+:(\d+)[^\n]*\n/, 'the agent');
  const mqttPort = Number(started[1]);
  const metricsUrl = /metrics and health on (http:\/\/\S+:\d+)/.exec(started[0])?.[1] ?? null;
  const observationsAtStart = metricsUrl === null ? null : await counterTotals(metricsUrl);
  const pid = agent.pid as number;
  const startedAt = Date.now();
  const idle = sample(pid, startedAt);
  ward = spawn(process.execPath, [CLI, 'sim', 'fleet', '--broker', `mqtt://127.0.0.1:${mqttPort}`, '--config', CONFIG, '--speed', String(SPEED), '--seed', SEED], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  ward.stderr?.resume();
  const samples: Sample[] = [];
  const endAt = Date.now() + MINUTES * 60_000;
  process.stdout.write(`agent pid ${pid}, ${CONFIG}, ward at speed ${SPEED}, ${MINUTES} min, sample every ${SAMPLE_SECONDS} s\n`);
  process.stdout.write(`idle after start: agent ${mb(idle.agentKb)} MB, children ${mb(idle.childrenKb)} MB\n\n| s | agent RSS MB | children MB | agent peak MB |\n|---:|---:|---:|---:|\n`);
  while (Date.now() < endAt) {
    await new Promise((resolve) => setTimeout(resolve, SAMPLE_SECONDS * 1000));
    if (agent.exitCode !== null) throw new Error(`the agent exited (${agent.exitCode}) during the run`);
    if (ward.exitCode !== null) throw new Error(`the simulated ward exited (${ward.exitCode}) during the run`);
    const current = sample(pid, startedAt);
    samples.push(current);
    process.stdout.write(`| ${current.seconds} | ${mb(current.agentKb)} | ${mb(current.childrenKb)} | ${mb(current.peakKb)} |\n`);
  }
  const agentValues = samples.map((entry) => entry.agentKb);
  const totals = samples.map((entry) => entry.agentKb + entry.childrenKb);
  // The second half of the run, once start-up and the first garbage collections are
  // behind: its spread and net change, not a rate (a few minutes extrapolated to hours is noise).
  const secondHalf = samples.slice(Math.floor(samples.length / 2)).map((entry) => entry.agentKb);
  const netChange = (secondHalf.at(-1) ?? NaN) - (secondHalf[0] ?? NaN);
  process.stdout.write(
    `\nsummary: ${CONFIG}, speed ${SPEED}, ${MINUTES} min (${((MINUTES * 60 * SPEED) / 3600).toFixed(2)} simulated h)\n` +
      `  agent RSS: idle ${mb(idle.agentKb)} MB, median ${mb(median(agentValues))} MB, max ${mb(Math.max(...agentValues))} MB, peak (VmHWM) ${mb(Math.max(...samples.map((entry) => entry.peakKb)))} MB\n` +
      `  agent + children (esbuild): median ${mb(median(totals))} MB, max ${mb(Math.max(...totals))} MB\n` +
      `  second half: ${mb(Math.min(...secondHalf))}–${mb(Math.max(...secondHalf))} MB, net change ${netChange >= 0 ? '+' : ''}${mb(netChange)} MB\n`,
  );
  if (metricsUrl !== null && observationsAtStart !== null) {
    // What the agent actually took in (the simulator may fall behind its nominal speed on a busy machine).
    const end = await counterTotals(metricsUrl);
    const seconds = (samples.at(-1)?.seconds ?? 0) || 1;
    const observed = end.observations - observationsAtStart.observations;
    process.stdout.write(`  traffic: ${observed} observations (${(observed / seconds).toFixed(0)} per second), ${end.alerts - observationsAtStart.alerts} alerts raised\n`);
  }
} finally {
  if (ward !== null) await stop(ward);
  await stop(agent);
  rmSync(dataDir, { recursive: true, force: true });
}
