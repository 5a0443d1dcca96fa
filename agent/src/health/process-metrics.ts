import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { MetricFamily } from './prometheus-text.ts';

/** Event-loop delay is sampled every this many ms (libuv timer) ... */
const LOOP_RESOLUTION_MS = 10;
/** ... and reported per window of this length: the last complete one. */
export const LOOP_WINDOW_MS = 10_000;

const NS_PER_S = 1e9;

/**
 * The process as the host sees it. Resident memory, CPU seconds and start time keep the
 * names every Prometheus client library uses ("Writing client libraries", process
 * metrics), so stock dashboards and alert rules work; Node's heap and event-loop delay,
 * which have no standard name, carry the `wardwatch_` prefix. A start/stop unit: the
 * event-loop monitor is a timer (DESIGN.md, principle 7: nothing runs from a constructor).
 */
export class ProcessMetrics {
  private loop: IntervalHistogram | null = null;
  private window: NodeJS.Timeout | null = null;
  private lastWindow: { readonly p99: number; readonly max: number } | null = null;

  start(): void {
    if (this.loop !== null) return;
    const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    loop.enable();
    this.loop = loop;
    this.window = setInterval(() => {
      this.lastWindow = this.current();
      loop.reset();
    }, LOOP_WINDOW_MS);
    this.window.unref();
  }

  stop(): void {
    if (this.window !== null) clearInterval(this.window);
    this.window = null;
    this.loop?.disable();
    this.loop = null;
  }

  /** The delay so far in the running window (before the first window ends, the only figures there are). */
  private current(): { p99: number; max: number } {
    const loop = this.loop;
    if (loop === null || loop.count === 0) return { p99: 0, max: 0 };
    return { p99: loop.percentile(99) / NS_PER_S, max: loop.max / NS_PER_S };
  }

  families(now = Date.now()): MetricFamily[] {
    const cpu = process.cpuUsage();
    const memory = process.memoryUsage();
    const loop = this.lastWindow ?? this.current();
    return [
      { name: 'process_cpu_seconds_total', help: 'Total user and system CPU time spent in seconds.', type: 'counter', samples: [{ value: (cpu.user + cpu.system) / 1e6 }] },
      { name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes.', type: 'gauge', samples: [{ value: memory.rss }] },
      { name: 'process_start_time_seconds', help: 'Start time of the process since unix epoch in seconds.', type: 'gauge', samples: [{ value: Math.round((now / 1000 - process.uptime()) * 1000) / 1000 }] },
      { name: 'wardwatch_nodejs_heap_used_bytes', help: 'V8 heap in use, in bytes.', type: 'gauge', samples: [{ value: memory.heapUsed }] },
      { name: 'wardwatch_nodejs_heap_total_bytes', help: 'V8 heap reserved, in bytes.', type: 'gauge', samples: [{ value: memory.heapTotal }] },
      { name: 'wardwatch_event_loop_lag_seconds', help: `Event-loop delay, 99th percentile over the last ${LOOP_WINDOW_MS / 1000} s window: how late timers and sockets are served.`, type: 'gauge', samples: [{ value: loop.p99 }] },
      { name: 'wardwatch_event_loop_lag_max_seconds', help: `Event-loop delay, maximum over the last ${LOOP_WINDOW_MS / 1000} s window.`, type: 'gauge', samples: [{ value: loop.max }] },
    ];
  }
}
