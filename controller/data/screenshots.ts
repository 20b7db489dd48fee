import type { Db } from '../../agent/store/db.js';

export interface ScreenshotRecord {
  deviceId: string;
  mime: 'image/webp' | 'image/png';
  body: Buffer;
  size: number;
  takenAt: number;
  receivedAt: number;
}

interface Row { device_id: string; mime: 'image/webp' | 'image/png'; body: Buffer; size: number; taken_at: number; received_at: number }

/** The latest board screenshot per device (issue 8): one row each, replaced by every upload. */
export class ScreenshotsRepo {
  constructor(private readonly db: Db) {}

  put(s: ScreenshotRecord): void {
    this.db.prepare(`INSERT INTO device_screenshots (device_id, mime, body, size, taken_at, received_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT(device_id) DO UPDATE SET mime = excluded.mime, body = excluded.body, size = excluded.size, taken_at = excluded.taken_at, received_at = excluded.received_at`)
      .run(s.deviceId, s.mime, s.body, s.size, s.takenAt, s.receivedAt);
  }

  get(deviceId: string): ScreenshotRecord | null {
    const r = this.db.prepare<[string], Row>('SELECT * FROM device_screenshots WHERE device_id = ?').get(deviceId);
    return r ? { deviceId: r.device_id, mime: r.mime, body: r.body, size: r.size, takenAt: r.taken_at, receivedAt: r.received_at } : null;
  }
}
