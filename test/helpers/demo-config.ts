import { readFileSync } from 'node:fs';
import { parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';

export const DEMO_CONFIG_FILE = new URL('../../config/demo.yaml', import.meta.url);

export function loadDemoConfig(): SiteConfig {
  const result = parseSiteConfig(readFileSync(DEMO_CONFIG_FILE, 'utf8'));
  if (!result.ok) throw new Error(`config/demo.yaml is invalid: ${JSON.stringify(result.issues)}`);
  return result.config;
}
