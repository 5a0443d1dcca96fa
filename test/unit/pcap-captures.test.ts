import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CaptureDecoder, readCapture, type CaptureSummary } from '../../agent/src/protocol/pcap/index.ts';
import { FIXTURES, skipWithoutFixtures } from '../helpers/shared-fixtures.ts';

/**
 * Every capture others wrote (../shared/fixtures, see its SOURCES.md) reads without an
 * exception, and the reader finds as many records as TShark 4.0.17 did
 * (expected-tshark.json, `packets`).
 */
const available = !skipWithoutFixtures('capture tests');

function captures(folder: string): string[] {
  const walk = (dir: string): string[] => readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return walk(path);
    return /\.pcap(ng)?$/.test(name) ? [relative(FIXTURES, path)] : [];
  });
  return walk(join(FIXTURES, folder)).sort();
}


describe.skipIf(!available)('every shared capture', () => {
  const expected = available ? JSON.parse(readFileSync(join(FIXTURES, 'expected-tshark.json'), 'utf8')) as Record<string, { packets?: string }> : {};
  const all = available ? ['modbus', 'mqtt', 'negative'].flatMap(captures) : [];

  it('includes the captures SOURCES.md lists', () => {
    expect(all.length).toBeGreaterThanOrEqual(60);
    for (const name of Object.keys(expected)) if (name !== '_about') expect(all).toContain(name);
  });

  it.each(all)('%s reads without an exception, with TShark\'s packet count', (name) => {
    const bytes = readFileSync(join(FIXTURES, name));
    const summary = readCapture(bytes);
    const packets = expected[name]?.packets;
    if (packets !== undefined) expect(summary.records).toBe(Number(packets));
    expect(summary.records).toBeGreaterThan(0);
    // A capture is a capture: no reader-level anomaly in any of them.
    for (const anomaly of ['pcap-bad-magic', 'pcap-truncated-record', 'pcap-record-too-large', 'pcapng-bad-block', 'unsupported-link-type'] as const) {
      expect(summary.anomalies[anomaly], anomaly).toBeUndefined();
    }
    // A live pipe delivers odd-sized chunks: the result must not depend on them.
    const decoder = new CaptureDecoder();
    for (let at = 0; at < bytes.length; at += 1499) decoder.push(bytes.subarray(at, at + 1499));
    expect(decoder.end()).toEqual(summary);
  });

  it('covers the link layers the fixtures promise: Ethernet, Linux cooked, raw IP, VLAN, IPv6, pcapng', () => {
    const read = (name: string): CaptureSummary => readCapture(readFileSync(join(FIXTURES, name)));
    expect(read('mqtt/mqttset-benign.pcap').linkTypes).toEqual({ 113: 10896 });
    expect(read('negative/earwax__wifi_data__1_1.pcap').linkTypes).toEqual({ 101: 231 });
    let vlanTagged = 0;
    readCapture(readFileSync(join(FIXTURES, 'mqtt/ndpi-mqtt.pcapng')), {
      onRecord: (record) => { if (record.data.readUInt16BE(12) === 0x8100) vlanTagged += 1; },
    });
    expect(vlanTagged).toBe(1);
    let ipv6 = 0;
    const summary = readCapture(readFileSync(join(FIXTURES, 'mqtt/suricata-verify/mqtt5-pub-qos1/input.pcap')), {
      onSegment: (segment) => { if (segment.ipVersion === 6) ipv6 += 1; },
    });
    expect(ipv6).toBe(summary.tcpSegments);
    expect(ipv6).toBeGreaterThan(0);
  });
});
