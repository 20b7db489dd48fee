import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { topicMatches } from './match.js';

/**
 * aedes' in-memory persistence (aedes-persistence 11) with retained messages looked up by topic instead of
 * scanned. Upstream answers every SUBSCRIBE by testing the filter against every retained topic
 * (`retainedMessagesByPattern`). Every device retains its status, and devices subscribe only to exact topics,
 * so at 10,000 devices each connection cost ~40 ms of broker CPU and a reconnect storm took minutes. Here a
 * filter without wildcards is one Map lookup; a filter with `+` or `#` still scans, with the same MQTT rules
 * as upstream (shared with the ACL: match.ts). Everything else (sessions, subscriptions, offline queues,
 * wills) is upstream's code, unchanged: this class only overrides the three retained-message methods.
 */

interface RetainedPacket {
  topic: string;
  payload: Buffer | string;
}

interface AsyncMemoryPersistence {
  storeRetained(packet: RetainedPacket): Promise<void>;
  createRetainedStream(pattern: string): Readable;
  createRetainedStreamCombi(patterns: string[]): Readable;
}

type AsyncMemoryPersistenceClass = new (opts?: object) => AsyncMemoryPersistence;
type CallBackPersistenceClass = new (factory: (opts: object) => AsyncMemoryPersistence, opts?: object) => object;

const require = createRequire(import.meta.url);
// aedes-persistence has no "exports" map; these two files are its documented building blocks (persistence.js
// composes them the same way).
const MemoryPersistence = require('aedes-persistence/asyncPersistence.js') as AsyncMemoryPersistenceClass;
const { CallBackPersistence } = require('aedes-persistence/callBackPersistence.js') as { CallBackPersistence: CallBackPersistenceClass };

const hasWildcard = (filter: string): boolean => filter.includes('+') || filter.includes('#');

export class IndexedRetainedPersistence extends MemoryPersistence {
  readonly #retained = new Map<string, RetainedPacket>();

  override async storeRetained(pkt: RetainedPacket): Promise<void> {
    const packet = { ...pkt };
    if (packet.payload.length === 0) this.#retained.delete(packet.topic);
    else this.#retained.set(packet.topic, packet);
    return Promise.resolve();
  }

  override createRetainedStream(pattern: string): Readable {
    return Readable.from(this.matching(pattern));
  }

  override createRetainedStreamCombi(patterns: string[]): Readable {
    return Readable.from(patterns.flatMap((p) => [...this.matching(p)]));
  }

  /** How many retained messages are held (for tests and metrics). */
  get retainedCount(): number {
    return this.#retained.size;
  }

  private *matching(pattern: string): Generator<RetainedPacket> {
    if (!hasWildcard(pattern)) {
      const p = this.#retained.get(pattern);
      if (p) yield p;
      return;
    }
    for (const [topic, packet] of this.#retained) if (topicMatches(pattern, topic)) yield packet;
  }
}

/** The persistence to pass to aedes (`persistence` option): upstream's callback layer over the indexed store. */
export function indexedMemoryPersistence(): unknown {
  return new CallBackPersistence((opts) => new IndexedRetainedPersistence(opts));
}
