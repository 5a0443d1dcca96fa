import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { INFLUX_SCHEMA, type Measurement } from '../../agent/src/store/influx-points.ts';
import { DASHBOARD_PROVIDER_FILE, DATASOURCE_FILE, dashboardQueries, influxQlNames, loadDashboard } from '../helpers/grafana-dashboard.ts';

interface ProvisionedDatasource {
  readonly name: string;
  readonly uid: string;
  readonly type: string;
  readonly url: string;
  readonly user?: string;
  readonly jsonData: { readonly version?: string; readonly dbName?: string };
  readonly secureJsonData?: { readonly password?: string };
}

const datasources = (parse(readFileSync(DATASOURCE_FILE, 'utf8')) as { apiVersion: number; datasources: ProvisionedDatasource[] }).datasources;
const influx = datasources.find((source) => source.type === 'influxdb');

function schemaOf(measurement: string): (typeof INFLUX_SCHEMA)[Measurement] {
  expect(Object.keys(INFLUX_SCHEMA), `measurement "${measurement}"`).toContain(measurement);
  return INFLUX_SCHEMA[measurement as Measurement];
}

describe('Grafana dashboard (deploy/grafana): its queries match what the InfluxDB output writes', () => {
  const queries = dashboardQueries();

  it('has panels for device rates and doses, alert counts by severity and type, and a table of recent alerts', () => {
    const dashboard = loadDashboard();
    const titles = dashboard.panels.map((panel) => panel.title);
    expect(titles).toEqual(expect.arrayContaining(['Infusion rate per pump', 'Dose per pump', 'Alert occurrences by severity', 'Alert occurrences by type', 'Recent alerts']));
    expect(dashboard.templating.list.map((variable) => variable.name)).toEqual(['ward', 'device']);
    expect(queries.length).toBeGreaterThanOrEqual(10);
  });

  it('every query names a measurement the sink writes; what it selects exists there, and it filters and groups by tags only', () => {
    for (const { panel, query } of queries) {
      const names = influxQlNames(query);
      const schema = schemaOf(names.measurement);
      const fields = Object.keys(schema.fields);
      const known = [...fields, ...schema.tags];
      for (const name of names.selected) expect(known, `${panel}: "${name}" in SELECT`).toContain(name);
      if (names.selected.length > 0) {
        // InfluxDB returns nothing for a SELECT of tags alone.
        expect(names.selected.some((name) => fields.includes(name)), `${panel}: selects at least one field`).toBe(true);
      }
      for (const name of [...names.filtered, ...names.grouped]) expect(schema.tags, `${panel}: "${name}" in WHERE or GROUP BY`).toContain(name);
      if (names.tagKey !== null) expect(schema.tags, `${panel}: tag key`).toContain(names.tagKey);
    }
  });

  it('aggregates are numeric fields, and a $tag_ alias names a tag the query groups by', () => {
    for (const { panel, query, alias } of queries) {
      for (const match of query.matchAll(/(?:mean|sum|last|max|min)\("([^"]+)"\)/g)) {
        const names = influxQlNames(query);
        expect(schemaOf(names.measurement).fields[match[1] as string], `${panel}: ${match[0]}`).toBe('float');
      }
      for (const match of (alias ?? '').matchAll(/\$tag_(\w+)/g)) expect(influxQlNames(query).grouped, `${panel}: alias ${alias}`).toContain(match[1]);
    }
  });

  it('every panel, variable and annotation uses the provisioned InfluxDB data source, which reads InfluxQL from the agent\'s database', () => {
    expect(influx).toBeDefined();
    expect(influx?.jsonData.version).toBe('InfluxQL');
    expect(influx?.jsonData.dbName).toBe('wardwatch');
    // Credentials from Grafana's environment, not from the file.
    expect(influx?.user).toMatch(/^\$\w+$/);
    expect(influx?.secureJsonData?.password).toMatch(/^\$\w+$/);
    for (const { panel, datasource } of queries) expect(datasource, panel).toEqual({ type: 'influxdb', uid: influx?.uid });
  });

  it('the dashboard provider loads the directory docker-compose mounts the dashboards at', () => {
    const providers = (parse(readFileSync(DASHBOARD_PROVIDER_FILE, 'utf8')) as { providers: { type: string; options: { path: string } }[] }).providers;
    expect(providers).toEqual([expect.objectContaining({ type: 'file', options: expect.objectContaining({ path: '/var/lib/grafana/dashboards' }) })]);
    expect(loadDashboard().uid).toMatch(/^[a-z0-9-]{1,40}$/);
  });
});
