import type { FindingSink } from '../alert/finding.ts';
import type { PipelineEvent } from '../normalize/events.ts';
import { boundedKey } from './bounded-key.ts';
import type { Detector } from './detector.ts';

/**
 * Traffic in a capture shaped so that the monitor and the device read different things:
 * IP fragments (protocol/pcap/ip-defrag.ts) and TCP segments that repeat sequence numbers
 * with other bytes (protocol/pcap/tcp-streams.ts), the insertion and evasion attacks of
 * Ptacek and Newsham (1998). What the monitor dropped, or read from a copy the device may
 * not have kept, is exactly what the device may have obeyed, so each is an alert, not only
 * a count. `ip-fragment-incomplete` and `tcp-overlap-unverified` are not among them: a
 * capture that starts or drops packets mid-datagram shows the first, and a retransmission
 * of more than the monitor keeps the second, with nobody attacking.
 */
const EVASIONS: Readonly<Record<string, string>> = {
  'ip-fragment-overlap': 'sent IP fragments that overlap with different bytes (RFC 1858 §4): the device may keep either copy, so what it received was not judged',
  'ip-fragment-misaligned': 'sent an IP fragment whose length is not a multiple of 8 with more to follow (RFC 791 §3.2): hosts trim or drop it differently, so what it carried was not judged',
  'ip-fragment-oversize': 'sent IP fragments reaching past the largest datagram IP can carry (the "ping of death" shape)',
  'ip-fragment-nested': 'sent an IPv6 datagram whose reassembly is itself a fragment (RFC 8200 §4.1 allows one Fragment header)',
  'ip-fragment-overflow': 'had an unfinished datagram dropped because unfinished IP fragments filled the monitor\'s budget: a flood of decoy fragments can push a real command out before it is judged',
  'tcp-overlap-conflict': 'sent TCP segments that carry other bytes for sequence numbers already seen (an insertion: a copy the device drops, such as one with a bad checksum, can show the monitor a harmless command while the device takes another); the copy decoded first was judged',
};

export class CaptureEvasionDetector implements Detector {
  readonly id = 'capture-evasion';

  inspect(event: PipelineEvent, report: FindingSink): void {
    if (event.kind !== 'anomaly' || event.source?.transport !== 'ip') return;
    const what = EVASIONS[event.name];
    if (what === undefined) return;
    const address = event.source.address;
    report({
      type: 'capture-evasion',
      ts: event.ts,
      device: null,
      // An overflow names the datagram that was pushed out, whose source may be a victim or
      // forged by the flood: one alert for all of them, not one per address the flood made up.
      dedupKey: event.name === 'ip-fragment-overflow' ? event.name : `${event.name}|${boundedKey(address)}`,
      title: `Capture: ${address} ${what}`,
      evidence: { anomaly: event.name, detail: event.detail.slice(0, 512), address },
    });
  }
}
