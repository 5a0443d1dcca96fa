import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build, stop as stopEsbuild } from 'esbuild';

export interface DashboardAssets {
  readonly indexHtml: Buffer;
  readonly appJs: Buffer;
  readonly styleCss: Buffer;
}

export const DASHBOARD_DIR = fileURLToPath(new URL('../../../dashboard/', import.meta.url));

/**
 * uPlot's own sheet (the device page's charts). The CSP allows style sheets from 'self'
 * only, never inline <style>, so it is served as part of /assets/style.css, before ours
 * so that our rules win over its defaults. Resolved when the assets are built, so that a
 * missing package fails the dashboard only (app.ts logs it), never the agent's start.
 */
function uplotCssPath(): string {
  return createRequire(import.meta.url).resolve('uplot/dist/uPlot.min.css');
}

let buildsInFlight = 0;

/**
 * Bundles dashboard/src/main.ts in memory once at start-up (esbuild, a few tens of ms),
 * so a checkout runs with no build step and the browser gets one small module.
 */
export async function loadDashboardAssets(directory = DASHBOARD_DIR): Promise<DashboardAssets> {
  buildsInFlight += 1;
  const bundling = build({
    entryPoints: [`${directory}src/main.ts`],
    bundle: true,
    write: false,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    minify: true,
    sourcemap: false,
    logLevel: 'silent',
  }).finally(() => {
    // esbuild keeps its service process alive after a build (14–22 MB resident, measured
    // with `npm run bench:memory`); an agent builds once, so it is stopped after the last
    // build in flight (several agents in one process, as in tests, share the service). A
    // later build starts it again.
    buildsInFlight -= 1;
    if (buildsInFlight === 0) void stopEsbuild();
  });
  const [indexHtml, uplotCss, ownCss, bundle] = await Promise.all([
    readFile(`${directory}index.html`),
    readFile(uplotCssPath()),
    readFile(`${directory}style.css`),
    bundling,
  ]);
  const output = bundle.outputFiles[0];
  if (output === undefined) throw new Error('dashboard bundle produced no output');
  const styleCss = Buffer.concat([Buffer.from('/* uPlot (MIT), node_modules/uplot/dist/uPlot.min.css */\n'), uplotCss, Buffer.from('\n'), ownCss]);
  return { indexHtml, appJs: Buffer.from(output.contents), styleCss };
}
