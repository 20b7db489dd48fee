import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Aedes, type AedesOptions, type AuthenticateError, type Client, type ConnectPacket, type PublishPacket, type Subscription } from 'aedes';
import type { Registry } from 'prom-client';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { SystemClock, type Clock } from '../../shared/clock.js';
import { LoaError, type ErrorCode } from '../../shared/errors.js';
import { createLogger, type Logger } from '../../shared/log.js';
import { parseUpTopic } from '../../shared/topics.js';
import { canForward, canPublish, canSubscribe, type AclReason } from './acl.js';
import { BrokerAuthenticator, INTERNAL_CLIENT_PREFIX, type AuthReason, type DeviceKeysLookup, type InternalCredentials, type Principal } from './auth.js';
import { guardStream } from './frame-guard.js';
import { indexedMemoryPersistence } from './retained-index.js';
import { BrokerMetrics, type DeniedAction } from './metrics.js';

/** The zone chain of a device (province › … › cluster ids): which `loa/v1/zone/{z}/…` it may subscribe to. */
export type DeviceZonesLookup = (deviceId: string) => readonly string[] | Promise<readonly string[]>;

/** MQTT over WebSocket: on its own port, or on an existing HTTP server (e.g. Fastify's) at a path. */
export type WsListenOptions = { port: number; host?: string; path?: string } | { server: HttpServer; path?: string };

export interface EmbeddedBrokerOptions {
  deviceKeys: DeviceKeysLookup;
  deviceZones: DeviceZonesLookup;
  /** Metrics go here; never the global default registry. */
  registry: Registry;
  /** Default 0.0.0.0. */
  host?: string;
  /** TCP port; 0 = any free port (read it back from `port`). Default 1883. */
  port?: number;
  ws?: WsListenOptions;
  log?: Logger;
  clock?: Pick<Clock, 'now'>;
  /** Larger MQTT packets close the connection while they stream. Default 256 KiB. */
  maxPacketBytes?: number;
  /** Accept one internal client for the controller's own process (see `internalCredentials`). Default false. */
  internalClient?: boolean;
  /** Passed to aedes. */
  aedes?: Pick<AedesOptions, 'connectTimeout' | 'drainTimeout' | 'keepaliveLimit' | 'heartbeatInterval' | 'concurrency' | 'queueLimit'>;
}

interface ConnInfo {
  clientId: string | undefined;
  will: ConnectPacket['will'];
  remote: string | undefined;
}

const NOT_AUTHORIZED = 5;
const SERVER_UNAVAILABLE = 3;
const authError = (message: string, returnCode: number): AuthenticateError => Object.assign<Error, { returnCode: AuthenticateError['returnCode'] }>(new Error(message), { returnCode });
const clip = (s: string | undefined | null): string | undefined => (s == null ? undefined : s.length > 130 ? `${s.slice(0, 128)}…` : s);

/**
 * The embedded MQTT broker (DESIGN §5): aedes on TCP (and optionally WebSocket), with device authentication
 * and the topic ACL of acl.ts. Everything is denied by default. The controller itself talks to it in-process
 * through AedesBus, without a TCP hop.
 */
export class EmbeddedBroker {
  private broker: Aedes | null = null;
  private tcp: NetServer | null = null;
  private wss: WebSocketServer | null = null;
  private wsHttp: HttpServer | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly remotes = new WeakMap<object, string>();
  private readonly conns = new WeakMap<Client, ConnInfo>();
  private readonly principals = new WeakMap<Client, Principal>();
  private readonly devices = new Map<string, Client>();
  /** disconnect() generation per device, so a login that was in flight when the device was cut off fails. */
  private readonly kicked = new Map<string, number>();
  private kickGen = 0;
  private auth: BrokerAuthenticator | null = null;
  private metricsObj: BrokerMetrics | null = null;

  constructor(private readonly options: EmbeddedBrokerOptions) {}

  private get log(): Logger {
    return (this.options.log ??= createLogger('broker'));
  }

  /** The aedes instance (for AedesBus). Throws before start(). */
  get aedes(): Aedes {
    if (!this.broker) throw new Error('the embedded broker is not started');
    return this.broker;
  }

  get metrics(): BrokerMetrics {
    if (!this.metricsObj) throw new Error('the embedded broker is not started');
    return this.metricsObj;
  }

  /** The bound TCP port. */
  get port(): number {
    const a = this.tcp?.address();
    if (!a || typeof a === 'string') throw new Error('the embedded broker is not listening');
    return a.port;
  }

  /** The bound WebSocket port (own-port mode), the HTTP server's port (attached mode), or null. */
  get wsPort(): number | null {
    const server = this.wsHttp ?? (this.options.ws && 'server' in this.options.ws ? this.options.ws.server : null);
    const a = server?.address();
    return a && typeof a !== 'string' ? a.port : null;
  }

