/**
 * What a simulated device or actor needs from MQTT, and nothing more: publish, subscribe,
 * close. Two implementations: mqtt-link.ts (a real broker, for the fleet and the demo)
 * and memory-bus.ts (in-process, for tests and fast simulation).
 */

export interface PublishOptions {
  readonly retain?: boolean;
  readonly qos?: 0 | 1;
}

export type MessageHandler = (topic: string, payload: Buffer) => void;

export interface DeviceLink {
  /** Never throws for a broken connection; a message that cannot be sent is dropped and logged. */
  publish(topic: string, payload: string, options?: PublishOptions): void;
  subscribe(topicFilter: string, onMessage: MessageHandler): void;
  /** Clean disconnect: the broker does not publish the will [MQTT-3.1.2-10]. */
  close(): Promise<void>;
}

/** A retained message a link publishes on its own behalf. */
export interface LinkMessage {
  readonly topic: string;
  readonly payload: string;
  readonly retain: boolean;
}

export interface LinkIdentity {
  readonly clientId: string;
  readonly username: string;
  readonly password: string;
  /** Last will: published by the broker when the connection drops without DISCONNECT [MQTT-3.1.2-8]. */
  readonly will?: LinkMessage;
  /**
   * Birth message, the counterpart of the will: published by the link after every
   * (re)connect. After a network blip the broker has published the will (`offline`);
   * the birth message puts the retained status back to `online` without the device
   * having to know that the link reconnected.
   */
  readonly birth?: LinkMessage;
}

export type LinkFactory = (identity: LinkIdentity) => Promise<DeviceLink>;

/**
 * The link of a device that is not on MQTT at all (a Modbus-only device in a ward run
 * with `transport: 'modbus'`): it publishes nothing and hears nothing.
 */
export function noMqttLink(): DeviceLink {
  return {
    publish: () => undefined,
    subscribe: () => undefined,
    close: () => Promise.resolve(),
  };
}
