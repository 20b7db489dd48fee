import type { Clock } from '../../shared/clock.js';
import { canonicalize, makeSigner, sha256Hex } from '../../shared/crypto.js';
import { toLoaError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Manifest, MediaEntry, Program, ProgramItem, ScheduleEntry } from '../../shared/schemas/manifest.js';
import type { AgentUpdate } from '../../shared/schemas/release.js';
import type { DataLayer } from '../data/index.js';
import type { CompileSnapshot, StoredManifest } from '../data/manifests.js';
import { slideDurationMs, type ProgramItemInput } from '../data/programs.js';

export interface CompilerOptions {
  data: DataLayer;
  /** PEM of the online schedule key (DESIGN §2). */
  scheduleKeyPem: string;
  clock: Clock;
  log: Logger;
  validityMs: number;
  renewBeforeMs: number;
  debounceMs: number;
  /** Tells a device that a new version exists (MQTT notify). Failures are logged; devices also poll. */
  notify: (deviceId: string, version: number) => Promise<void>;
  /** The agent update each device is offered now (issue 11: staged rollouts); absent: none. */
  agentUpdates?: () => ReadonlyMap<string, AgentUpdate>;
}

export interface CompileResult {
  devices: number;
  changed: number;
  unchanged: number;
  ms: number;
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

interface ContentParts { media: string; programs: string; schedule: string; zones: string }
interface ContentGroup { parts: ContentParts; hash: string }

/** Devices with the same direct targets and zone chain get the same content. */
function groupKey(deviceId: string, zonePath: string, snap: CompileSnapshot): string {
  return snap.schedules.some((s) => s.devices.includes(deviceId)) ? `device:${deviceId}` : `zone:${zonePath}`;
}

/**
 * The RFC 8785 form of a Manifest, spliced from pre-canonicalised parts: the keys in code-point order
 * (_type, agentUpdate when given, deviceId, expiresAt, issuedAt, media, programs, schedule, schemaVersion, timezone, version, zones), strings
 * and integers as JSON.stringify writes them (which is what RFC 8785 specifies for them). A test checks it
 * equals canonicalize() of the same object. This is the compile hot path: 10,000 devices share ~400 contents.
 */
export function canonicalManifest(h: { deviceId: string; version: number; issuedAt: string; expiresAt: string }, p: ContentParts, agentUpdate?: string): string {
  return `{"_type":"manifest",${agentUpdate === undefined ? '' : `"agentUpdate":${agentUpdate},`}"deviceId":${JSON.stringify(h.deviceId)},"expiresAt":${JSON.stringify(h.expiresAt)},"issuedAt":${JSON.stringify(h.issuedAt)},`
    + `"media":${p.media},"programs":${p.programs},"schedule":${p.schedule},"schemaVersion":1,"timezone":"Asia/Ho_Chi_Minh","version":${h.version},"zones":${p.zones}}`;
}

/** The unsigned manifest content for one device, from a snapshot (also used by the preview). */
export function buildContent(deviceId: string, snap: CompileSnapshot): Pick<Manifest, 'media' | 'programs' | 'schedule'> | null {
  const dev = snap.devices.get(deviceId);
  if (!dev) return null;
  const chain = new Set(dev.zonePath.split('/').filter(Boolean));
  const entries = snap.schedules.filter((s) => s.devices.includes(deviceId) || s.zones.some((z) => chain.has(z)));
  const media = new Map<string, MediaEntry>();
  const programs = new Map<string, Program>();
  const schedule: ScheduleEntry[] = [];
  for (const s of entries) {
    const p = snap.programs.get(s.programId);
    if (!p) continue;
    if (!programs.has(p.id)) {
      const items: ProgramItem[] = [];
      for (const it of JSON.parse(p.items) as ProgramItemInput[]) {
        if (it.kind === 'media') {
          const m = snap.media.get(it.mediaId);
          if (!m) continue;
          media.set(m.sha256, { sha256: m.sha256, size: m.size, durationMs: m.durationMs, url: `/media/${m.sha256}`, mime: m.mime });
          items.push({ kind: 'media', sha256: m.sha256 });
        } else if (it.kind === 'image' || it.kind === 'video') {
          // Board pictures and videos (issue 8): downloaded like audio, by sha256, checked against size and hash.
          const m = snap.media.get(it.mediaId);
          if (!m) continue;
          // A picture has no duration of its own (0 in the library); the manifest schema wants ≥ 1 ms, and only
          // audio items take their time from the media entry, so 1 ms is never used as a time on screen.
          media.set(m.sha256, { sha256: m.sha256, size: m.size, durationMs: Math.max(1, m.durationMs), url: `/media/${m.sha256}`, mime: m.mime });
          const time = { durationMs: slideDurationMs(it, m.durationMs), ...(it.dayparts ? { dayparts: it.dayparts } : {}) };
          items.push(it.kind === 'image'
            ? { kind: 'image', sha256: m.sha256, ...(it.fit ? { fit: it.fit } : {}), ...time }
            : { kind: 'video', sha256: m.sha256, ...(it.muted === undefined ? {} : { muted: it.muted }), ...time });
        } else if (it.kind === 'stream') {
          items.push({ kind: 'stream', url: it.url, durationMs: it.durationMs, ...(it.title ? { title: it.title } : {}) });
        } else {
          // Board slides (issue 8): signed as the program API checked them.
          items.push(it);
        }
      }
      if (items.length === 0) continue;
      programs.set(p.id, { id: p.id, title: p.title, items });
    }
    schedule.push({
      id: s.id, programId: s.programId, dtstart: s.dtstart, ...(s.rrule ? { rrule: s.rrule } : {}),
      ...(s.validFrom !== null ? { validFrom: iso(s.validFrom) } : {}), ...(s.validUntil !== null ? { validUntil: iso(s.validUntil) } : {}),
      priority: s.priority, volume: s.volume, outputs: JSON.parse(s.outputs) as string[], onPreempt: s.onPreempt, maxDelayMs: s.maxDelayMs,
    });
  }
  return {
    media: [...media.values()].sort((a, b) => (a.sha256 < b.sha256 ? -1 : 1)),
    programs: [...programs.values()].sort((a, b) => (a.id < b.id ? -1 : 1)),
    schedule: schedule.sort((a, b) => (a.id < b.id ? -1 : 1)),
  };
}

/**
 * Compiles and signs per-device manifests (DESIGN §2), incrementally: a change marks the devices it reaches
 * dirty, and after a short debounce only those are recompiled. A device whose content did not change keeps
 * its version (no needless downloads); otherwise the version grows — max(previous + 1, unix seconds), so it
 * keeps growing even after a database restore — and the device is notified over MQTT.
 */
export class ManifestCompiler {
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private running: Promise<CompileResult> | null = null;
  private signer: ReturnType<typeof makeSigner> | null = null;

