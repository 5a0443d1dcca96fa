import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import { configIssuesOf, DEMO_CONFIG_FILE, demoConfigWith } from '../helpers/demo-config.ts';

const demoText = readFileSync(DEMO_CONFIG_FILE, 'utf8');
const LARGE_WARD_FILE = new URL('../../config/large-ward.yaml', import.meta.url);

const withChange = demoConfigWith;

const issuesOf = configIssuesOf;

describe('site time zone and spare pumps in the site configuration', () => {
  it('defaults the time zone to UTC and accepts any IANA name', () => {
    const demo = parseSiteConfig(demoText);
    expect(demo.ok && demo.config.site.timezone).toBe('UTC');
    const london = parseSiteConfig(withChange((doc) => {
      doc.site.timezone = 'Europe/London';
    }));
    expect(london.ok && london.config.site.timezone).toBe('Europe/London');
  });

  it('reports an unknown time zone by its path', () => {
    expect(issuesOf(withChange((doc) => {
      doc.site.timezone = 'Europe/Londres';
    }))).toEqual(['site.timezone: must be an IANA time zone name such as Europe/London or UTC']);
    expect(issuesOf(withChange((doc) => {
      doc.site.timezone = 42;
    }))[0]).toMatch(/^site\.timezone: /);
  });

  it('takes `spare: true` for a pump in a store, and refuses a spare at a bed', () => {
    const spare = parseSiteConfig(withChange((doc) => {
      doc.mqtt.accounts.push({ username: 'pump-07', password: 'demo-pump-07', role: 'device' });
      doc.devices.push({ id: 'pump-07', profile: 'infusion-pump', ward: '4W', location: 'Equipment store', careArea: 'ICU', spare: true, account: 'pump-07' });
    }));
    expect(spare.ok && spare.config.devices.find((d) => d.id === 'pump-07')?.spare).toBe(true);
    expect(issuesOf(withChange((doc) => {
      doc.devices[0].spare = true;
    }))).toEqual(['devices[0].bed: a spare is in the equipment store, not at a bed: give a location instead']);
  });

  it('the large ward is valid: 4 wards of 12 pumps, 2 spares, 4 programmers, London time', () => {
    const result = parseSiteConfig(readFileSync(LARGE_WARD_FILE, 'utf8'));
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    const { config } = result;
    expect(config.site.timezone).toBe('Europe/London');
    expect(config.devices.length).toBeGreaterThanOrEqual(50);
    const pumps = config.devices.filter((d) => d.profile === 'infusion-pump');
    const wards = new Map<string, string[]>();
    for (const pump of pumps.filter((p) => p.spare !== true)) wards.set(pump.ward, [...(wards.get(pump.ward) ?? []), pump.careArea ?? '']);
    expect([...wards.keys()]).toEqual(['ICU-N', 'ICU-S', 'MS-N', 'MS-S']);
    for (const [ward, areas] of wards) {
      expect(areas).toHaveLength(12);
      expect(new Set(areas)).toEqual(new Set([ward.startsWith('ICU') ? 'ICU' : 'Med-Surg']));
    }
    expect(pumps.filter((p) => p.spare === true).map((p) => [p.ward, p.careArea])).toEqual([['ICU-N', 'ICU'], ['MS-N', 'Med-Surg']]);
    expect(config.devices.filter((d) => d.profile === 'pacemaker-programmer')).toHaveLength(4);
    expect(config.mqtt.accounts.filter((a) => a.role === 'station').map((a) => a.username)).toEqual(['station-icu-n', 'station-icu-s', 'station-ms-n', 'station-ms-s', 'ep-clinic']);
  });
});
