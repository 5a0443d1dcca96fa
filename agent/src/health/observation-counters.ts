import type { Observation } from '../ingest/observation.ts';

/** How an observation was seen (DESIGN.md, "Ways to see traffic"): in the path (embedded broker, Modbus gateway), by the tap, or in a capture. */
export type ObservedVia = 'in-path' | 'tap' | 'capture';

type ObservationKind = Observation['kind'];

/** Every observation kind as protocol and kind labels; a fixed set, so the label set is bounded. */
const KINDS: Readonly<Record<ObservationKind, { readonly protocol: 'mqtt' | 'modbus' | 'ip'; readonly kind: string; readonly index: number }>> = {
  'mqtt-publish': { protocol: 'mqtt', kind: 'publish', index: 0 },
  'mqtt-connect': { protocol: 'mqtt', kind: 'connect', index: 1 },
  'mqtt-disconnect': { protocol: 'mqtt', kind: 'disconnect', index: 2 },
  'mqtt-subscribe': { protocol: 'mqtt', kind: 'subscribe', index: 3 },
  'mqtt-auth-failure': { protocol: 'mqtt', kind: 'auth-failure', index: 4 },
  'mqtt-anomaly': { protocol: 'mqtt', kind: 'anomaly', index: 5 },
  'modbus-request': { protocol: 'modbus', kind: 'request', index: 6 },
  'modbus-response': { protocol: 'modbus', kind: 'response', index: 7 },
  'modbus-anomaly': { protocol: 'modbus', kind: 'anomaly', index: 8 },
  'capture-anomaly': { protocol: 'ip', kind: 'anomaly', index: 9 },
};
const KIND_COUNT = 10;
const VIAS: readonly ObservedVia[] = ['in-path', 'tap', 'capture'];
const VIA_INDEX: Readonly<Record<ObservedVia, number>> = { 'in-path': 0, tap: 1, capture: 2 };

export interface ObservationCount {
  readonly protocol: 'mqtt' | 'modbus' | 'ip';
  readonly kind: string;
  readonly via: ObservedVia;
  readonly count: number;
}

/**
 * Messages and frames ingested, by protocol, kind and way of seeing: one array slot per
 * combination, so counting is an index and an increment on the per-message path.
 */
export class ObservationCounters {
  private readonly counts = new Array<number>(KIND_COUNT * VIAS.length).fill(0);

  count(observation: Observation, via: ObservedVia): void {
    const slot = VIA_INDEX[via] * KIND_COUNT + KINDS[observation.kind].index;
    this.counts[slot] = (this.counts[slot] as number) + 1;
  }

  /** In-path counts always (zero included, so a rate is defined from the start), but for `ip`; tap and capture ones once seen. */
  entries(): ObservationCount[] {
    const entries: ObservationCount[] = [];
    VIAS.forEach((via, viaIndex) => {
      for (const { protocol, kind, index } of Object.values(KINDS)) {
        const count = this.counts[viaIndex * KIND_COUNT + index] as number;
        // IP-layer anomalies come only from captures: no standing in-path zero for them.
        if ((via === 'in-path' && protocol !== 'ip') || count > 0) entries.push({ protocol, kind, via, count });
      }
    });
    return entries;
  }
}
