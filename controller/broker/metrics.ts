import { Counter, Gauge, type Registry } from 'prom-client';

export type DeniedAction = 'connect' | 'subscribe' | 'publish' | 'will';

/** The embedded broker's Prometheus figures, on an injected registry (never the global default one). */
export class BrokerMetrics {
  readonly connected: Gauge;
  readonly messagesIn: Counter<'kind'>;
  readonly denied: Counter<'action' | 'reason'>;
  /** Pre-bound children: the per-message path skips prom-client's label hashing. */
  private readonly inByKind = new Map<string, { inc(): void }>();

  constructor(registry: Registry, connectedClients: () => number) {
    this.connected = new Gauge({
      name: 'loa_mqtt_connected_clients',
      help: 'MQTT clients connected to the embedded broker',
      registers: [registry],
      collect() {
        this.set(connectedClients());
      },
    });
    this.messagesIn = new Counter({ name: 'loa_mqtt_messages_in_total', help: 'Messages published by clients and accepted by the broker, by up kind', labelNames: ['kind'], registers: [registry] });
    for (const kind of ['status', 'telemetry', 'events', 'other']) this.inByKind.set(kind, this.messagesIn.labels(kind));
    this.denied = new Counter({ name: 'loa_mqtt_denied_total', help: 'Refused MQTT actions (LOA_ERR_MQTT_FORBIDDEN and failed logins), by action and reason', labelNames: ['action', 'reason'], registers: [registry] });
  }

  /** Counts one accepted client message by up kind (status, telemetry, events; anything else as other). */
  messageIn(kind: string | undefined): void {
    (this.inByKind.get(kind ?? 'other') ?? this.inByKind.get('other'))?.inc();
  }
}
