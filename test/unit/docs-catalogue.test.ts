import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALERT_CATALOGUE } from '../../agent/src/alert/catalogue.ts';

/** docs/protocol.md is what SIEM rules and engineers read: its catalogue must list every alert type with its severity. */
describe('docs/protocol.md', () => {
  it('lists every alert type of the catalogue with the severity the agent gives it', () => {
    const text = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
    const documented = new Map([...text.matchAll(/^\| `([a-z0-9-]+)` \| (critical|high|warning|info) \|/gm)].map((match) => [match[1], match[2]]));
    const missing = Object.entries(ALERT_CATALOGUE).filter(([type, entry]) => documented.get(type) !== entry.severity).map(([type, entry]) => `${type} (${entry.severity})`);
    expect(missing).toEqual([]);
  });
});
