/**
 * The stable launcher (issue 11): a POSIX sh script at `<installRoot>/loa-launch`, outside the A/B release
 * folders, that systemd runs. It `exec`s node on `current/bin/loa.js`, so no extra process stays resident.
 *
 * While a switched version is pending (`<dataDir>/update/pending.json`), it counts that version's starts in
 * `<dataDir>/update/attempts`. A start beyond the third means three failed starts (a crash loop): it records
 * LOA_ERR_UPDATE_CRASH_LOOP in `rollback`. Whenever `rollback` is there (its own, or the one the health check
 * wrote before exiting), it points `current` back at `previous` (new symlink + rename(2) + sync) and renames
 * pending.json to rolled-back.json, which the old agent reports at its start. Every step can be repeated after
 * a power cut at any point.
 */
import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAUNCHER_NAME } from './layout.js';

export const MAX_BOOT_ATTEMPTS = 3;

export const LAUNCHER_SH = `#!/bin/sh
# loa-launch: the stable launcher of the loaphuong agent (see the README, "Self-update on the device").
# It lives outside the release folders and no update replaces it. Usage (systemd ExecStart):
#   /bin/sh <installRoot>/loa-launch agent run --data-dir DIR --profile FILE
# Environment: LOA_NODE (node binary, default: node on PATH), LOA_NODE_FLAGS (V8 flags).
set -u
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd -P) || exit 1
DATA=""
prev=""
for a in "$@"; do
  [ "$prev" = "--data-dir" ] && DATA=$a
  case $a in --data-dir=*) DATA=\${a#--data-dir=} ;; esac
  prev=$a
done
if [ -n "$DATA" ] && [ -f "$DATA/update/pending.json" ]; then
  U="$DATA/update"
  if [ ! -f "$U/rollback" ]; then
    n=$(cat "$U/attempts" 2>/dev/null || echo 0)
    case $n in ''|*[!0-9]*) n=0 ;; esac
    n=$((n + 1))
    if [ "$n" -gt ${MAX_BOOT_ATTEMPTS} ]; then
      printf 'LOA_ERR_UPDATE_CRASH_LOOP\\nthe new version stopped during its first %s starts\\n' "$((n - 1))" > "$U/.rollback.tmp" && mv -f "$U/.rollback.tmp" "$U/rollback"
    else
      printf '%s\\n' "$n" > "$U/.attempts.tmp" && mv -f "$U/.attempts.tmp" "$U/attempts"
    fi
    sync
  fi
  if [ -f "$U/rollback" ]; then
    back=$(readlink "$ROOT/previous" 2>/dev/null || true)
    if [ -n "$back" ]; then
      rm -f "$ROOT/.current.launch.tmp"
      ln -s "$back" "$ROOT/.current.launch.tmp" && mv -fT "$ROOT/.current.launch.tmp" "$ROOT/current"
      sync
    fi
    mv -f "$U/pending.json" "$U/rolled-back.json"
    rm -f "$U/attempts"
    sync
  fi
fi
LOA_INSTALL_ROOT=$ROOT
export LOA_INSTALL_ROOT
# shellcheck disable=SC2086
exec "\${LOA_NODE:-node}" \${LOA_NODE_FLAGS:-} "$ROOT/current/bin/loa.js" "$@"
`;

/** Writes (or replaces, atomically) the launcher in an install root; returns its path. */
export function writeLauncher(root: string): string {
  mkdirSync(root, { recursive: true });
  const path = join(root, LAUNCHER_NAME);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, LAUNCHER_SH, { mode: 0o755 });
  chmodSync(tmp, 0o755);
  renameSync(tmp, path);
  return path;
}
