import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export interface DashboardAssets {
  readonly indexHtml: Buffer;
  readonly appJs: Buffer;
  readonly styleCss: Buffer;
}

export const DASHBOARD_DIR = fileURLToPath(new URL('../../../dashboard/', import.meta.url));

/**
 * Bundles dashboard/src/main.ts in memory once at start-up (esbuild, a few tens of ms),
 * so a checkout runs with no build step and the browser gets one small module.
 */
export async function loadDashboardAssets(directory = DASHBOARD_DIR): Promise<DashboardAssets> {
  const [indexHtml, styleCss, bundle] = await Promise.all([
    readFile(`${directory}index.html`),
    readFile(`${directory}style.css`),
    build({
      entryPoints: [`${directory}src/main.ts`],
      bundle: true,
      write: false,
      format: 'esm',
      target: 'es2022',
      platform: 'browser',
      minify: true,
      sourcemap: false,
      logLevel: 'silent',
    }),
  ]);
  const output = bundle.outputFiles[0];
  if (output === undefined) throw new Error('dashboard bundle produced no output');
  return { indexHtml, appJs: Buffer.from(output.contents), styleCss };
}
