import { createServer, type Server, type Socket } from 'node:net';
import { Aedes, type AedesOptions, type Client } from 'aedes';
import { parseUpTopic, topics } from '../../shared/topics.js';

export interface BrokerMessage {
  topic: string;
  payload: Buffer;
  clientId: string | null;
  retain: boolean;
  qos: number;
}

export interface TestBroker {
  port: number;
  url: string;
  aedes: Aedes;
  /** Every message the broker accepted, in order (clients' publishes and wills). */
  messages: BrokerMessage[];
  /** Passwords (device tokens) of connection attempts, in order. */
  passwords: string[];
  /** Publishes to clients, resolving once the broker has it. */
  publish(topic: string, payload: string | Buffer, qos?: 0 | 1): Promise<void>;
  /** Kills the broker: every connection is cut at once and the port is closed. */
  stop(): Promise<void>;
}

/**
 * A real aedes broker on a local TCP port (0 = any free port; give the old port to "restart" a broker).
 * `authorizePublish` may withhold its callback to stall a client's publishes (no PUBACK). Unless `ackEvents` is
 * false, it answers each device event with the controller's end-to-end ack (`…/dev/{id}/ack`), as the real
 * controller does once it has stored it.
 */
export async function startBroker(o: { port?: number; authenticate?: AedesOptions['authenticate']; authorizePublish?: AedesOptions['authorizePublish']; ackEvents?: boolean } = {}): Promise<TestBroker> {
  const passwords: string[] = [];
  const aedes = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      passwords.push(password?.toString('utf8') ?? '');
      if (o.authenticate) o.authenticate(client, username, password, done);
      else done(null, true);
    },
    ...(o.authorizePublish ? { authorizePublish: o.authorizePublish } : {}),
  });
  const messages: BrokerMessage[] = [];
  aedes.on('publish', (packet, client: Client | null) => {
    if (packet.topic.startsWith('$SYS')) return;
    messages.push({ topic: packet.topic, payload: Buffer.from(packet.payload), clientId: client?.id ?? null, retain: packet.retain, qos: packet.qos });
    const up = parseUpTopic(packet.topic);
    if (up?.kind === 'events' && client && (o.ackEvents ?? true)) {
      let body: unknown = null;
      try {
        body = JSON.parse(Buffer.from(packet.payload).toString());
      } catch {
        // not an event: nothing to acknowledge
      }
      const seqs = (Array.isArray(body) ? body : [body]).map((e) => (e as { seq?: unknown } | null)?.seq).filter((s): s is number => typeof s === 'number' && s > 0);
      if (seqs.length) {
        const ack = Buffer.from(JSON.stringify({ ranges: seqs.map((s) => [s, s]), at: Date.now() }));
        aedes.publish({ cmd: 'publish', topic: topics.ack(up.deviceId), payload: ack, qos: 1, retain: false, dup: false }, () => undefined);
      }
    }
  });
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    aedes.handle(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    port, url: `mqtt://127.0.0.1:${port}`, aedes, messages, passwords,
    publish: (topic, payload, qos = 1) => new Promise<void>((resolve, reject) => {
      aedes.publish({ cmd: 'publish', topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos, retain: false, dup: false }, (err) => (err ? reject(err) : resolve()));
    }),
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    },
  };
}

/** Polls `probe` until it returns something other than undefined/false, or fails after `ms`. */
export async function waitFor<T>(probe: () => T | undefined | false, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
