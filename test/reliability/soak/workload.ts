import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { ApiClient } from '../../../scripts/lib/api-client.js';

/** Local wall time in Asia/Ho_Chi_Minh (UTC+7, no DST), as schedules take it. */
const localStamp = (ms: number): string => new Date(ms + 7 * 3_600_000).toISOString().slice(0, 16);

export interface WorkloadOptions {
  api: ApiClient;
  /** A scratch directory (the tone file is made here). */
  dir: string;
  /** The commune that owns the program and schedule, and the cluster the devices are in (with its name, to confirm orders). */
  commune: string;
  cluster: { id: string; name: string };
  /** Pauses between the operator's schedule edits, the emergency orders and the dashboard's reads. */
  scheduleEveryMs: number;
  emergencyEveryMs: number;
  readEveryMs: number;
  /** The heavier scheduled-vs-played report is read every this many reads. */
  reportEvery: number;
}

export interface WorkloadCounts {
  scheduleEdits: number;
  orders: string[];
  reads: number;
  /** Per-request latency of the dashboard reads, ms. */
  readMs: number[];
  errors: string[];
}

/**
 * What people do to a controller while its devices talk to it: an operator who edits the schedule now and then
 * (reopen → edit → submit → approve: each approval recompiles the manifests, notifies every device, and the
 * devices fetch), a district officer who sends an emergency order now and then, and a dashboard that reads the
 * device list, the emergency list and the scheduled-vs-played report. Each runs in its own loop, one request at
 * a time, paced by a pause; every failed call is kept (the soak asserts there are none).
 */
export class Workload {
  readonly counts: WorkloadCounts = { scheduleEdits: 0, orders: [], reads: 0, readMs: [], errors: [] };
  private scheduleId = '';
  private programId = '';
  private mediaId = '';
  private stopping = false;
  private loops: Promise<void>[] = [];
  private wake: (() => void)[] = [];

  constructor(private readonly o: WorkloadOptions) {}

  /** Uploads a 2-second tone, makes an approved program and an approved daily schedule for the cluster. */
  async setup(): Promise<void> {
    const { api, commune } = this.o;
    const tone = join(this.o.dir, 'coi.wav');
    assert.equal(spawnSync('sox', ['-n', '-r', '48000', '-c', '1', tone, 'synth', '2', 'sine', '660', 'vol', '0.5']).status, 0, 'sox works');
    this.mediaId = (await api.upload(tone, { zoneId: commune, title: 'Bản tin thử' })).media.id;
    const { program } = await api.post<{ program: { id: string } }>('/api/v1/programs', { zoneId: commune, title: 'Bản tin', items: [{ kind: 'media', mediaId: this.mediaId }] });
    this.programId = program.id;
    await api.post(`/api/v1/programs/${program.id}/submit`);
    await api.post(`/api/v1/programs/${program.id}/approve`);
    const { schedule } = await api.post<{ schedule: { id: string } }>('/api/v1/schedules', this.scheduleBody(80));
    this.scheduleId = schedule.id;
    await api.post(`/api/v1/schedules/${schedule.id}/submit`);
    await api.post(`/api/v1/schedules/${schedule.id}/approve`);
  }

  /** Starts the three loops. */
  start(): void {
    this.loops = [
      this.loop(this.o.scheduleEveryMs, () => this.editSchedule()),
      this.loop(this.o.emergencyEveryMs, () => this.sendOrder()),
      this.loop(this.o.readEveryMs, () => this.read()),
    ];
  }

  /** Ends the loops after their current call. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const w of this.wake.splice(0)) w();
    await Promise.all(this.loops);
  }

  private scheduleBody(volume: number): Record<string, unknown> {
    const at = Date.now() + 86_400_000;
    return {
      zoneId: this.o.commune, programId: this.programId, title: 'Bản tin sáng', dtstart: localStamp(at - (at % 3_600_000)), rrule: 'FREQ=DAILY;COUNT=30',
      priority: 'normal', volume, targets: { zones: [this.o.cluster.id], devices: [] }, confirmNightHours: true,
    };
  }

  /** The operator's edit: a new volume, approved again (→ compile, notify, fetch). */
  private async editSchedule(): Promise<void> {
    const { api } = this.o;
    const id = this.scheduleId;
    await api.post(`/api/v1/schedules/${id}/reopen`);
    await api.request('PUT', `/api/v1/schedules/${id}`, this.scheduleBody(50 + ((this.counts.scheduleEdits * 7) % 50)));
    await api.post(`/api/v1/schedules/${id}/submit`);
    await api.post(`/api/v1/schedules/${id}/approve`);
    this.counts.scheduleEdits++;
  }

  private async sendOrder(): Promise<void> {
    const r = await this.o.api.post<{ order: { id: string } }>('/api/v1/emergency', {
      title: 'Diễn tập cảnh báo', zones: [this.o.cluster.id], content: { kind: 'media', mediaId: this.mediaId }, repeat: 1, ttlMinutes: 60, confirm: this.o.cluster.name,
    });
    this.counts.orders.push(r.order.id);
  }

  private async read(): Promise<void> {
    const { api, commune } = this.o;
    const timed = async (path: string): Promise<void> => {
      const t = performance.now();
      await api.get(path);
      this.counts.readMs.push(performance.now() - t);
      this.counts.reads++;
    };
    await timed(`/api/v1/devices?zoneId=${commune}&limit=500`);
    await timed('/api/v1/emergency');
    if (this.counts.reads % (this.o.reportEvery * 2) < 2) {
      const now = Date.now();
      await timed(`/api/v1/reports/scheduled-vs-played?zoneId=${this.o.cluster.id}&from=${new Date(now - 3_600_000).toISOString()}&to=${new Date(now + 86_400_000).toISOString()}`);
    }
  }

  private async loop(everyMs: number, fn: () => Promise<void>): Promise<void> {
    await this.pause(everyMs / 2);
    while (!this.stopping) {
      try {
        await fn();
      } catch (e) {
        this.counts.errors.push((e as Error).message);
      }
      await this.pause(everyMs);
    }
  }

  /** Pacing between a loop's calls (not synchronisation): ends early on stop(). */
  private pause(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.wake = this.wake.filter((w) => w !== done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wake.push(done);
    });
  }
}
