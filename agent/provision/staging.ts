/**
 * All-or-nothing installation for `loa provision`. Every file is first written into a staging folder beside the
 * data dir (same filesystem, so moves are renames). `commit()` then moves each one into place, keeping what it
 * replaces as `<target>.loa-old-<pid>`; if any move fails, every move is undone and the folders it made are
 * removed. `discard()` removes the staging folder and every folder made for it. A failed or cancelled run
 * therefore leaves the target exactly as it was, and a run cut by a power loss leaves only the staging folder,
 * which the next run removes.
 */
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { LoaError } from '../../shared/errors.js';
import { underRoot } from './detect.js';

export interface StagedFile {
  /** Target path, as the receiver sees it (e.g. /etc/loa/agent.json). */
  target: string;
  mode: number;
}

export interface CommitReport {
  /** Target paths written (data-dir entries as <dataDir>/<name>). */
  written: string[];
  /** Targets that replaced an earlier version. */
  replaced: string[];
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Moves a file or folder; across filesystems it copies next to the target first, then renames. */
function move(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    const tmp = `${to}.loa-new-${process.pid}`;
    cpSync(from, tmp, { recursive: true, preserveTimestamps: true });
    renameSync(tmp, to);
    rmSync(from, { recursive: true, force: true });
  }
}

export class Staging {
  readonly dir: string;
  /** What becomes the contents of the data dir. */
  readonly data: string;
  private readonly root: string;
  private readonly dataDir: string;
  private readonly files = new Map<string, StagedFile & { staged: string }>();
  /** Folders this run made, outermost first. */
  private readonly madeDirs: string[] = [];
  /** Data-dir entries that are removed (moved aside) at commit, e.g. a stale SQLite WAL. */
  private readonly dropOnCommit = new Set<string>();

  /** `dataDir` is the target path (e.g. /var/lib/loa); everything is staged under `root`. */
  constructor(o: { root: string; dataDir: string }) {
    this.root = o.root;
    this.dataDir = o.dataDir;
    const real = underRoot(o.root, o.dataDir);
    this.dir = join(dirname(real), `.${basename(real)}.provisioning`);
    this.data = join(this.dir, 'data');
  }

  /** Where a target path lands on disk. */
  onDisk(target: string): string {
    return underRoot(this.root, target);
  }

  /** A staging folder left by a run that died (power loss, kill -9); null when there is none. */
  stale(): { pid: number; alive: boolean } | null {
    if (!existsSync(this.dir)) return null;
    const pid = Number(readFileSync(join(this.dir, 'pid'), { encoding: 'utf8', flag: 'r' }).trim() || 0);
    return { pid, alive: pid > 0 && pid !== process.pid && isAlive(pid) };
  }

  /** Makes the staging folder (and any missing parents, which discard() removes again). */
  open(): void {
    const leftover = existsSync(this.dir) ? this.staleSafe() : null;
    if (leftover?.alive) {
      throw new LoaError('LOA_ERR_PROVISION_INPUT', `another \`loa provision\` (pid ${leftover.pid}) is running on this target (${this.dir})`);
    }
    if (leftover) rmSync(this.dir, { recursive: true, force: true });
    this.mkdirs(dirname(this.dir));
    mkdirSync(this.dir, { mode: 0o700 });
    writeFileSync(join(this.dir, 'pid'), `${process.pid}\n`);
    mkdirSync(this.data, { mode: 0o750 });
  }

  private staleSafe(): { pid: number; alive: boolean } | null {
    try {
      return this.stale();
    } catch {
      return { pid: 0, alive: false };
    }
  }

  /** mkdir -p, remembering each folder made. */
  private mkdirs(dir: string): void {
    const missing: string[] = [];
    for (let d = dir; !existsSync(d); d = dirname(d)) {
      missing.unshift(d);
      if (dirname(d) === d) break;
    }
    for (const d of missing) {
      mkdirSync(d);
      this.madeDirs.push(d);
    }
  }

  /** Stages a file outside the data dir (config, profile, unit). */
  stageFile(target: string, content: string | Buffer, mode = 0o644): void {
    const staged = join(this.dir, 'files', String(this.files.size));
    mkdirSync(dirname(staged), { recursive: true });
    writeFileSync(staged, content, { mode });
    chmodSync(staged, mode);
    this.files.set(target, { target, mode, staged });
  }

