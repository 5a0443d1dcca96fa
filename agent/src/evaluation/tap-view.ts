import type { ObservationSink } from '../ingest/observation.ts';

/**
 * What the agent would see of the in-process broker's traffic through the MQTT tap
 * (ingest/mqtt-tap.ts; DESIGN.md, way 2), for scenarios with `via: tap`: every publish,
 * without its sender (`client: null`, `via: 'tap'`), and nothing of logins, refusals,
 * subscriptions or disconnects, which a subscriber never sees. As the default 3.1.1 tap
 * receives them: RETAIN 0 on a publish forwarded to an established subscription, whatever
 * its publisher set ([MQTT-3.3.1-9]), and QoS 0, the tap's subscription QoS (§3.8.4); no
 * publisher packet id (the broker's delivery carries its own).
 */
export function tapView(sink: ObservationSink): ObservationSink {
  return (observation) => {
    if (observation.kind !== 'mqtt-publish') return;
    sink({ kind: 'mqtt-publish', ts: observation.ts, client: null, via: 'tap', topic: observation.topic, payload: observation.payload, retain: false, qos: 0 });
  };
}
