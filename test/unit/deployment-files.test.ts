import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Ajv } from 'ajv';
import { parse, parseDocument, isMap, isScalar, type Pair } from 'yaml';
import { describe, expect, it } from 'vitest';
import { wardwatch } from '../helpers/cli.ts';
import { contextSources, execForm, isRootUser, parseDockerfile, stagesOf, type Stage } from '../helpers/dockerfile.ts';
import { isIncluded, parseDockerignore } from '../helpers/dockerignore.ts';

/**
 * The deployment files (issue 8, item 4), checked without a Docker engine: docker-compose.yml
 * against the Compose Specification's JSON schema and for what a schema cannot see (files
 * it mounts, healthchecks, secrets kept out of it, commands the CLI knows), the Dockerfile's
 * final stage, the build context .dockerignore lets through, and the compose site config
 * through `wardwatch config check`. The peers (mosquitto, systemd-analyze, logrotate, the
 * health check against a running agent) are in test/integration/deployment-peers.test.ts.
 */

const COMPOSE_FILE = 'docker-compose.yml';
const COMPOSE_SCHEMA = 'test/fixtures/compose-spec/compose-spec.json';

type Mapping = Record<string, unknown>;

function asMapping(value: unknown): Mapping {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Mapping) : {};
}

/** The compose file as `docker compose` reads it: YAML 1.1 merge keys (`<<: *anchor`) resolved. */
function readCompose(text = readFileSync(COMPOSE_FILE, 'utf8')): Mapping {
  return asMapping(parse(text, { merge: true }));
}

function composeValidator(): (document: unknown) => string[] {
  const schema = JSON.parse(readFileSync(COMPOSE_SCHEMA, 'utf8')) as Mapping;
  // The file names draft-07 as https://json-schema.org/draft-07/schema, which Ajv knows as
  // http://json-schema.org/draft-07/schema#; Ajv's default dialect is draft-07 already.
  delete schema.$schema;
  // strict: false: the schema uses annotations outside draft-07's vocabulary (`deprecated`)
  // and formats ("duration") that docker compose checks itself.
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  const validate = ajv.compile(schema);
  return (document) => (validate(document) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? ''} ${JSON.stringify(error.params)}`));
}

function services(compose: Mapping): [string, Mapping][] {
  return Object.entries(asMapping(compose.services)).map(([name, service]) => [name, asMapping(service)]);
}

/** Every string of a service's `command` (list or string form). */
function commandOf(service: Mapping): string[] {
  const command = service.command;
  if (Array.isArray(command)) return command.map(String);
  if (typeof command === 'string') return command.split(/\s+/).filter((word) => word !== '');
  return [];
}

/** Files and directories on this machine that a service reads: bind mounts, env files, the build context and Dockerfile. */
function hostPathsOf(service: Mapping): { path: string; what: string; readOnly: boolean }[] {
  const found: { path: string; what: string; readOnly: boolean }[] = [];
  for (const volume of Array.isArray(service.volumes) ? service.volumes : []) {
    if (typeof volume === 'string') {
      const [source, target, mode] = volume.split(':');
      if (source !== undefined && /^[./~]/.test(source)) found.push({ path: source, what: `volume ${volume}`, readOnly: (mode ?? '').split(',').includes('ro') });
      void target;
    } else {
      const long = asMapping(volume);
      if (long.type === 'bind' && typeof long.source === 'string') found.push({ path: long.source, what: `bind ${long.source} → ${String(long.target)}`, readOnly: long.read_only === true });
    }
  }
  const envFiles = service.env_file === undefined ? [] : Array.isArray(service.env_file) ? service.env_file : [service.env_file];
  for (const envFile of envFiles) {
    const path = typeof envFile === 'string' ? envFile : String(asMapping(envFile).path);
    found.push({ path, what: `env_file ${path}`, readOnly: true });
  }
  if (service.build !== undefined) {
    const build = typeof service.build === 'string' ? { context: service.build } : asMapping(service.build);
    const context = typeof build.context === 'string' ? build.context : '.';
    found.push({ path: context, what: 'build context', readOnly: true });
    found.push({ path: join(context, typeof build.dockerfile === 'string' ? build.dockerfile : 'Dockerfile'), what: 'Dockerfile', readOnly: true });
  }
  return found;
}

/** Named volumes a service mounts (short form `name:/path`, or long form type volume). */
function namedVolumesOf(service: Mapping): string[] {
  const names: string[] = [];
  for (const volume of Array.isArray(service.volumes) ? service.volumes : []) {
    if (typeof volume === 'string') {
      const source = volume.split(':')[0] ?? '';
      if (volume.includes(':') && !/^[./~]/.test(source)) names.push(source);
    } else if (asMapping(volume).type === 'volume' && typeof asMapping(volume).source === 'string') {
      names.push(asMapping(volume).source as string);
    }
  }
  return names;
}

/** A service's text in the compose file, from its key to the next service's key: where its comments are. */
function serviceBlocks(text: string): Map<string, string> {
  const document = parseDocument(text);
  const servicesNode = document.get('services', true);
  const blocks = new Map<string, string>();
  if (!isMap(servicesNode)) return blocks;
  const items = servicesNode.items as Pair[];
  items.forEach((pair, index) => {
    if (!isScalar(pair.key) || pair.key.range === undefined || pair.key.range === null) return;
    const next = items[index + 1];
    const end = next !== undefined && isScalar(next.key) && next.key.range ? next.key.range[0] : (servicesNode.range?.[2] ?? text.length);
    blocks.set(String(pair.key.value), text.slice(pair.key.range[0], end));
  });
  return blocks;
}

/** Why a service has no healthcheck, from a `# no healthcheck: <reason>` comment in its block; null if none. */
function healthcheckReason(block: string): string | null {
  const match = /^\s*# no healthcheck: (\S.{10,})$/m.exec(block);
  return match === null ? null : (match[1] as string);
}

function hasActiveHealthcheck(service: Mapping): boolean {
  const healthcheck = asMapping(service.healthcheck);
  if (healthcheck.disable === true) return false;
  const test = healthcheck.test;
  return (Array.isArray(test) && test.length > 1 && test[0] !== 'NONE') || (typeof test === 'string' && test.trim() !== '');
}

/** KEY=VALUE lines of an env file (compose's env_file format: no export, # comments). */
function readEnvFile(path: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (match !== null) values.set(match[1] as string, match[2] as string);
  }
  return values;
}

