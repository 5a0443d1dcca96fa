import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import { configIssuesOf, DEMO_CONFIG_FILE, demoConfigWith } from '../helpers/demo-config.ts';

const demoText = readFileSync(DEMO_CONFIG_FILE, 'utf8');

const withChange = demoConfigWith;

const issuesOf = configIssuesOf;

describe('site configuration', () => {
  it('the demo ward is valid: 6 pumps, 2 programmers, both care areas, the five drugs', () => {
    const result = parseSiteConfig(demoText);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { config } = result;
    expect(config.devices.filter((d) => d.profile === 'infusion-pump')).toHaveLength(6);
    expect(config.devices.filter((d) => d.profile === 'pacemaker-programmer')).toHaveLength(2);
    expect(Object.keys(config.drugLibrary.careAreas)).toEqual(['ICU', 'Med-Surg']);
    expect(Object.keys(config.drugLibrary.careAreas.ICU?.drugs ?? {}).sort()).toEqual(['heparin', 'insulin', 'morphine', 'norepinephrine', 'propofol']);
    expect(Object.isFrozen(config.devices[0])).toBe(true);
    // Plain-text demo passwords are allowed but flagged.
    expect(result.warnings.find((w) => w.path === 'mqtt.accounts')?.message).toMatch(/^15 accounts have plain-text passwords \(station-4w, ep-clinic, guest, pharmacy, pharmacy-backup, vendor-updates, wardwatch-admin, pump-01/);
  });

  it('lists every structural problem with its path, not just the first', () => {
    const issues = issuesOf(
      withChange((doc) => {
        doc.devices[1].profile = 'toaster';
        doc.devices[2].id = 'bad id!';
        delete doc.site.ward;
        doc.drugLibrary.careAreas.ICU.drugs.heparin.doseUnit = 'furlongs/fortnight';
        doc.mqtt.accounts[0].role = 'superuser';
        doc.unexpected = true;
      }),
    );
    const paths = issues.map((issue) => issue.split(':')[0]);
    expect(paths).toEqual(
      expect.arrayContaining([
        'devices[1].profile',
        'devices[2].id',
        'site.ward',
        'drugLibrary.careAreas.ICU.drugs.heparin.doseUnit',
        'mqtt.accounts[0].role',
        '(root)',
      ]),
    );
    expect(issues.length).toBeGreaterThanOrEqual(6);
  });

  it('checks references between sections', () => {
    const issues = issuesOf(
      withChange((doc) => {
        doc.devices[0].careArea = 'Oncology';
        doc.devices[1].account = 'nobody';
        doc.devices[2].account = 'station-4w';
        doc.policy.rules[0].accounts = ['ghost'];
        doc.policy.rules[0].commands = ['self_destruct'];
        doc.drugLibrary.careAreas.ICU.drugs.heparin.soft.max = 50;
        doc.drugLibrary.careAreas.ICU.drugs.insulin.doseUnit = 'mg/h';
        doc.devices.push({ ...doc.devices[0], careArea: 'ICU' });
      }),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^devices\[0\]\.careArea: care area "Oncology" is not in drugLibrary\.careAreas/),
        expect.stringMatching(/^devices\[1\]\.account: no MQTT account "nobody"/),
        expect.stringMatching(/^devices\[2\]\.account: account "station-4w" has role station/),
        expect.stringMatching(/^policy\.rules\[0\]\.accounts\[0\]: no MQTT account "ghost"/),
        expect.stringMatching(/^policy\.rules\[0\]\.commands\[0\]: "self_destruct" is not a command of infusion-pump/),
        expect.stringMatching(/^drugLibrary\.careAreas\.ICU\.drugs\.heparin\.soft\.max: soft maximum 50 is above the hard maximum 40/),
        expect.stringMatching(/^drugLibrary\.careAreas\.ICU\.drugs\.insulin\.doseUnit: mg\/h cannot be computed from a concentration in units/),
        expect.stringMatching(/^devices\[8\]\.id: duplicate device id "pump-01"/),
      ]),
    );
  });

  it('reports YAML syntax errors with line and column', () => {
    const issues = issuesOf('site:\n  name: "unterminated\n');
    expect(issues[0]).toMatch(/^line \d+, column \d+: /);
  });

  it('an account needs exactly one of password and passwordHash', () => {
    const issues = issuesOf(withChange((doc) => { delete doc.mqtt.accounts[2].password; }));
    expect(issues).toContain('mqtt.accounts[2]: give exactly one of password or passwordHash');
  });
});

describe('config for an accelerated simulated ward', () => {
  it('scales only the publish-flood threshold with the speed, and leaves speed 1 alone', async () => {
    const { configForAcceleratedWard } = await import('../../agent/src/config/accelerated-ward.ts');
    const result = parseSiteConfig(demoText);
    if (!result.ok) throw new Error('demo config invalid');
    expect(configForAcceleratedWard(result.config, 1)).toBe(result.config);
    const fast = configForAcceleratedWard(result.config, 60);
    expect(fast.detection.publishFlood).toEqual({ count: 12_000, windowSeconds: 10 });
    expect(fast.detection.connectFlood).toEqual(result.config.detection.connectFlood);
    expect(fast.detection.authFailureBurst).toEqual(result.config.detection.authFailureBurst);
    expect(result.config.detection.publishFlood.count).toBe(200);
  });
});
