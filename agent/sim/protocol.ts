import type { EmergencyAck } from '../../shared/schemas/emergency.js';
import type { RootMetadata } from '../../shared/schemas/root.js';
import type { TrafficSpec } from './traffic.js';

/**
 * The IPC messages between `loa sim`'s parent process (the fleet) and its worker processes. Everything is
 * plain JSON (child_process IPC serialises with JSON). Private keys only ever travel parent → worker.
 */

/** One simulated device, as the parent hands it to a worker. */
export interface SimDeviceSpec {
  id: string;
  /** PKCS#8 PEM. Never logged, never sent back. */
  privateKeyPem: string;
  /** The device's zone chain, province first (what its signed manifest would say). */
  zones: string[];
}

export interface WorkerStart {
  kind: 'start';
  /** Worker index, for messages. */
  index: number;
  mqttUrl: string;
  root: RootMetadata;
  devices: SimDeviceSpec[];
  /** Connections this worker opens at once (the fleet's total divided among workers). */
  connectConcurrency: number;
  /** Play time of an accepted order; null = the order's audio duration × repeat. */
  playMs: number | null;
  /** How often the worker reports (default 250 ms). */
  reportMs: number;
  keepaliveS: number;
  /** Publish the retained online/offline status as the agent does (default true). */
  status: boolean;
  /** Everyday traffic of every device (soak runs); absent = none. */
  traffic?: TrafficSpec;
  /** Manifest fetches this worker runs at once (default 20). */
  fetchConcurrency?: number;
}

/** `quiet`: stop the everyday traffic, stay connected (queued events drain). */
export type ToWorker = WorkerStart | { kind: 'stop' } | { kind: 'quiet' };

/** Counts of one worker, cumulative since it started. */
export interface WorkerCounts {
  devices: number;
  connected: number;
  /** Connection attempts that failed (each retried with backoff). */
  connectFailures: number;
  /** Connections lost after they were up (each reconnected with backoff). */
  drops: number;
  notifies: number;
  pings: number;
  /** Events still waiting for their PUBACK. */
  unacked: number;
  /** CPU time of the worker process (user + system, ms): what the simulated devices cost this machine. */
  cpuMs: number;
  /** Telemetry samples the broker acknowledged (traffic). */
  telemetry: number;
  /** Play occurrences queued (a play.start and a play.end each; traffic). */
  plays: number;
  /** Manifest fetches that succeeded (200 or 304) and that failed (each retried). */
  fetches: number;
  fetchFailures: number;
}

/** One ack (or ping reply) a device published, with the device's wall-clock time. */
export interface AckReport {
  deviceId: string;
  orderId: string;
  state: EmergencyAck['state'];
  /** ms since epoch (device clock = this machine's clock). */
  at: number;
  code?: string;
}

export interface PingReport {
  deviceId: string;
  n: number;
  /** When the device received the ping (ms since epoch). */
  at: number;
}

/** Errors seen by a worker, by code, with the latest message (a worker never logs per device). */
export type ErrorTally = Record<string, { count: number; last: string }>;

export type FromWorker =
  | { kind: 'ready'; index: number; pid: number }
  | { kind: 'report'; index: number; counts: WorkerCounts; acks: AckReport[]; pings: PingReport[]; errors: ErrorTally }
  | { kind: 'stopped'; index: number; counts: WorkerCounts }
  | { kind: 'fatal'; index: number; code: string; message: string };

/** A worker message, checked loosely (it comes from our own child, but over a process boundary). */
export function isFromWorker(m: unknown): m is FromWorker {
  if (typeof m !== 'object' || m === null) return false;
  const k = (m as { kind?: unknown }).kind;
  return k === 'ready' || k === 'report' || k === 'stopped' || k === 'fatal';
}

export function isToWorker(m: unknown): m is ToWorker {
  if (typeof m !== 'object' || m === null) return false;
  const k = (m as { kind?: unknown }).kind;
  return k === 'stop' || k === 'quiet' || (k === 'start' && Array.isArray((m as { devices?: unknown }).devices));
}