/** The `--flags` a command line passes (values that start with -- are flags too: none here take such values). */
function flagsOf(words: readonly string[]): string[] {
  return words.filter((word) => word.startsWith('--')).map((word) => word.split('=')[0] as string);
}

const helpTexts = new Map<string, Promise<{ code: number; stdout: string }>>();

/** The `wardwatch … --help` text for the subcommand a container command runs (`agent`, `sim fleet`); each asked once. */
async function helpFor(words: readonly string[]): Promise<string> {
  const subcommand = words[0] === 'sim' ? words.slice(0, 2) : words.slice(0, 1);
  const key = subcommand.join(' ');
  if (!helpTexts.has(key)) helpTexts.set(key, wardwatch(...subcommand, '--help'));
  const { code, stdout } = await (helpTexts.get(key) as Promise<{ code: number; stdout: string }>);
  expect(code, `wardwatch ${key} --help`).toBe(0);
  return stdout;
}

function filesUnder(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true }).flatMap((entry) => filesUnder(join(path, entry.name)));
}

describe('docker-compose.yml', () => {
  const text = readFileSync(COMPOSE_FILE, 'utf8');
  const compose = readCompose(text);
  const validate = composeValidator();

  it('is valid against the Compose Specification JSON schema', () => {
    expect(validate(compose)).toEqual([]);
  });

  it('the schema check fails a misspelt key, a wrong type and an unknown depends_on condition', () => {
    const agent = asMapping(asMapping(compose.services).agent);
    const broken = {
      ...compose,
      services: {
        ...asMapping(compose.services),
        agent: { ...agent, healthchek: agent.healthcheck, restart: ['always'], depends_on: { influxdb: { condition: 'service_ready' } } },
      },
    };
    const problems = validate(broken).join('\n');
    expect(problems).toContain('healthchek');
    expect(problems).toContain('/services/agent/restart');
    expect(problems).toContain('/services/agent/depends_on');
  });

  it('has the agent, a simulated ward, InfluxDB 1.8, Grafana, and mosquitto for the tap under the profile tap', () => {
    const byName = new Map(services(compose));
    expect(byName.get('agent')?.build).toBeDefined();
    expect(commandOf(byName.get('ward') ?? {}).slice(0, 2)).toEqual(['sim', 'fleet']);
    expect(byName.get('influxdb')?.image).toBe('influxdb:1.8');
    expect(String(byName.get('grafana')?.image)).toMatch(/^grafana\/grafana(-oss)?:/);
    expect(byName.get('mosquitto')?.image).toBe('eclipse-mosquitto:2');
    expect(byName.get('mosquitto')?.profiles).toEqual(['tap']);
    expect(commandOf(byName.get('agent-tap') ?? {})).toContain('--tap');
    expect(byName.get('agent-tap')?.profiles).toEqual(['tap']);
  });

  it('every file it mounts, reads as an env file or a secret, or builds from exists', () => {
    const missing: string[] = [];
    for (const [name, service] of services(compose)) {
      for (const { path, what } of hostPathsOf(service)) if (!existsSync(path)) missing.push(`${name}: ${what}: ${path}`);
    }
    for (const [name, secret] of Object.entries(asMapping(compose.secrets))) {
      const file = asMapping(secret).file;
      if (typeof file === 'string' && !existsSync(file)) missing.push(`secret ${name}: ${file}`);
    }
    expect(missing).toEqual([]);
  });

  it('mounts configuration read-only, and every named volume and secret a service uses is declared', () => {
    const problems: string[] = [];
    const declaredVolumes = new Set(Object.keys(asMapping(compose.volumes)));
    const declaredSecrets = new Set(Object.keys(asMapping(compose.secrets)));
    for (const [name, service] of services(compose)) {
      for (const mount of hostPathsOf(service)) if (!mount.readOnly) problems.push(`${name}: ${mount.what} is writable`);
      for (const volume of namedVolumesOf(service)) if (!declaredVolumes.has(volume)) problems.push(`${name}: volume ${volume} is not declared`);
      for (const secret of Array.isArray(service.secrets) ? service.secrets : []) {
        const secretName = typeof secret === 'string' ? secret : String(asMapping(secret).source);
        if (!declaredSecrets.has(secretName)) problems.push(`${name}: secret ${secretName} is not declared`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('every service has a healthcheck, or says why not in a `# no healthcheck:` comment', () => {
    const blocks = serviceBlocks(text);
    const unexplained = services(compose)
      .filter(([name, service]) => !hasActiveHealthcheck(service) && healthcheckReason(blocks.get(name) ?? '') === null)
      .map(([name]) => name);
    expect(unexplained).toEqual([]);
    // The check itself can fail: a service without either is reported.
    const stripped = text.replace(/^\s*# no healthcheck: .*$/gm, '');
    const strippedBlocks = serviceBlocks(stripped);
    expect(services(readCompose(stripped)).filter(([name, service]) => !hasActiveHealthcheck(service) && healthcheckReason(strippedBlocks.get(name) ?? '') === null).map(([name]) => name)).toEqual(['ward', 'ward-tap']);
  });

  it('every service restarts by itself and has bounded logs and memory', () => {
    const problems = services(compose).flatMap(([name, service]) => [
      ...(service.restart === 'unless-stopped' || service.restart === 'always' ? [] : [`${name}: restart ${String(service.restart)}`]),
      ...(asMapping(asMapping(service.logging).options)['max-size'] === undefined ? [`${name}: logs unbounded`] : []),
      ...(service.mem_limit === undefined ? [`${name}: no mem_limit`] : []),
    ]);
    expect(problems).toEqual([]);
  });

  it('holds no secret itself: passwords come from env files and compose secrets', () => {
    const inline: string[] = [];
    for (const [name, service] of services(compose)) {
      const environment = service.environment;
      const entries: [string, unknown][] = Array.isArray(environment)
        ? environment.map((entry) => String(entry).split('=') as [string, string])
        : Object.entries(asMapping(environment));
      for (const [key, value] of entries) {
        if (/PASSWORD|SECRET|TOKEN|_KEY$/i.test(key) && !key.endsWith('__FILE') && value !== undefined && value !== null) inline.push(`${name}: ${key}`);
      }
    }
    expect(inline).toEqual([]);
    expect(text).not.toMatch(/demo-influx|demo-grafana|demo-tap/);
  });

  it('runs the Wardwatch containers as non-root, read-only, without capabilities', () => {
    for (const [name, service] of services(compose).filter(([, service]) => service.image === 'wardwatch:local')) {
      expect(service.read_only, name).toBe(true);
      expect(service.cap_drop, name).toEqual(['ALL']);
      expect(service.user, `${name} keeps the image's non-root USER`).toBeUndefined();
    }
  });

  it('publishes neither /metrics nor InfluxDB to the host', () => {
    const published = services(compose).flatMap(([name, service]) => (Array.isArray(service.ports) ? service.ports : []).map((port) => `${name} ${String(port)}`));
    expect(published.filter((entry) => /\b(9464|8086)\b/.test(entry))).toEqual([]);
    expect(published).toContain('agent 8883:8883');
  });

  it('passes only flags that `wardwatch agent` and `wardwatch sim fleet` know', async () => {
    const unknown: string[] = [];
    for (const [name, service] of services(compose)) {
      const words = commandOf(service);
      if (words[0] !== 'agent' && words[0] !== 'sim') continue;
      const help = await helpFor(words);
      for (const flag of flagsOf(words)) if (!new RegExp(`(^|[ ,])${flag}\\b`, 'm').test(help)) unknown.push(`${name}: ${flag}`);
    }
    expect(unknown).toEqual([]);
  });
});

describe('the compose site config (config/compose/site.yaml)', () => {
  const compose = readCompose();
  const agent = asMapping(asMapping(compose.services).agent);

  it('is the agent\'s config file, mounted read-only', () => {
    const mount = hostPathsOf(agent).find((entry) => entry.path === './config/compose/site.yaml');
    expect(mount?.readOnly).toBe(true);
    const words = commandOf(agent);
    expect(words[words.indexOf('--config') + 1]).toBe('/etc/wardwatch/site.yaml');
  });

  it('passes `wardwatch config check`', async () => {
    const { code, stdout, stderr } = await wardwatch('config', 'check', 'config/compose/site.yaml');
    expect(stderr).not.toMatch(/error/i);
    expect(code, stdout + stderr).toBe(0);
    expect(stdout).toMatch(/OK/);
  });

  it('logs in to InfluxDB with the write-only account that influxdb.env creates, and Grafana with the read-only one', () => {
    const site = asMapping(parse(readFileSync('config/compose/site.yaml', 'utf8')));
    const influxdb = asMapping(site.influxdb);
    const influxEnv = readEnvFile('deploy/compose/influxdb.env');
    const grafanaEnv = readEnvFile('deploy/compose/grafana.env');
    expect(influxdb.url).toBe('http://influxdb:8086');
    expect(influxdb.database).toBe(influxEnv.get('INFLUXDB_DB'));
    expect(influxdb.username).toBe(influxEnv.get('INFLUXDB_WRITE_USER'));
    expect(influxdb.password).toBe(influxEnv.get('INFLUXDB_WRITE_USER_PASSWORD'));
    // The database exists before the agent writes: it need not (and may not) create it.
    expect(influxdb.createDatabase).toBe(false);
    expect(grafanaEnv.get('INFLUXDB_READ_USER')).toBe(influxEnv.get('INFLUXDB_READ_USER'));
    expect(grafanaEnv.get('INFLUXDB_READ_USER_PASSWORD')).toBe(influxEnv.get('INFLUXDB_READ_USER_PASSWORD'));
  });
});

describe('Dockerfile', () => {
  const instructions = parseDockerfile(readFileSync('Dockerfile', 'utf8'));
  const stages = stagesOf(instructions);
  const final = stages.at(-1) as Stage;
  const ofFinal = (keyword: string) => final.instructions.filter((instruction) => instruction.keyword === keyword);

  it('is multi-stage on Debian bookworm-slim Node 20, with the compiler in the build stage only', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const argDefault = /NODE_IMAGE=(\S+)/.exec(instructions.filter((instruction) => instruction.keyword === 'ARG').map((instruction) => instruction.args).join(' '))?.[1];
    for (const stage of stages) expect(stage.from.replace('${NODE_IMAGE}', argDefault ?? '')).toBe('node:20-bookworm-slim');
    const build = stages[0] as Stage;
    expect(build.instructions.filter((instruction) => instruction.keyword === 'RUN').map((instruction) => instruction.args).join('\n')).toMatch(/python3 make g\+\+/);
    const finalRuns = ofFinal('RUN').map((instruction) => instruction.args).join('\n');
    expect(finalRuns).not.toMatch(/g\+\+|\bmake\b|python3/);
    expect(finalRuns).toMatch(/\bopenssl\b/);
  });

  it('installs with npm ci and never drops optional dependencies (esbuild\'s native package)', () => {
    const runs = instructions.filter((instruction) => instruction.keyword === 'RUN').map((instruction) => instruction.args);
    expect(runs.some((run) => /\bnpm ci\b/.test(run))).toBe(true);
    expect(runs.join('\n')).not.toMatch(/omit=optional|--no-optional/);
  });

  it('runs its final stage as a non-root user with a fixed numeric UID', () => {
    const users = ofFinal('USER');
    expect(users.length).toBeGreaterThan(0);
    const last = (users.at(-1) as { args: string }).args;
    expect(isRootUser(last)).toBe(false);
    expect(last).toMatch(/^\d+(:\d+)?$/);
    expect(last.split(':')[0]).not.toBe('0');
  });

  it('has a HEALTHCHECK that runs the shipped health check script', () => {
    const healthchecks = ofFinal('HEALTHCHECK');
    expect(healthchecks).toHaveLength(1);
    const args = (healthchecks[0] as { args: string }).args;
    expect(args).not.toMatch(/^NONE/);
    const command = execForm(args.slice(args.indexOf('CMD') + 3).trim());
    expect(command?.[0]).toBe('node');
    expect(command?.[1]).toBe('/opt/wardwatch/deploy/docker/healthcheck.mjs');
    expect(existsSync('deploy/docker/healthcheck.mjs')).toBe(true);
  });

  it('keeps the data directory on a volume and exposes MQTT, MQTT over TLS and the dashboard', () => {
    expect(ofFinal('VOLUME').map((instruction) => instruction.args).join(' ')).toContain('/var/lib/wardwatch');
    const exposed = ofFinal('EXPOSE').flatMap((instruction) => instruction.args.split(/\s+/));
    for (const port of ['1883', '8883', '8080', '9464']) expect(exposed).toContain(port);
  });

  it('starts the agent with flags `wardwatch agent` knows, on the mounted config and the data volume', async () => {
    const command = execForm((ofFinal('CMD')[0] as { args: string }).args) ?? [];
    expect(command[0]).toBe('agent');
    expect(command[command.indexOf('--config') + 1]).toBe('/etc/wardwatch/site.yaml');
    expect(command[command.indexOf('--data-dir') + 1]).toBe('/var/lib/wardwatch');
    const help = await helpFor(command);
    expect(flagsOf(command).filter((flag) => !help.includes(flag))).toEqual([]);
  });

  it('copies only what .dockerignore lets into the build context, and no data, secrets or node_modules', () => {
    const ignore = parseDockerignore(readFileSync('.dockerignore', 'utf8'));
    const sources = stages.flatMap((stage) => stage.instructions.flatMap(contextSources));
    expect(sources.length).toBeGreaterThan(3);
    const empty = sources.filter((source) => !existsSync(source) || filesUnder(source).every((file) => !isIncluded(ignore, relative('.', file))));
    expect(empty).toEqual([]);
    for (const needed of ['bin/wardwatch.js', 'agent/src/cli.ts', 'dashboard/src/main.ts', 'config/demo.yaml', 'deploy/docker/healthcheck.mjs', 'package-lock.json']) {
      expect(isIncluded(ignore, needed), needed).toBe(true);
    }
    for (const kept of ['node_modules/zod/package.json', 'config/compose/site.yaml', 'deploy/compose/influxdb.env', 'deploy/compose/secrets/grafana-admin-password', '.wardwatch/demo/secret.key', 'test/unit/deployment-files.test.ts', '.git/config']) {
      expect(isIncluded(ignore, kept), kept).toBe(false);
    }
  });
});

describe('the small parsers these checks rely on', () => {
  it('joins continued lines, drops comments inside them, and groups stages', () => {
    const instructions = parseDockerfile('ARG B=x\nFROM ${B} AS one\nRUN a \\\n# note\n  && b\nFROM debian AS two\nUSER 0:0\nCOPY --from=one /a /b\nCOPY src ./src\n');
    expect(instructions.map((instruction) => instruction.keyword)).toEqual(['ARG', 'FROM', 'RUN', 'FROM', 'USER', 'COPY', 'COPY']);
    expect(instructions[2]?.args).toBe('a && b');
    const stages = stagesOf(instructions);
    expect(stages.map((stage) => stage.name)).toEqual(['one', 'two']);
    expect(isRootUser('0:0')).toBe(true);
    expect(isRootUser('root')).toBe(true);
    expect(isRootUser('10001:10001')).toBe(false);
    expect(stages[1]?.instructions.flatMap(contextSources)).toEqual(['src']);
  });

  it('matches .dockerignore as Docker does: last match wins, parents count, * stays in a segment', () => {
    const ignore = parseDockerignore('**\n!src/\n!config/*.yaml\nsrc/secret*\n');
    expect(isIncluded(ignore, 'src/a/b.ts')).toBe(true);
    expect(isIncluded(ignore, 'src/secret.key')).toBe(false);
    expect(isIncluded(ignore, 'config/demo.yaml')).toBe(true);
    expect(isIncluded(ignore, 'config/compose/site.yaml')).toBe(false);
    expect(isIncluded(ignore, 'README.md')).toBe(false);
    expect(isIncluded(parseDockerignore('node_modules\n'), 'node_modules/x/y.js')).toBe(false);
    expect(isIncluded(parseDockerignore('node_modules\n'), 'agent/x.ts')).toBe(true);
  });
});
