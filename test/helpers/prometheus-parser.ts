/**
 * A strict reader of the Prometheus text exposition format 0.0.4
 * (prometheus.io/docs/instrumenting/exposition_formats, "Text format details"): it throws
 * on anything the format does not allow or that a scraper would take badly, naming the
 * line, instead of guessing. Written from the format description, not from the agent's
 * renderer, so that the two can disagree.
 */

export interface ParsedSample {
  /** The sample's own name (with `_bucket`, `_sum`, `_count` for a histogram). */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface ParsedFamily {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: ParsedSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseFloatStrict(text: string, where: string): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: not a float: ${JSON.stringify(text)}`);
  return Number(text);
}

function unescapeHelp(text: string, where: string): string {
  return text.replace(/\\(.?)/g, (_, next: string) => {
    if (next === '\\') return '\\';
    if (next === 'n') return '\n';
    throw new Error(`${where}: invalid escape \\${next} in HELP`);
  });
}

/** `{a="x",b="y"}` at the start of `rest`; returns the labels and what follows. */
function parseLabels(rest: string, where: string): { labels: Record<string, string>; after: string } {
  const labels: Record<string, string> = {};
  let i = 1;
  for (;;) {
    if (rest[i] === '}') return { labels, after: rest.slice(i + 1) };
    const name = LABEL_NAME.exec(rest.slice(i))?.[0];
    if (name === undefined) throw new Error(`${where}: bad label name at ${JSON.stringify(rest.slice(i, i + 20))}`);
    if (name.startsWith('__')) throw new Error(`${where}: reserved label name ${name}`);
    if (name in labels) throw new Error(`${where}: label ${name} given twice`);
    i += name.length;
    if (rest[i] !== '=' || rest[i + 1] !== '"') throw new Error(`${where}: expected =" after label ${name}`);
    i += 2;
    let value = '';
    for (;;) {
      const char = rest[i];
      if (char === undefined) throw new Error(`${where}: unterminated label value`);
      if (char === '"') break;
      if (char === '\\') {
        const next = rest[i + 1];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else throw new Error(`${where}: invalid escape \\${next ?? ''} in label value`);
        i += 2;
      } else {
        value += char;
        i += 1;
      }
    }
    labels[name] = value;
    i += 1;
    if (rest[i] === ',') i += 1;
    else if (rest[i] !== '}') throw new Error(`${where}: expected , or } after label ${name}`);
  }
}

/** The family a sample belongs to: its own name, or without a histogram/summary suffix. */
function familyOf(name: string, families: ReadonlyMap<string, ParsedFamily>): ParsedFamily | undefined {
  const direct = families.get(name);
  if (direct !== undefined) return direct;
  const suffix = /(_bucket|_sum|_count)$/.exec(name);
  if (suffix === null) return undefined;
  const base = families.get(name.slice(0, -suffix[0].length));
  if (base === undefined) return undefined;
  if (suffix[1] === '_bucket' ? base.type !== 'histogram' : base.type !== 'histogram' && base.type !== 'summary') return undefined;
  return base;
}

function checkHistogram(family: ParsedFamily): void {
  const series = new Map<string, { buckets: { le: number; value: number }[]; sum?: number; count?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (sample.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      entry.buckets.push({ le: parseFloatStrict(le, `${family.name} le`), value: sample.value });
    } else if (sample.name.endsWith('_sum')) entry.sum = sample.value;
    else if (sample.name.endsWith('_count')) entry.count = sample.value;
    else throw new Error(`${family.name}: histogram sample ${sample.name} is not _bucket, _sum or _count`);
  }
  for (const [key, entry] of series) {
    const where = `${family.name}${key}`;
    if (entry.sum === undefined || entry.count === undefined) throw new Error(`${where}: histogram without _sum or _count`);
    const last = entry.buckets.at(-1);
    if (last === undefined || last.le !== Infinity) throw new Error(`${where}: the last bucket must be le="+Inf"`);
    if (last.value !== entry.count) throw new Error(`${where}: the +Inf bucket (${last.value}) must equal _count (${entry.count})`);
    for (let i = 1; i < entry.buckets.length; i += 1) {
      const previous = entry.buckets[i - 1] as { le: number; value: number };
      const bucket = entry.buckets[i] as { le: number; value: number };
      if (bucket.le <= previous.le) throw new Error(`${where}: bucket bounds must increase`);
      if (bucket.value < previous.value) throw new Error(`${where}: bucket counts must be cumulative`);
    }
  }
}

