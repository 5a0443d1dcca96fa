import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { AUDIT_FILE, readAuditLines, verifyAuditLog } from '../audit/audit-log.ts';
import { canonicalJson } from '../audit/canonical-json.ts';
import { EXIT_RUNTIME, EXIT_USAGE, parseCount } from './options.ts';

/**
 * `wardwatch audit verify|show` (issue 6): the hash-chained audit log of the data
 * directory. `verify` exits 0 when the chain and its head are intact, 1 naming the first
 * broken line and why; it is what to run before trusting the log in an incident review.
 */

interface AuditOptions {
  readonly dataDir: string;
}

function logFile(dataDir: string): string {
  if (!existsSync(dataDir)) {
    process.stderr.write(`${dataDir} does not exist: give the agent's --data-dir\n`);
    process.exit(EXIT_USAGE);
  }
  return join(dataDir, AUDIT_FILE);
}

/** Whatever a client typed (a username, a reason) reaches the terminal without its control characters. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('the audit log: who did what, when, from where; hash-chained so that tampering shows');

  audit
    .command('verify')
    .description('check the hash chain of the audit log: exit 0 if intact, 1 naming the first broken line')
    .option('-d, --data-dir <dir>', 'the agent\'s data directory', './wardwatch-data')
    .exitOverride()
    .action(async (options: AuditOptions) => {
      const file = logFile(options.dataDir);
      const result = await verifyAuditLog(file);
      if (result.ok) {
        if (result.warning !== undefined) process.stderr.write(`note: ${result.warning}\n`);
        process.stdout.write(`${file}: ${result.entries} entr${result.entries === 1 ? 'y' : 'ies'}, chain intact\n`);
        return;
      }
      const where = result.line > 0 ? `line ${result.line} (seq ${result.seq})` : 'head';
      process.stderr.write(`${file}: ${where}: ${result.reason}\n`);
      process.stderr.write(`${result.entries} entr${result.entries === 1 ? 'y' : 'ies'} before it verified; the log cannot be trusted from there on\n`);
      process.exit(EXIT_RUNTIME);
    });

  audit
    .command('show')
    .description('print the audit log (does not verify it: run `audit verify` for that)')
    .option('-d, --data-dir <dir>', 'the agent\'s data directory', './wardwatch-data')
    .option('--last <n>', 'only the last n entries', parseCount)
    .option('--json', 'the entries as stored, one JSON object per line')
    .exitOverride()
    .action((options: AuditOptions & { readonly last?: number; readonly json?: boolean }) => {
      const lines = readAuditLines(logFile(options.dataDir), options.last);
      for (const { line, entry, text } of lines) {
        if (options.json === true) process.stdout.write(`${text}\n`);
        else if (entry === null) process.stdout.write(`line ${line}: not an audit entry: ${printable(text.slice(0, 200))}\n`);
        else process.stdout.write(`#${entry.seq}  ${entry.ts}  ${printable(entry.actor)}  ${printable(entry.from)}  ${entry.action}  ${printable(canonicalJson(entry.details))}\n`);
      }
      if (lines.length === 0 && options.json !== true && options.last !== 0) process.stdout.write('the audit log is empty\n');
    });
}
