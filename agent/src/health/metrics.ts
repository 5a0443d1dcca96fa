import { renderExposition, type MetricFamily } from './prometheus-text.ts';

/** Reads its counters when scraped and returns their families; it keeps none of its own. */
export type MetricsCollector = () => Iterable<MetricFamily>;

/**
 * A tiny registry: the counters live where the pipeline already counts (agent-health.ts,
 * detection-engine.ts, alert-manager.ts, the outbound channels), and collectors read them
 * only when /metrics is scraped, so the hot path pays nothing for the exposition. A
 * collector that throws is skipped and counted; the other families are still served
 * (DESIGN.md, principle 7).
 */
export class MetricsRegistry {
  private readonly collectors: { readonly name: string; readonly collect: MetricsCollector }[] = [];
  private readonly failures = new Map<string, number>();

  register(name: string, collect: MetricsCollector): void {
    this.collectors.push({ name, collect });
    this.failures.set(name, 0);
  }

  collect(): MetricFamily[] {
    const families: MetricFamily[] = [];
    for (const collector of this.collectors) {
      try {
        families.push(...collector.collect());
      } catch {
        this.failures.set(collector.name, (this.failures.get(collector.name) ?? 0) + 1);
      }
    }
    families.push({
      name: 'wardwatch_metrics_collector_failures_total',
      help: 'Scrapes in which a group of metrics could not be read and was left out, by group.',
      type: 'counter',
      samples: [...this.failures].map(([collector, value]) => ({ labels: { collector }, value })),
    });
    return families;
  }

  render(): string {
    return renderExposition(this.collect());
  }
}
