/**
 * The Prometheus text exposition format, version 0.0.4 (prometheus.io/docs/instrumenting/
 * exposition_formats, "Text-based format"): per family a `# HELP` and a `# TYPE` line,
 * then its samples, one per line, `\n` line ends, the last line ended too.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface Sample {
  /** Appended to the family name: `_bucket`, `_sum`, `_count` for a histogram; none otherwise. */
  readonly suffix?: '_bucket' | '_sum' | '_count';
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly samples: readonly Sample[];
}

/** Exposition formats, "Text format details": metric names `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** Label names `[a-zA-Z_][a-zA-Z0-9_]*`; names starting with `__` are reserved (data model). */
const LABEL_NAME = /^(?!__)[a-zA-Z_][a-zA-Z0-9_]*$/;

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** HELP docstrings escape `\` as `\\` and a line feed as `\n` (nothing else). */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Label values escape `\` as `\\`, `"` as `\"` and a line feed as `\n`. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Values are Go floats: `NaN`, `+Inf` and `-Inf` spelt so; JavaScript's number text otherwise parses as one. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function formatLabels(labels: Readonly<Record<string, string>> | undefined, family: string): string {
  if (labels === undefined) return '';
  const pairs: string[] = [];
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name)) throw new Error(`metric ${family}: invalid label name ${JSON.stringify(name)}`);
    pairs.push(`${name}="${escapeLabelValue(value)}"`);
  }
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

/**
 * Renders the families in the order given. Names are ours, so a bad one is a programming
 * error and throws; label values come from the wire or the config and are escaped.
 */
export function renderExposition(families: Iterable<MetricFamily>): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const family of families) {
    if (!METRIC_NAME.test(family.name)) throw new Error(`invalid metric name ${JSON.stringify(family.name)}`);
    // "Only one TYPE line may exist for a given metric name", and a family's samples are one group.
    if (seen.has(family.name)) throw new Error(`metric ${family.name} rendered twice`);
    seen.add(family.name);
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      lines.push(`${family.name}${sample.suffix ?? ''}${formatLabels(sample.labels, family.name)} ${formatValue(sample.value)}`);
    }
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
