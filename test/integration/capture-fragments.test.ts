import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { temporaryDataDir } from '../helpers/agent-fixture.ts';
import { fragmentIpv4, frame, mqttConnect, mqttPublish, pcapFile, type Direction } from '../helpers/packet-builders.ts';
import { missingPeer } from '../helpers/peers.ts';

const run = promisify(execFile);
const noTshark = missingPeer('tshark', 'tshark') !== null;

/**
 * The evasion a passive monitor must not fall for: a guest station's command to a pump
 * sent in IP fragments (RFC 791 §3.2). TShark, with its default IPv4 reassembly, is the
 * independent reader of the same file: what it decodes, the agent must judge.
 */
const T0 = Date.parse('2026-11-28T08:00:00Z') * 1000;
const COMMAND = JSON.stringify({ id: '5b0e6a57-1c2d-4e8f-9a0b-7c6d5e4f3a21', ts: '2026-11-28T08:00:00.000Z', issuer: 'guest', user: 'guest', command: 'set_rate', params: { rate_ml_h: 320 } });

/** A guest's session to the broker; the PUBLISH frame is cut into IP fragments (at `cutsFor` its IP payload length) and handed to `arrange`. */
function guestCommandCapture(arrange: (fragments: Buffer[]) => Buffer[], cutsFor: (payloadBytes: number) => number[] = () => [64, 128]): Buffer {
  const up: Direction = { seq: 1000, src: [10, 4, 0, 66], dst: [10, 4, 0, 2], srcPort: 40_066, dstPort: 1883 };
  const down: Direction = { seq: 7000, src: [10, 4, 0, 2], dst: [10, 4, 0, 66], srcPort: 1883, dstPort: 40_066 };
  const frames = [
    frame(up, Buffer.alloc(0), 'syn'),
    frame(down, Buffer.alloc(0), 'syn-ack'),
    frame(up, mqttConnect('guest-tablet', 'guest', 'demo')),
    frame(down, Buffer.from([0x20, 2, 0, 0])),
  ];
  const publish = frame(up, mqttPublish('ward/pump-01/command', COMMAND));
  const ip = publish.subarray(14);
  const fragments = fragmentIpv4(ip, cutsFor(ip.length - 20)).map((packet) => Buffer.concat([publish.subarray(0, 14), packet]));
  return pcapFile([...frames, ...arrange(fragments)].map((data, index) => ({ seconds: Math.floor(T0 / 1e6), fraction: index * 1_000, data })));
}

async function tsharkTopics(file: string): Promise<string[]> {
  const { stdout } = await run('tshark', ['-r', file, '-n', '-d', 'tcp.port==1883,mqtt', '-Y', 'mqtt.msgtype == 3', '-T', 'fields', '-e', 'mqtt.topic']);
  return stdout.split('\n').filter((line) => line !== '');
}

async function replay(file: string): Promise<Record<string, any>[]> {
  const { stdout } = await run(process.execPath, ['bin/wardwatch.js', 'replay', file, '--config', 'config/demo.yaml', '--json']);
  return stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, any>);
}

describe.skipIf(noTshark)('IP fragments in a capture (tshark as the reference)', () => {
  const data = temporaryDataDir();
  afterAll(() => data.remove());

  it('a command sent in three IP fragments, out of order: tshark and the agent both see it, and the agent raises the alert', async () => {
    const file = join(data.dir, 'fragmented-command.pcap');
    writeFileSync(file, guestCommandCapture(([first, second, third]) => [third, first, second].flatMap((fragment) => (fragment === undefined ? [] : [fragment]))));
    expect(await tsharkTopics(file)).toEqual(['ward/pump-01/command']);
    const lines = await replay(file);
    const summary = lines.at(-1);
    expect(summary).toMatchObject({ event: 'summary', ipFragments: { taken: 3, reassembled: 1 } });
    expect(lines.filter((line) => line.event === 'alert' && line.type === 'unauthorized-command' && line.deviceId === 'pump-01')).toHaveLength(1);
  });

  it('the same command in 8-byte fragments (tiny-fragment evasion): both decode it, and the agent alerts', async () => {
    const file = join(data.dir, 'tiny-fragments.pcap');
    let pieces = 0;
    writeFileSync(file, guestCommandCapture((fragments) => {
      pieces = fragments.length;
      return fragments;
    }, (payloadBytes) => Array.from({ length: Math.ceil(payloadBytes / 8) - 1 }, (_, index) => (index + 1) * 8)));
    expect(pieces).toBeGreaterThan(25);
    expect(await tsharkTopics(file)).toEqual(['ward/pump-01/command']);
    const lines = await replay(file);
    expect(lines.at(-1)?.ipFragments).toEqual({ taken: pieces, reassembled: 1 });
    expect(lines.filter((line) => line.event === 'alert' && line.type === 'unauthorized-command' && line.deviceId === 'pump-01')).toHaveLength(1);
  });

  it('a second copy of the middle fragment with other bytes: tshark reports the conflict; the agent judges no guessed command and raises capture-evasion naming the sender', async () => {
    const file = join(data.dir, 'overlapping-fragments.pcap');
    writeFileSync(file, guestCommandCapture(([first, second, third]) => {
      if (first === undefined || second === undefined || third === undefined) throw new Error('three fragments expected');
      const forged = Buffer.from(second);
      // The same place in the payload, other digits: which copy the pump keeps depends on its stack (RFC 1858 §4).
      forged.write('9', forged.length - 8, 'latin1');
      return [first, forged, second, third];
    }));
    const { stdout } = await run('tshark', ['-r', file, '-n', '-Y', 'ip.fragment.overlap.conflict', '-T', 'fields', '-e', 'frame.number']);
    expect(stdout.trim()).not.toBe('');
    const lines = await replay(file);
    const summary = lines.at(-1);
    expect(summary?.anomalies).toMatchObject({ 'ip-fragment-overlap': 1 });
    expect(summary?.ipFragments).toEqual({ taken: 4, reassembled: 0 });
    expect(lines.filter((line) => line.event === 'alert' && line.type === 'unauthorized-command')).toHaveLength(0);
    const evasion = lines.filter((line) => line.event === 'alert' && line.type === 'capture-evasion');
    expect(evasion).toHaveLength(1);
    expect(evasion[0]).toMatchObject({ severity: 'high', title: expect.stringContaining('10.4.0.66 sent IP fragments that overlap with different bytes') });
  });
});