  stagedFiles(): StagedFile[] {
    return [...this.files.values()].map(({ target, mode }) => ({ target, mode }));
  }

  /** Copies existing data-dir entries into staging, so a re-provision works on copies until commit. */
  keep(names: readonly string[]): string[] {
    const from = this.onDisk(this.dataDir);
    const kept: string[] = [];
    for (const n of names) {
      const src = join(from, n);
      if (!existsSync(src)) continue;
      cpSync(src, join(this.data, n), { recursive: true, preserveTimestamps: true });
      kept.push(n);
    }
    return kept;
  }

  /**
   * Copies an existing SQLite database into staging with SQLite's online backup (consistent even while another
   * process writes it). Its -wal and -shm files are moved aside at commit, since they belong to the old file.
   */
  async keepDatabase(name: string): Promise<boolean> {
    const src = join(this.onDisk(this.dataDir), name);
    if (!existsSync(src)) return false;
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(src, { readonly: true, fileMustExist: true });
    try {
      await db.backup(join(this.data, name));
    } finally {
      db.close();
    }
    this.drop(`${name}-wal`);
    this.drop(`${name}-shm`);
    return true;
  }

  /** An existing data-dir entry to move aside at commit (for example agent.db-wal when agent.db is replaced). */
  drop(name: string): void {
    this.dropOnCommit.add(name);
  }

  /**
   * Moves everything into place. Each replaced target is kept aside until all moves succeeded; on any failure
   * every move is undone and LOA_ERR_PROVISION_COMMIT is thrown (the staging folder stays for discard()).
   */
  commit(): CommitReport {
    const done: { target: string; backup: string | null }[] = [];
    const report: CommitReport = { written: [], replaced: [] };
    const moves: { from: string | null; target: string; label: string }[] = [];
    const dataOnDisk = this.onDisk(this.dataDir);
    // Folders that exist in the target are merged (media/ of a re-provisioned device is never replaced); files
    // and new folders move whole.
    const walk = (from: string, target: string, label: string): void => {
      for (const name of readdirSync(from).sort()) {
        const f = join(from, name);
        const t = join(target, name);
        if (statSync(f).isDirectory() && existsSync(t) && statSync(t).isDirectory()) walk(f, t, join(label, name));
        else moves.push({ from: f, target: t, label: join(label, name) });
      }
    };
    walk(this.data, dataOnDisk, this.dataDir);
    for (const name of this.dropOnCommit) moves.push({ from: null, target: join(dataOnDisk, name), label: join(this.dataDir, name) });
    for (const f of this.files.values()) moves.push({ from: f.staged, target: this.onDisk(f.target), label: f.target });
    try {
      const fresh = !existsSync(dataOnDisk);
      this.mkdirs(dataOnDisk);
      if (fresh) chmodSync(dataOnDisk, 0o750);
      for (const m of moves) {
        this.mkdirs(dirname(m.target));
        let backup: string | null = null;
        if (existsSync(m.target)) {
          backup = `${m.target}.loa-old-${process.pid}`;
          renameSync(m.target, backup);
          if (m.from) report.replaced.push(m.label);
        }
        done.push({ target: m.target, backup });
        if (m.from) {
          move(m.from, m.target);
          report.written.push(m.label);
        }
      }
    } catch (e) {
      this.undo(done);
      throw new LoaError('LOA_ERR_PROVISION_COMMIT', `installing the provisioned files failed (${(e as Error).message}); everything was put back as it was`, { cause: e });
    }
    for (const d of done) if (d.backup) rmSync(d.backup, { recursive: true, force: true });
    rmSync(this.dir, { recursive: true, force: true });
    this.madeDirs.length = 0;
    return report;
  }

  private undo(done: { target: string; backup: string | null }[]): void {
    for (const d of [...done].reverse()) {
      try {
        rmSync(d.target, { recursive: true, force: true });
        if (d.backup) renameSync(d.backup, d.target);
      } catch {
        /* keep undoing the rest */
      }
    }
  }

  /** Removes the staging folder and every folder this run made (when empty). Never throws. */
  discard(): void {
    try {
      rmSync(this.dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
    for (const d of [...this.madeDirs].reverse()) {
      try {
        rmdirSync(d);
      } catch {
        /* not empty (something else put a file there) or already gone */
      }
    }
    this.madeDirs.length = 0;
  }
}