  async start(): Promise<void> {
    if (this.broker) return;
    const o = this.options;
    this.auth = new BrokerAuthenticator({ deviceKeys: o.deviceKeys, clock: o.clock ?? new SystemClock(), internalClient: o.internalClient ?? false });
    const broker = await Aedes.createBroker({
      drainTimeout: 30_000,
      persistence: indexedMemoryPersistence(),
      ...o.aedes,
      preConnect: (client, packet, cb) => {
        this.conns.set(client, { clientId: packet.clientId, will: packet.will, remote: this.remotes.get(client.conn) });
        cb(null, true);
      },
      authenticate: (client, username, password, done) => {
        this.authenticate(client, username, password).then(() => done(null, true), (e: AuthenticateError) => done(e, false));
      },
      authorizePublish: (client, packet, cb) => cb(this.authorizePublish(client, packet)),
      authorizeSubscribe: (client, sub, cb) => {
        this.authorizeSubscribe(client, sub).then((ok) => cb(null, ok ? sub : null), () => cb(null, null));
      },
      authorizeForward: (client, packet) => {
        const p = this.principals.get(client);
        if (!p) return null;
        return p.kind === 'internal' || canForward(p.deviceId, packet.topic) ? packet : null;
      },
    });
    this.broker = broker;
    this.metricsObj ??= new BrokerMetrics(o.registry, () => this.broker?.connectedClients ?? 0); // once per registry, across restarts
    // 'client' comes when aedes registers the session (before CONNACK); 'clientReady' only after the queued
    // messages went out, which can be after a disconnect() of the same client.
    broker.on('client', (client) => {
      const p = this.principals.get(client);
      if (p?.kind === 'device' && !client.closed) this.devices.set(p.deviceId, client);
    });
    broker.on('clientReady', (client) => {
      this.log.debug({ clientId: client.id, remote: this.conns.get(client)?.remote }, 'mqtt client connected');
    });
    broker.on('clientDisconnect', (client) => {
      const p = this.principals.get(client);
      if (p?.kind === 'device' && this.devices.get(p.deviceId) === client) this.devices.delete(p.deviceId);
      this.log.debug({ clientId: client.id }, 'mqtt client disconnected');
    });
    broker.on('clientError', (client, err) => this.log.debug({ clientId: client.id, err: err.message }, 'mqtt client error'));
    broker.on('connectionError', (client, err) => this.log.debug({ remote: this.conns.get(client)?.remote, err: err.message }, 'mqtt connection error'));

    this.tcp = createNetServer((socket) => this.handle(socket, socket));
    await listen(this.tcp, o.port ?? 1883, o.host ?? '0.0.0.0');
    if (o.ws) await this.startWs(o.ws);
    this.log.info({ port: this.port, wsPort: this.wsPort }, 'embedded MQTT broker listening');
  }

  private async startWs(ws: WsListenOptions): Promise<void> {
    const max = this.options.maxPacketBytes ?? 256 * 1024;
    let server: HttpServer;
    if ('server' in ws) {
      server = ws.server;
    } else {
      server = this.wsHttp = createHttpServer((_req, res) => res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n'));
    }
    this.wss = new WebSocketServer({ server, path: ws.path ?? '/mqtt', maxPayload: max + 8 });
    this.wss.on('connection', (socket, req: IncomingMessage) => {
      const stream = createWebSocketStream(socket);
      stream.on('error', () => socket.terminate());
      this.handle(stream, req.socket, req);
    });
    if (this.wsHttp && !('server' in ws)) await listen(this.wsHttp, ws.port, ws.host ?? this.options.host ?? '0.0.0.0');
  }

  private handle(stream: Duplex, socket: Socket, req?: IncomingMessage): void {
    const broker = this.broker;
    if (!broker) {
      stream.destroy();
      return;
    }
    this.sockets.add(socket);
    if (socket.remoteAddress) this.remotes.set(stream, `${socket.remoteAddress}:${socket.remotePort ?? ''}`);
    socket.once('close', () => this.sockets.delete(socket));
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000); // half-open connections of clients with MQTT keepalive 0 still end
    guardStream(stream, this.options.maxPacketBytes ?? 256 * 1024, (message) => {
      this.metricsObj?.denied.inc({ action: 'connect', reason: 'too_large' });
      this.log.warn({ code: 'LOA_ERR_INPUT_TOO_LARGE', remote: socket.remoteAddress }, message);
    });
    broker.handle(stream, req);
  }

  async stop(): Promise<void> {
    const broker = this.broker;
    if (!broker) return;
    const tcpClosed = this.tcp ? new Promise<void>((r) => this.tcp!.close(() => r())) : Promise.resolve();
    const wsHttpClosed = this.wsHttp ? new Promise<void>((r) => this.wsHttp!.close(() => r())) : Promise.resolve();
    await new Promise<void>((r) => broker.close(() => r()));
    if (this.wss) {
      for (const c of this.wss.clients) c.terminate();
      await new Promise<void>((r) => this.wss!.close(() => r()));
    }
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await Promise.all([tcpClosed, wsHttpClosed]);
    this.broker = null;
    this.tcp = null;
    this.wss = null;
    this.wsHttp = null;
    this.devices.clear();
    this.log.info('embedded MQTT broker stopped');
  }

