import type { Command } from 'commander';
import { loadSiteConfig } from '../config/load-site-config.ts';
import { hashPassword } from '../auth/password-hash.ts';
import type { ConfigIssue, SiteConfig } from '../model/site-schema.ts';
import { EXIT_USAGE } from './options.ts';
import { readStdin } from './read-password.ts';

function printIssues(file: string, issues: readonly ConfigIssue[], label: string): void {
  for (const issue of issues) process.stderr.write(`${file}: ${label} ${issue.path}: ${issue.message}\n`);
}

/**
 * Loads and validates a site config for any command; on problems lists every one by path
 * and exits 2, with no stack trace (a biomedical engineer reads this, not a developer).
 */
export async function loadConfigOrExit(file: string, options: { readonly warnings?: boolean } = {}): Promise<SiteConfig> {
  const result = await loadSiteConfig(file);
  if (!result.ok) {
    printIssues(file, result.issues, 'error');
    const later = result.stage === 'structure' ? '; references between sections (devices, accounts, policy, care areas) are checked once these are fixed' : '';
    process.stderr.write(`${file}: ${result.issues.length} problem${result.issues.length === 1 ? '' : 's'}${later}; nothing was started.\n`);
    process.exit(EXIT_USAGE);
  }
  // Warnings are advice for whoever runs the site (agent, demo, config check), not for every tool that reads the file.
  if (options.warnings !== false) printIssues(file, result.warnings, 'warning');
  return result.config;
}

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('check a site configuration, hash account passwords');
  config
    .command('check')
    .description('validate a site config file: lists every problem with its path and exits 2 if there is any')
    .argument('<file>', 'site configuration (YAML)')
    .action(async (file: string) => {
      const site = await loadConfigOrExit(file);
      const pumps = site.devices.filter((d) => d.profile === 'infusion-pump').length;
      const drugs = Object.values(site.drugLibrary.careAreas).reduce((sum, area) => sum + Object.keys(area.drugs).length, 0);
      process.stdout.write(
        `${file}: OK — ${site.site.name}, ward ${site.site.ward}: ${site.devices.length} devices (${pumps} pumps), ` +
          `${site.mqtt.accounts.length} MQTT accounts, drug library ${site.drugLibrary.version} with ${drugs} entries in ` +
          `${Object.keys(site.drugLibrary.careAreas).length} care areas, ${site.policy.rules.length} policy rules\n`,
      );
    });
  config
    .command('hash-password')
    .description('read a password on standard input and print the passwordHash (scrypt) to put in the site config')
    .action(async () => {
      const password = await readStdin();
      if (password.length === 0) {
        process.stderr.write('no password on standard input\n');
        process.exit(EXIT_USAGE);
      }
      process.stdout.write(`${await hashPassword(password)}\n`);
    });
}
