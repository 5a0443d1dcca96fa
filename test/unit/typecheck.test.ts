import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

async function typecheck(project: string): Promise<string> {
  try {
    await run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', project], { maxBuffer: 16 * 1024 * 1024 });
    return '';
  } catch (error) {
    return (error as { stdout?: string }).stdout ?? String(error);
  }
}

// Strict TypeScript is part of the suite: a type error fails the run like a failed test.
describe('strict type check', () => {
  it('agent, simulators and tests compile with no error', async () => {
    expect(await typecheck('tsconfig.json')).toBe('');
  });

  it('the dashboard compiles with no error', async () => {
    expect(await typecheck('dashboard/tsconfig.json')).toBe('');
  });
});