  /** Closes a device's connection at once (e.g. after revocation; its last will is published). */
  disconnect(deviceId: string): boolean {
    this.kicked.set(deviceId, ++this.kickGen);
    const client = this.devices.get(deviceId) ?? (this.broker as unknown as { clients?: Record<string, Client> } | null)?.clients?.[deviceId];
    if (!client) return false;
    this.devices.delete(deviceId);
    this.log.info({ deviceId }, 'mqtt device disconnected by the controller');
    client.close();
    return true;
  }

  isConnected(deviceId: string): boolean {
    return this.devices.has(deviceId);
  }

  /** Credentials for the controller's own MQTT client (needs `internalClient: true`). The password is never logged. */
  internalCredentials(): InternalCredentials {
    if (!this.auth) throw new Error('the embedded broker is not started');
    return this.auth.internalCredentials();
  }

  private deny(action: DeniedAction, reason: AclReason | AuthReason, fields: Record<string, unknown>, code: ErrorCode = 'LOA_ERR_MQTT_FORBIDDEN'): void {
    this.metricsObj?.denied.inc({ action, reason });
    this.log.warn({ code, action, reason, ...fields }, `mqtt ${action} refused: ${reason}`);
  }

  private async authenticate(client: Client, username: string | undefined, password: Buffer | undefined): Promise<void> {
    const info = this.conns.get(client);
    const clientId = info?.clientId ?? client.id;
    const gen = this.kickGen;
    const res = await this.auth!.authenticate(clientId, username, password);
    const who = { clientId: clip(clientId), username: clip(username), remote: info?.remote };
    if (!res.ok) {
      this.deny('connect', res.reason, who, res.code);
      throw authError('not authorized', res.reason === 'lookup_failed' ? SERVER_UNAVAILABLE : NOT_AUTHORIZED);
    }
    const p = res.principal;
    if (p.kind === 'device' && (this.kicked.get(p.deviceId) ?? 0) > gen) {
      this.deny('connect', 'revoked', who, 'LOA_ERR_DEVICE_REVOKED');
      throw authError('not authorized', NOT_AUTHORIZED);
    }
    const will = info?.will;
    if (will && p.kind === 'device') {
      const size = typeof will.payload === 'string' ? Buffer.byteLength(will.payload) : will.payload.length;
      const d = canPublish(p.deviceId, will.topic, will.retain ?? false, size, this.options.maxPacketBytes ?? 256 * 1024);
      if (!d.allowed) {
        this.deny('will', d.reason, { ...who, topic: clip(will.topic) });
        throw authError('not authorized', NOT_AUTHORIZED);
      }
    }
    this.principals.set(client, p);
  }

  private authorizePublish(client: Client | null, packet: PublishPacket): Error | null {
    const p: Principal | undefined = client ? this.principals.get(client) : principalOfWill(packet);
    if (!p) return new LoaError('LOA_ERR_MQTT_FORBIDDEN', 'not authenticated');
    if (p.kind === 'internal') return packet.topic.startsWith('$SYS') ? new LoaError('LOA_ERR_MQTT_FORBIDDEN', '$SYS is reserved') : null;
    const size = typeof packet.payload === 'string' ? Buffer.byteLength(packet.payload) : packet.payload.length;
    const d = canPublish(p.deviceId, packet.topic, packet.retain, size, this.options.maxPacketBytes ?? 256 * 1024);
    const isWill = client !== null && this.conns.get(client)?.will === packet;
    if (!d.allowed) {
      this.deny(isWill ? 'will' : 'publish', d.reason, { clientId: p.deviceId, topic: clip(packet.topic), retain: packet.retain });
      return new LoaError('LOA_ERR_MQTT_FORBIDDEN', `publishing on ${clip(packet.topic)} is not allowed`);
    }
    this.metricsObj?.messageIn(parseUpTopic(packet.topic)?.kind);
    return null;
  }

  private async authorizeSubscribe(client: Client, sub: Subscription): Promise<boolean> {
    const p = this.principals.get(client);
    if (!p) return false;
    if (p.kind === 'internal') return true;
    let zones: readonly string[] = [];
    try {
      zones = await this.options.deviceZones(p.deviceId);
    } catch (e) {
      this.log.error({ code: 'LOA_ERR_INTERNAL', deviceId: p.deviceId, err: (e as Error).message }, 'zone lookup failed; subscription refused');
    }
    const d = canSubscribe(p.deviceId, sub.topic, zones);
    if (!d.allowed) this.deny('subscribe', d.reason, { clientId: p.deviceId, topic: clip(sub.topic) });
    return d.allowed;
  }
}

/** Wills published after a restart have no live client; aedes stores the client id on the packet. */
function principalOfWill(packet: PublishPacket): Principal | undefined {
  const id = (packet as { clientId?: unknown }).clientId;
  if (typeof id !== 'string') return undefined;
  return id.startsWith(INTERNAL_CLIENT_PREFIX) ? { kind: 'internal', clientId: id } : { kind: 'device', deviceId: id };
}

function listen(server: NetServer | HttpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(new LoaError('LOA_ERR_CONFIG_INVALID', `cannot listen on ${host}:${port}: ${e.message}`, { cause: e }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.removeListener('error', onError);
      resolve();
    });
  });
}