  constructor(private readonly o: CompilerOptions) {}

  start(): void {
    this.signer = makeSigner(this.o.scheduleKeyPem);
    // Re-sign manifests that near expiry, hourly; a device keeps playing an expired one, but flagged stale.
    this.renewTimer = setInterval(() => this.renew(), 3_600_000);
    this.renewTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.timer = this.renewTimer = null;
    await this.running;
  }

  /** Signs with another schedule key from now on (a trust reload; the caller marks every device dirty). */
  rekey(scheduleKeyPem: string): void {
    this.signer = makeSigner(scheduleKeyPem);
  }

  /** Devices whose manifests expire within renewBeforeMs are recompiled (new version, new expiry). */
  renew(): void {
    const ids = this.o.data.manifests.expiringBefore(this.o.clock.now() + this.o.renewBeforeMs);
    if (ids.length) this.markDirty(ids, true);
  }

  private readonly forced = new Set<string>();

  markDirty(deviceIds: Iterable<string>, force = false): void {
    for (const id of deviceIds) {
      this.dirty.add(id);
      if (force) this.forced.add(id);
    }
    if (this.dirty.size && !this.timer && this.signer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.flush().catch((e: unknown) => this.o.log.error({ err: toLoaError(e) }, 'manifest compile failed'));
      }, this.o.debounceMs);
    }
  }

  /** Compiles every dirty device now. */
  async flush(): Promise<CompileResult> {
    while (this.running) await this.running;
    const ids = [...this.dirty];
    const forced = new Set(this.forced);
    this.dirty.clear();
    this.forced.clear();
    this.running = this.compile(ids, forced);
    try {
      return await this.running;
    } finally {
      this.running = null;
    }
  }

  /** Compiles and signs the given devices (all when undefined) in one transaction, then notifies. */
  async compile(deviceIds?: readonly string[], force: ReadonlySet<string> = new Set()): Promise<CompileResult> {
    const t0 = performance.now();
    const signer = this.signer ??= makeSigner(this.o.scheduleKeyPem);
    const snap = this.o.data.manifests.snapshot(deviceIds);
    const now = this.o.clock.now();
    const out: StoredManifest[] = [];
    let unchanged = 0;
    // Devices of one cluster usually share their content: build, canonicalise and hash it once per group.
    const groups = new Map<string, ContentGroup>();
    const updates = this.o.agentUpdates?.() ?? new Map<string, AgentUpdate>();
    for (const [id, dev] of snap.devices) {
      if (dev.revoked) continue;
      const key = groupKey(id, dev.zonePath, snap);
      let g = groups.get(key);
      if (!g) {
        const content = buildContent(id, snap)!;
        // The zone chain: which zone-addressed emergency orders this device obeys.
        const zones = canonicalize(dev.zonePath.split('/').filter(Boolean));
        const parts = { media: canonicalize(content.media), programs: canonicalize(content.programs), schedule: canonicalize(content.schedule), zones };
        g = { parts, hash: sha256Hex(`{"media":${parts.media},"programs":${parts.programs},"schedule":${parts.schedule},"zones":${zones}}`) };
        groups.set(key, g);
      }
      // A device's agentUpdate (issue 11) is its own: it joins the group's content in the hash.
      const au = updates.get(id);
      const auJson = au ? canonicalize(au) : undefined;
      const hash = auJson === undefined ? g.hash : sha256Hex(`${g.hash}\n${auJson}`);
      const prev = this.o.data.manifests.get(id);
      if (prev && prev.contentHash === hash && !force.has(id)) {
        unchanged++;
        continue;
      }
      const version = Math.max((prev?.version ?? 0) + 1, Math.floor(now / 1000));
      const expiresAt = now + this.o.validityMs;
      const signed = canonicalManifest({ deviceId: id, version, issuedAt: iso(now), expiresAt: iso(expiresAt) }, g.parts, auJson);
      const body = signer.signCanonical(signed);
      out.push({ deviceId: id, version, etag: `"${version}-${hash.slice(0, 16)}"`, contentHash: hash, body, compiledAt: now, expiresAt });
    }
    this.o.data.manifests.putAll(out);
    const ms = performance.now() - t0;
    if (out.length) this.o.log.info({ changed: out.length, unchanged, ms: Math.round(ms) }, 'manifests compiled and signed');
    await Promise.all(out.map((m) => this.o.notify(m.deviceId, m.version).catch((e: unknown) => this.o.log.warn({ deviceId: m.deviceId, err: toLoaError(e) }, 'notify failed; the device will poll'))));
    return { devices: snap.devices.size, changed: out.length, unchanged, ms };
  }
}
