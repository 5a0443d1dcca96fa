import { readFileSync } from 'node:fs';

export const DASHBOARD_FILE = new URL('../../deploy/grafana/dashboards/wardwatch-ward.json', import.meta.url);
export const DATASOURCE_FILE = new URL('../../deploy/grafana/provisioning/datasources/influxdb.yaml', import.meta.url);
export const DASHBOARD_PROVIDER_FILE = new URL('../../deploy/grafana/provisioning/dashboards/wardwatch.yaml', import.meta.url);

export interface DatasourceRef {
  readonly type?: string;
  readonly uid?: string;
}

export interface GrafanaTarget {
  readonly refId?: string;
  readonly datasource?: DatasourceRef;
  readonly rawQuery?: boolean;
  readonly query?: string;
  readonly alias?: string;
  readonly resultFormat?: string;
}

export interface GrafanaPanel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly datasource?: DatasourceRef;
  readonly targets?: readonly GrafanaTarget[];
  readonly panels?: readonly GrafanaPanel[];
}

export interface GrafanaDashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly GrafanaPanel[];
  readonly templating: { readonly list: readonly { readonly name: string; readonly query: string; readonly datasource?: DatasourceRef }[] };
  readonly annotations: { readonly list: readonly { readonly name: string; readonly query?: string; readonly datasource?: DatasourceRef }[] };
}

export function loadDashboard(): GrafanaDashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as GrafanaDashboard;
}

/** One InfluxQL statement of the dashboard: a panel's target, a variable's or an annotation's query. */
export interface DashboardQuery {
  /** Where it is: the panel title, `variable <name>` or `annotation <name>`. */
  readonly panel: string;
  readonly query: string;
  readonly alias: string | null;
  readonly datasource: DatasourceRef | undefined;
}

export function dashboardQueries(dashboard: GrafanaDashboard = loadDashboard()): DashboardQuery[] {
  const queries: DashboardQuery[] = [];
  const visit = (panels: readonly GrafanaPanel[]): void => {
    for (const panel of panels) {
      for (const target of panel.targets ?? []) {
        queries.push({ panel: panel.title, query: target.query ?? '', alias: target.alias ?? null, datasource: target.datasource ?? panel.datasource });
      }
      visit(panel.panels ?? []);
    }
  };
  visit(dashboard.panels);
  for (const variable of dashboard.templating.list) queries.push({ panel: `variable ${variable.name}`, query: variable.query, alias: null, datasource: variable.datasource });
  for (const annotation of dashboard.annotations.list) {
    if (annotation.query !== undefined) queries.push({ panel: `annotation ${annotation.name}`, query: annotation.query, alias: null, datasource: annotation.datasource });
  }
  return queries;
}

/**
 * Fills in what Grafana's InfluxDB data source fills in before it sends a query:
 * `$timeFilter` (the time range), `$__interval` and the dashboard variables.
 */
export function expandGrafanaVariables(query: string, values: { readonly ward: string; readonly device: string; readonly from: number; readonly to: number; readonly interval?: string }): string {
  return query
    .replaceAll('$timeFilter', `time >= ${values.from}ms and time <= ${values.to}ms`)
    .replaceAll('$__interval', values.interval ?? '10s')
    .replaceAll('$ward', values.ward)
    .replaceAll('$device', values.device);
}

/** The names an InfluxQL SELECT or SHOW TAG VALUES statement uses, by role. */
export interface InfluxQlNames {
  readonly measurement: string;
  /** Names read in the SELECT clause (fields, or tags shown in a table). */
  readonly selected: readonly string[];
  /** Names compared in WHERE (must be tags: filtering on fields is slow and not what the panels mean). */
  readonly filtered: readonly string[];
  /** Names in GROUP BY besides time(): must be tags. */
  readonly grouped: readonly string[];
  /** SHOW TAG VALUES … WITH KEY = "k": the tag key. */
  readonly tagKey: string | null;
}

const QUOTED = /"([^"]+)"/g;

function quotedNames(text: string): string[] {
  return [...text.matchAll(QUOTED)].map((match) => match[1] as string);
}

/** A small reader for the statements the dashboard uses; it throws on any other shape, so a new kind of query must be taught here first. */
export function influxQlNames(query: string): InfluxQlNames {
  const show = /^SHOW TAG VALUES FROM "([^"]+)" WITH KEY = "([^"]+)"(?: WHERE (.*))?$/.exec(query);
  if (show !== null) return { measurement: show[1] as string, selected: [], filtered: quotedNames(show[3] ?? ''), grouped: [], tagKey: show[2] as string };
  const select = /^SELECT (.+?) FROM "([^"]+)"(?: WHERE (.+?))?(?: GROUP BY (.+?))?(?: fill\(\w+\))?(?: ORDER BY time (?:ASC|DESC))?(?: LIMIT \d+)?$/.exec(query);
  if (select === null) throw new Error(`not a statement this check reads: ${query}`);
  const groupBy = (select[4] ?? '').replace(/time\([^)]*\)/g, '');
  return { measurement: select[2] as string, selected: quotedNames(select[1] as string), filtered: quotedNames(select[3] ?? ''), grouped: quotedNames(groupBy), tagKey: null };
}
