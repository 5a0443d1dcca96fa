import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';

export const DEMO_CONFIG_FILE = new URL('../../config/demo.yaml', import.meta.url);

export function loadDemoConfig(): SiteConfig {
  const result = parseSiteConfig(readFileSync(DEMO_CONFIG_FILE, 'utf8'));
  if (!result.ok) throw new Error(`config/demo.yaml is invalid: ${JSON.stringify(result.issues)}`);
  return result.config;
}

/** The demo config's text with one change made to its parsed YAML, for tests of what the schema refuses. */
export function demoConfigWith(change: (doc: Record<string, any>) => void): string {
  const doc = parse(readFileSync(DEMO_CONFIG_FILE, 'utf8')) as Record<string, any>;
  change(doc);
  return stringify(doc);
}

/** The problems a config text is refused with, as `path: message`; throws if it is accepted. */
export function configIssuesOf(text: string): string[] {
  const result = parseSiteConfig(text);
  if (result.ok) throw new Error('expected the config to be rejected');
  return result.issues.map((issue) => `${issue.path}: ${issue.message}`);
}
