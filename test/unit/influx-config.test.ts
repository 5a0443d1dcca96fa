import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSiteConfig, parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import { configIssuesOf, demoConfigWith } from '../helpers/demo-config.ts';
import { makeHospitalPki } from '../helpers/tls.ts';

function withInflux(section: unknown): string {
  return demoConfigWith((doc) => {
    doc.influxdb = section;
  });
}

function accepted(text: string): Extract<ReturnType<typeof parseSiteConfig>, { ok: true }> {
  const result = parseSiteConfig(text);
  if (!result.ok) throw new Error(`refused: ${JSON.stringify(result.issues)}`);
  return result;
}

describe('site config: the influxdb section', () => {
  let dir: string | null = null;
  afterEach(() => {
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
    dir = null;
  });

  it('is off unless present; present, its defaults are the documented ones', () => {
    expect(accepted(demoConfigWith(() => undefined)).config.influxdb).toBeUndefined();
    const { config, warnings } = accepted(withInflux({ url: 'http://127.0.0.1:8086', database: 'wardwatch' }));
    expect(config.influxdb).toEqual({ url: 'http://127.0.0.1:8086', database: 'wardwatch', batchSize: 500, flushIntervalMs: 1_000, maxQueuedPoints: 100_000, createDatabase: true });
    expect(warnings.filter((warning) => warning.path.startsWith('influxdb'))).toEqual([]);
  });

  it('a bad section lists every problem by path', () => {
    const issues = configIssuesOf(withInflux({ url: 'ftp://influx.example', database: 'no spaces please', batchSize: 0, flushIntervalMs: 5, maxQueuedPoints: -1, createDatabase: 'yes', retentionPolicy: '', surplus: 1 }));
    const paths = issues.map((issue) => issue.split(':')[0]);
    expect(paths).toEqual(expect.arrayContaining(['influxdb.url', 'influxdb.database', 'influxdb.batchSize', 'influxdb.flushIntervalMs', 'influxdb.maxQueuedPoints', 'influxdb.createDatabase', 'influxdb.retentionPolicy', 'influxdb']));
    expect(issues.find((issue) => issue.startsWith('influxdb.url'))).toMatch(/https:\/\//);
    expect(issues.find((issue) => issue.startsWith('influxdb:'))).toMatch(/surplus/);
    expect(configIssuesOf(withInflux({ database: 'wardwatch' }))).toEqual([expect.stringMatching(/^influxdb\.url: /)]);
  });

  it('credentials belong in their own fields, never in the URL (URLs end up in logs)', () => {
    const issues = configIssuesOf(withInflux({ url: 'https://agent:secret@influx.hospital.example:8086', database: 'wardwatch' }));
    expect(issues).toEqual([expect.stringMatching(/^influxdb\.url: give username and password as their own fields/)]);
    expect(issues.join('\n')).not.toContain('secret');
  });

  it('checks between fields: both credentials or neither, a CA only with https, a queue at least one batch long', () => {
    const issues = configIssuesOf(withInflux({ url: 'http://127.0.0.1:8086', database: 'wardwatch', username: 'agent', ca: 'ca.pem', batchSize: 1_000, maxQueuedPoints: 999 }));
    expect(issues).toEqual([
      'influxdb.password: give both username and password, or neither',
      'influxdb.ca: a CA file is only used with https://; use https:// or remove ca',
      'influxdb.maxQueuedPoints: must be at least batchSize (1000)',
    ]);
  });

  it('warns when points would cross the network unencrypted', () => {
    const remote = accepted(withInflux({ url: 'http://influx.hospital.example:8086', database: 'wardwatch', username: 'a', password: 'p' })).warnings;
    expect(remote).toEqual(expect.arrayContaining([{ path: 'influxdb.url', message: expect.stringMatching(/unencrypted.*https:\/\//) }]));
    expect(remote.find((warning) => warning.path === 'influxdb.url')?.message).toContain('password');
    for (const url of ['https://influx.hospital.example:8086', 'http://localhost:8086', 'http://[::1]:8086']) {
      expect(accepted(withInflux({ url, database: 'wardwatch' })).warnings.filter((warning) => warning.path === 'influxdb.url')).toEqual([]);
    }
  });

  it('the CA file is read relative to the config file and checked when the config is loaded', async () => {
    dir = mkdtempSync(join(tmpdir(), 'wardwatch-influx-config-'));
    const pki = await makeHospitalPki(dir);
    const site = join(dir, 'site.yaml');
    writeFileSync(site, withInflux({ url: 'https://influx.hospital.example', database: 'wardwatch', ca: 'hospital-ca.pem' }));
    const good = await loadSiteConfig(site);
    expect(good.ok && good.config.influxdb?.ca).toBe(pki.caFile);
    writeFileSync(site, withInflux({ url: 'https://influx.hospital.example', database: 'wardwatch', ca: 'missing-ca.pem' }));
    expect(await loadSiteConfig(site)).toMatchObject({ ok: false, stage: 'files', issues: [{ path: 'influxdb.ca', message: expect.stringMatching(/missing-ca\.pem: file not found/) }] });
    writeFileSync(site, withInflux({ url: 'https://influx.hospital.example', database: 'wardwatch', ca: 'wardwatch.key' }));
    expect(await loadSiteConfig(site)).toMatchObject({ ok: false, issues: [{ path: 'influxdb.ca', message: expect.stringMatching(/no PEM certificate/) }] });
  });
});
