import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { waitFor } from './wait-for.ts';
import { freePort } from './peer-process.ts';

/** What the test's rsyslog template writes per message: rsyslog's own parse of the RFC 5424 fields, and the raw message. */
export interface RsyslogRecord {
  readonly pri: string;
  readonly hostname: string;
  readonly appname: string;
  readonly procid: string;
  readonly msgid: string;
  readonly sd: string;
  readonly ts: string;
  readonly msg: string;
  readonly raw: string;
}

export interface RsyslogTlsFiles {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * A real rsyslogd (Debian rsyslog + rsyslog-gnutls), run by hand (`-n -f conf -i pidfile`)
 * with a generated config in a test's temporary directory: as a TLS collector, or as a
 * log shipper tailing a file.
 */
export class Rsyslog {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly outFile: string,
    private readonly output: string[],
  ) {}

  /**
   * imtcp with the gtls driver (RFC 5425) on a free loopback port, `authMode`
   * `x509/certvalid` to require a client certificate from the CA, and every message
   * written as one JSON line with rsyslog's own parse of it (pri, hostname, app-name,
   * procid, msgid, structured-data, timereported, msg) and the raw message.
   */
  static async startTls(dir: string, files: RsyslogTlsFiles, authMode: 'anon' | 'x509/certvalid'): Promise<Rsyslog> {
    const port = await freePort();
    const outFile = join(dir, 'rsyslog-received.jsonl');
    const properties = [['pri', 'pri'], ['hostname', 'hostname'], ['appname', 'app-name'], ['procid', 'procid'], ['msgid', 'msgid'], ['sd', 'structured-data'], ['msg', 'msg'], ['raw', 'rawmsg']];
    const rsyslog = await Rsyslog.run(dir, port, outFile, [
      `global(workDirectory="${dir}" defaultNetstreamDriver="gtls" defaultNetstreamDriverCAFile="${files.caFile}" defaultNetstreamDriverCertFile="${files.certFile}" defaultNetstreamDriverKeyFile="${files.keyFile}")`,
      `module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="${authMode}")`,
      `input(type="imtcp" address="127.0.0.1" port="${port}")`,
      'template(name="wardwatchTest" type="list" option.jsonf="on") {',
      ...properties.map(([out, name]) => ` property(outname="${out}" name="${name}" format="jsonf")`),
      ' property(outname="ts" name="timereported" dateFormat="rfc3339" format="jsonf")',
      '}',
      `action(type="omfile" file="${outFile}" template="wardwatchTest")`,
    ]);
    try {
      await waitFor(async () => {
        rsyslog.checkRunning();
        return new Promise<boolean>((resolve) => {
          const probe = connect({ host: '127.0.0.1', port }, () => {
            probe.destroy();
            resolve(true);
          });
          probe.on('error', () => resolve(false));
        });
      }, 10_000, 'rsyslogd listening');
    } catch (error) {
      await rsyslog.stop();
      throw error;
    }
    return rsyslog;
  }

  /**
   * rsyslogd as a log shipper: imfile tails `file` (one message per line, from its start)
   * and mmjsonparse parses each line as JSON (no "@cee:" cookie), as Filebeat's or Fluent
   * Bit's JSON input would. A line that parses is written out with the fields named in
   * `fields`; one that does not goes, as it came, to `failedFile`.
   */
  static async startFileShipper(dir: string, file: string, fields: readonly string[]): Promise<Rsyslog> {
    const outFile = join(dir, 'rsyslog-shipped.jsonl');
    return Rsyslog.run(dir, 0, outFile, [
      `global(workDirectory="${dir}" maxMessageSize="64k")`,
      'module(load="imfile")',
      'module(load="mmjsonparse")',
      'template(name="shipped" type="list" option.jsonf="on") {',
      ...fields.map((field) => ` property(outname="${field}" name="$!${field}" format="jsonf")`),
      '}',
      'ruleset(name="alerts") {',
      ' action(type="mmjsonparse" cookie="")',
      ` if $parsesuccess == "OK" then { action(type="omfile" file="${outFile}" template="shipped") }`,
      ` else { action(type="omfile" file="${Rsyslog.failedFileIn(dir)}") }`,
      '}',
      `input(type="imfile" file="${file}" tag="wardwatch-alerts" ruleset="alerts" freshStartTail="off")`,
    ]);
  }

  private static async run(dir: string, port: number, outFile: string, lines: readonly string[]): Promise<Rsyslog> {
    const confFile = join(dir, `rsyslog-${Math.random().toString(36).slice(2)}.conf`);
    writeFileSync(confFile, `${lines.join('\n')}\n`);
    const child = spawn('rsyslogd', ['-n', '-f', confFile, '-i', `${confFile}.pid`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    return new Rsyslog(child, port, outFile, output);
  }

  /** Where the file shipper writes the lines that were not JSON. */
  static failedFileIn(dir: string): string {
    return join(dir, 'rsyslog-not-json.log');
  }

  private checkRunning(): void {
    if (this.child.exitCode !== null) throw new Error(`rsyslogd exited (${this.child.exitCode}): ${this.log}`);
  }

  records(): RsyslogRecord[] {
    return this.lines() as unknown as RsyslogRecord[];
  }

  /** Every line rsyslogd wrote, parsed. */
  lines(): Record<string, string>[] {
    this.checkRunning();
    if (!existsSync(this.outFile)) return [];
    return readFileSync(this.outFile, 'utf8').split('\n').filter((line) => line.length > 0).map((line) => JSON.parse(line) as Record<string, string>);
  }

  /** What rsyslogd printed (for a failing test's message). */
  get log(): string {
    return this.output.join('');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