export function parsePrometheusText(text: string): Map<string, ParsedFamily> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the last line must end with a line feed');
  const families = new Map<string, ParsedFamily>();
  const seriesSeen = new Set<string>();
  let current: ParsedFamily | null = null;
  const lines = text.split('\n').slice(0, -1);
  lines.forEach((line, index) => {
    const where = `line ${index + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const comment = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t](.*))?$/.exec(line);
      if (comment === null) return; // other comments are allowed and ignored
      const [, keyword, name, rest = ''] = comment as unknown as [string, 'HELP' | 'TYPE', string, string | undefined];
      if (METRIC_NAME.exec(name)?.[0] !== name) throw new Error(`${where}: bad metric name ${name}`);
      let family = families.get(name);
      if (family === undefined) {
        family = { name, type: 'untyped', help: '', samples: [] };
        families.set(name, family);
      } else if (family !== current) throw new Error(`${where}: ${name} described again after other metrics`);
      if (family.samples.length > 0) throw new Error(`${where}: ${keyword} of ${name} after its samples`);
      current = family;
      if (keyword === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type ${JSON.stringify(rest)}`);
        if ((family as { typed?: boolean }).typed === true) throw new Error(`${where}: a second TYPE line for ${name}`);
        Object.assign(family, { type: rest, typed: true });
      } else {
        if ((family as { helped?: boolean }).helped === true) throw new Error(`${where}: a second HELP line for ${name}`);
        Object.assign(family, { help: unescapeHelp(rest, where), helped: true });
      }
      return;
    }
    const name = METRIC_NAME.exec(line)?.[0];
    if (name === undefined) throw new Error(`${where}: a sample must start with a metric name: ${JSON.stringify(line)}`);
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, after: rest } = parseLabels(rest, where));
    const fields = rest.trim().split(/[ \t]+/);
    if (!/^[ \t]/.test(rest) || fields.length < 1 || fields.length > 2) throw new Error(`${where}: expected a value and an optional timestamp: ${JSON.stringify(rest)}`);
    const value = parseFloatStrict(fields[0] as string, where);
    if (fields[1] !== undefined && !/^-?\d+$/.test(fields[1])) throw new Error(`${where}: the timestamp must be an integer`);
    let family = familyOf(name, families);
    if (family === undefined) {
      if (families.has(name)) throw new Error(`${where}: ${name} reappears after other metrics`);
      family = { name, type: 'untyped', help: '', samples: [] };
      families.set(name, family);
    }
    if (family !== current && family.samples.length > 0) throw new Error(`${where}: the samples of ${family.name} are not grouped together`);
    current = family;
    const series = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seriesSeen.has(series)) throw new Error(`${where}: series ${series} given twice`);
    seriesSeen.add(series);
    if (family.type === 'counter' && !(value >= 0)) throw new Error(`${where}: a counter must be ≥ 0, got ${value}`);
    family.samples.push({ name, labels, value });
  });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

/** The value of one series, or undefined; `labels` must match exactly. */
export function sampleValue(families: ReadonlyMap<string, ParsedFamily>, family: string, labels: Readonly<Record<string, string>> = {}, name = family): number | undefined {
  const wanted = JSON.stringify(Object.entries(labels).sort());
  return families.get(family)?.samples.find((sample) => sample.name === name && JSON.stringify(Object.entries(sample.labels).sort()) === wanted)?.value;
}
