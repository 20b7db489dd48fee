/**
 * The `relay_check` device command on a running agent: each relay channel no play holds is switched on, then
 * off, and read back where the board can (Modbus coils, GPIO lines; LCUS boards cannot). Channels in use, or
 * cooling down, are skipped, so a check never cuts a broadcast. It runs alone in the board's queue.
 */
import type { Clock } from '../../shared/clock.js';
import { toLoaError } from '../../shared/errors.js';
import type { RelayCheckRow } from '../../shared/schemas/command.js';
import type { OutputZone } from '../../shared/schemas/hardware-profile.js';
import { readBackMismatch } from './channel-check.js';
import type { OutputController } from './controller.js';

export interface RelayCheckResult {
  ok: boolean;
  board: string;
  readBack: boolean;
  channels: RelayCheckRow[];
  /** Per output zone: failed when one of its channels failed, skipped when all were skipped, else ok. */
  outputs: { name: string; status: RelayCheckRow['status'] }[];
}

export async function checkRelays(outputs: OutputController, zones: readonly OutputZone[], o: { clock: Clock; settleMs?: number }): Promise<RelayCheckResult> {
  const settleMs = o.settleMs ?? 100;
  const rows = await outputs.exclusive(async (b) => {
    const out: RelayCheckRow[] = [];
    const readBack = b.driver.supportsReadBack;
    for (let ch = 0; ch < b.driver.channels; ch++) {
      const row = { channel: ch, outputs: zones.filter((z) => z.channels.includes(ch)).map((z) => z.name), readBack };
      if (!b.connected) {
        out.push({ ...row, status: 'failed', code: b.lastError?.code ?? 'LOA_ERR_SERIAL_IO', detail: `the relay board is not connected${b.lastError ? `: ${b.lastError.message}` : ''}` });
        continue;
      }
      if (b.inUse(ch)) {
        out.push({ ...row, status: 'skipped', detail: 'in use by a play (or cooling down): not switched' });
        continue;
      }
      try {
        const wrong: string[] = [];
        for (const on of [true, false]) {
          await b.driver.set(ch, on);
          b.setApplied(ch, on);
          const want = b.applied();
          const w = await readBackMismatch(b.driver, want, { clock: o.clock, settleMs });
          if (w) wrong.push(`switched ${on ? 'on' : 'off'} but ${w}`);
        }
        if (wrong.length) out.push({ ...row, status: 'failed', code: 'LOA_ERR_RELAY_READBACK', detail: wrong.join('; ') });
        else out.push({ ...row, status: 'ok', detail: readBack ? 'switched on and off, read back' : 'switched on and off (the board cannot be read back)' });
      } catch (e) {
        const err = toLoaError(e, 'LOA_ERR_SERIAL_IO');
        out.push({ ...row, status: 'failed', code: err.code, detail: err.message });
        await b.driver.set(ch, false).then(() => b.setApplied(ch, false), () => undefined);
      }
    }
    return { rows: out, board: b.driver.kind, readBack };
  });
  const perZone = zones.map((z) => {
    const mine = rows.rows.filter((r) => r.outputs.includes(z.name));
    const status: RelayCheckRow['status'] = mine.some((r) => r.status === 'failed') ? 'failed' : mine.length > 0 && mine.every((r) => r.status === 'skipped') ? 'skipped' : 'ok';
    return { name: z.name, status };
  });
  return { ok: rows.rows.every((r) => r.status !== 'failed'), board: rows.board, readBack: rows.readBack, channels: rows.rows, outputs: perZone };
}
