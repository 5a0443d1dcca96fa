import type { SiteConfig } from '../model/site-schema.ts';

/**
 * The site config for an agent watching a simulated ward that runs `speed` times faster
 * than real time (`wardwatch demo --speed`). The agent's event time is the wall clock, so
 * the ward's ordinary chatter arrives `speed` times as densely and would look like a
 * publish flood; the per-window publish threshold scales with the speed. Everything else
 * (limits, policy, login bursts, which do not speed up) is unchanged. At speed 1 the
 * config is returned as it is.
 */
export function configForAcceleratedWard(config: SiteConfig, speed: number): SiteConfig {
  if (speed <= 1) return config;
  const { publishFlood } = config.detection;
  return Object.freeze({
    ...config,
    detection: Object.freeze({ ...config.detection, publishFlood: Object.freeze({ ...publishFlood, count: Math.ceil(publishFlood.count * speed) }) }),
  });
}
