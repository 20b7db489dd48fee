/**
 * The message bus the rest of the controller uses (DESIGN §5): the embedded aedes broker in-process
 * (`AedesBus`), or an external broker through mqtt.js (`MqttBus`). Nothing outside controller/broker/ knows
 * which one is running.
 */
export interface PublishOptions {
  /** Default 1 (DESIGN §3: controller → device is QoS 1). */
  qos?: 0 | 1 | 2;
  /** Default false. */
  retain?: boolean;
}

/** Called for each message whose topic matches the filter. A thrown error or rejection is logged, never rethrown. */
export type MessageHandler = (topic: string, payload: Buffer) => void | Promise<void>;

/** Removes the subscription that returned it. Calling it twice is harmless. */
export type Unsubscribe = () => Promise<void>;

export interface Bus {
  /** `embedded` (aedes in this process) or `external` (mqtt.js client). */
  readonly kind: 'embedded' | 'external';
  start(): Promise<void>;
  /** Removes every subscription made through this bus; the bus cannot be used afterwards. */
  stop(): Promise<void>;
  /** Resolves when the message is handed to the broker (embedded) or acknowledged by it (external, QoS ≥ 1). */
  publish(topic: string, payload: Buffer | string, options?: PublishOptions): Promise<void>;
  /**
   * Subscribes to a topic filter (`+` and `#` allowed). Retained messages that match are delivered first, as an
   * MQTT subscription would.
   */
  subscribe(filter: string, handler: MessageHandler): Promise<Unsubscribe>;
}

/** Runs a handler so that neither a throw nor a rejection escapes; failures go to `onError`. */
export function callHandler(handler: MessageHandler, topic: string, payload: Buffer, onError: (e: unknown) => void): void {
  try {
    const r = handler(topic, payload);
    if (r instanceof Promise) r.then(undefined, onError);
  } catch (e) {
    onError(e);
  }
}
