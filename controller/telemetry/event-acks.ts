import type { Logger } from '../../shared/log.js';
import { seqRanges, type EventsAck } from '../../shared/schemas/telemetry.js';
import { topics } from '../../shared/topics.js';
import type { Bus } from '../broker/bus.js';

/**
 * The end-to-end acknowledgement of device events (issue 10). A broker's PUBACK only means the broker has an
 * event; a broker killed before handing it on loses it. So the device keeps each event pending until the
 * controller says it is COMMITTED: after each ingest transaction, every device with events in it (new ones and
 * resends alike) is sent the seqs as ranges on `…/dev/{id}/ack` (QoS1). Ranges, not "everything up to seq N":
 * a device's seqs may jump (a rebuilt store starts above its reservation), so only the device knows its gaps.
 */
export class EventAcks {
  private readonly byDevice = new Map<string, number[]>();

  constructor(private readonly o: { bus: Bus; log: Logger; now: () => number }) {}

  /** Notes an event stored (or found stored already) in the transaction being written. */
  add(deviceId: string, seq: number): void {
    let l = this.byDevice.get(deviceId);
    if (!l) this.byDevice.set(deviceId, (l = []));
    l.push(seq);
  }

  /** Forgets one noted event: its savepoint rolled back. */
  drop(deviceId: string, seq: number): void {
    const l = this.byDevice.get(deviceId);
    const i = l ? l.lastIndexOf(seq) : -1;
    if (i >= 0) l!.splice(i, 1);
  }

  /** Forgets what was noted: the transaction rolled back. */
  clear(): void {
    this.byDevice.clear();
  }

  /** Publishes the acks of the committed transaction (never throws; a lost ack only means a resend). */
  publish(): void {
    for (const [deviceId, seqs] of this.byDevice) {
      const ranges = seqRanges(seqs);
      for (let i = 0; i < ranges.length; i += 1000) {
        const ack: EventsAck = { ranges: ranges.slice(i, i + 1000), at: this.o.now() };
        this.o.bus.publish(topics.ack(deviceId), JSON.stringify(ack), { qos: 1 })
          .catch((e: unknown) => this.o.log.debug({ deviceId, err: (e as Error).message }, 'events ack not published; the device will send them again'));
      }
    }
    this.byDevice.clear();
  }
}
