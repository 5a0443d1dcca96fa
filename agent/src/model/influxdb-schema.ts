import { z } from 'zod';
import type { ConfigIssue } from './site-schema.ts';

/**
 * `influxdb:` in a site config (issue 8): device telemetry, commands and alerts written
 * as time series to an InfluxDB 1.x database (agent/src/store/influx-sink.ts), for Grafana.
 * Absent: off. The embedded store and alerts.jsonl are written either way. Credentials
 * come only from the config file, never from the URL, so that no password ends up in a
 * log line that prints the URL.
 */

/** Loopback hosts: plain `http://` to these never leaves the machine. */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** InfluxDB 1.x's HTTP API port, used when the URL names none (for https too). */
export const INFLUXDB_DEFAULT_PORT = 8086;

function influxUrlProblem(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be a URL such as https://influxdb.hospital.example:8086';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must start with https:// (or http:// for InfluxDB on this machine), not ${url.protocol}//`;
  if (url.username !== '' || url.password !== '') return 'give username and password as their own fields, not in the URL (URLs end up in logs)';
  if (url.hostname === '') return 'must name the InfluxDB host';
  // A path is kept: InfluxDB behind a reverse proxy is often served under one.
  if (url.search !== '' || url.hash !== '') return 'must be scheme, host, port and at most a path (no query or fragment)';
  return null;
}

/** http(s)://host:port[/path] of the InfluxDB 1.x HTTP API. */
const influxUrl = z.string().max(2048).superRefine((value, context) => {
  const problem = influxUrlProblem(value);
  if (problem !== null) context.addIssue({ code: 'custom', message: problem });
});

/**
 * A database or retention policy name. InfluxQL could quote almost anything; a plain
 * word keeps the Grafana queries and `influx -execute` lines in docs/operations.md simple.
 */
const influxName = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/, 'must be 1–64 letters, digits, ".", "_" or "-", starting with a letter, digit or "_"');

export const influxdbSchema = z.strictObject({
  /** https://influxdb.hospital.example:8086 (the port defaults to 8086). */
  url: influxUrl,
  database: influxName,
  /** A user with WRITE on the database is enough (least privilege); creating the database needs an admin. */
  username: z.string().min(1).max(128).optional(),
  password: z.string().min(1).max(1024).optional(),
  /** PEM file of the CA that signed InfluxDB's certificate (relative: to the config file's directory); absent: the system's CAs. https only. */
  ca: z.string().min(1, 'give the path of a PEM file').max(4096).optional(),
  /** Retention policy points are written under; absent: the database's default policy. */
  retentionPolicy: influxName.optional(),
  /** Points per write request. InfluxData recommends batches of up to 5,000 points. */
  batchSize: z.number().int().min(1).max(5_000).default(500),
  /** A batch is written at least this often while points wait, and at once when batchSize are waiting. */
  flushIntervalMs: z.number().int().min(100).max(60_000).default(1_000),
  /** Points held while InfluxDB is away; beyond it the oldest are dropped, counted (about 0.3 KB of memory each: 100,000 ≈ 32 MB). */
  // At most 1,000,000 points (about 320 MB at 317 bytes each): within the 512 MB the systemd unit and compose file allow.
  maxQueuedPoints: z.number().int().min(1).max(1_000_000).default(100_000),
  /** `CREATE DATABASE` at start (idempotent; needs an admin user, and is skipped with a warning without one). */
  createDatabase: z.boolean().default(true),
});

export type InfluxdbConfig = z.infer<typeof influxdbSchema>;

/** Checks between the fields of the section (the schema checked each alone). */
export function influxdbIssues(influxdb: InfluxdbConfig | undefined): ConfigIssue[] {
  if (influxdb === undefined) return [];
  const issues: ConfigIssue[] = [];
  if ((influxdb.username === undefined) !== (influxdb.password === undefined)) {
    issues.push({ path: `influxdb.${influxdb.username === undefined ? 'username' : 'password'}`, message: 'give both username and password, or neither' });
  }
  if (influxdb.ca !== undefined && influxdb.url.startsWith('http://')) {
    issues.push({ path: 'influxdb.ca', message: 'a CA file is only used with https://; use https:// or remove ca' });
  }
  if (influxdb.maxQueuedPoints < influxdb.batchSize) {
    issues.push({ path: 'influxdb.maxQueuedPoints', message: `must be at least batchSize (${influxdb.batchSize})` });
  }
  return issues;
}

/** Whether the URL is plain http:// to another machine: everything written would cross the network unencrypted. */
export function isPlainRemoteInflux(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' && !LOOPBACK_HOSTS.has(parsed.hostname);
  } catch {
    return false;
  }
}

/** Advice that does not stop the agent. */
export function influxdbWarnings(influxdb: InfluxdbConfig | undefined): ConfigIssue[] {
  if (influxdb === undefined) return [];
  const warnings: ConfigIssue[] = [];
  if (isPlainRemoteInflux(influxdb.url)) {
    warnings.push({ path: 'influxdb.url', message: `plain http:// to another machine: telemetry, commands and alerts${influxdb.password === undefined ? '' : ' (and the password)'} cross the network unencrypted; use https://` });
  }
  return warnings;
}
