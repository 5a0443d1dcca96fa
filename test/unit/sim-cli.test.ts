import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseSiteConfig } from '../../agent/src/config/load-site-config.ts';
import type { SiteConfig } from '../../agent/src/model/site-schema.ts';
import { registerSimCommands, USAGE_EXIT_CODE } from '../../simulators/src/cli.ts';

async function loadDemoConfig(): Promise<SiteConfig> {
  const result = parseSiteConfig(readFileSync(new URL('../../config/demo.yaml', import.meta.url), 'utf8'));
  if (!result.ok) throw new Error('config/demo.yaml is invalid');
  return result.config;
}

/** A program as the agent's CLI would build it, with exits and output captured. */
function cli(loadConfig: (file: string) => Promise<SiteConfig> = loadDemoConfig) {
  const errors: string[] = [];
  const output: string[] = [];
  const program = new Command('wardwatch')
    .exitOverride()
    .configureOutput({ writeErr: (text) => errors.push(text), writeOut: (text) => output.push(text) });
  registerSimCommands(program, loadConfig, { log: (line) => output.push(line) });
  const run = async (...args: string[]): Promise<CommanderError | null> => {
    try {
      await program.parseAsync(['sim', 'fleet', ...args], { from: 'user' });
      return null;
    } catch (error) {
      if (error instanceof CommanderError) return error;
      throw error;
    }
  };
  return { program, errors, output, run };
}

describe('wardwatch sim fleet', () => {
  it('documents every option with its default in --help', async () => {
    const { output, run } = cli();
    const exit = await run('--help');
    expect(exit?.exitCode).toBe(0);
    const help = output.join('');
    for (const text of ['--broker <url>', 'mqtt://localhost:1883', '--config <file>', 'config/demo.yaml', '--pumps <n>', '--programmers <n>', '--speed <n>', '--seed <n>', 'Ctrl-C']) {
      expect(help).toContain(text);
    }
  });

  it.each([
    [['--pumps', 'two'], '--pumps must be a whole number, not "two"'],
    [['--programmers', '-1'], '--programmers must be a whole number, not "-1"'],
    [['--speed', '0'], '--speed must be above 0 and at most 3600'],
    [['--speed', 'fast'], '--speed must be a positive number, not "fast"'],
    [['--speed', '5000'], '--speed must be above 0 and at most 3600'],
    [['--seed', '1.5'], '--seed must be a whole number, not "1.5"'],
    [['--seed', '99999999999'], '--seed must be between 0 and 4294967295'],
    [['--broker', 'http://localhost:1883'], 'unsupported scheme "http:"'],
    [['--broker', 'localhost'], '--broker: '],
    [['--pumps', '9', '--broker', 'mqtt://127.0.0.1:1'], 'asked for 9 pumps but the inventory has 6'],
  ])('rejects %j with exit code 2 and a one-line message', async (args, message) => {
    const { errors, run } = cli();
    const exit = await run(...args);
    expect(exit?.exitCode).toBe(USAGE_EXIT_CODE);
    expect(errors.join('')).toContain(message);
    expect(errors.join('')).not.toMatch(/\n\s+at /);
  });

  it('exits with code 2 when the config cannot be loaded', async () => {
    const { errors, run } = cli(() => Promise.reject(new Error('file not found')));
    const exit = await run('--config', 'missing.yaml');
    expect(exit?.exitCode).toBe(USAGE_EXIT_CODE);
    expect(errors.join('')).toContain('cannot use missing.yaml: file not found');
  });
});
