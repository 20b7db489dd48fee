/**
 * A relay board in software, on one end of a pty pair (see ./socat.ts): it speaks LCUS (A0 frames, no replies)
 * or Modbus RTU (FC01/05/0F with CRC16, exception replies), keeps the relay state, and logs every frame.
 * `mode` makes it misbehave for fault tests: 'silent' ignores everything, 'corrupt' answers with a bad CRC.
 * `deadChannels` are relays that never latch (a burnt coil or a broken driver transistor): the board accepts
 * and acknowledges their commands, but their state does not change, so only a read-back can tell.
 *
 * It runs in-process (RelayEmulator) or as its own process (spawnRelayEmulator, via scripts/relay-emulator.ts)
 * so a test can SIGKILL it like a board that lost power.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SerialPort } from 'serialport';
import { LcusFrameParser } from '../../agent/outputs/lcus/frame.js';
import {
  EXC_ILLEGAL_ADDRESS,
  FC_READ_COILS,
  FC_WRITE_COIL,
  FC_WRITE_COILS,
  ModbusRequestParser,
  encodeException,
  encodeReadCoilsReply,
  encodeWriteCoilReply,
  encodeWriteCoilsReply,
  type ModbusRequest,
} from '../../agent/outputs/modbus/frame.js';
import { killOnExit, waitExit } from './socat.js';

export type EmulatorProtocol = 'lcus' | 'modbus';
export type EmulatorMode = 'normal' | 'silent' | 'corrupt';

export interface RelayEmulatorOptions {
  port: string;
  protocol: EmulatorProtocol;
  channels: number;
  baudRate?: number;
  /** Modbus slave address, default 1. */
  unitId?: number;
  /** Modbus address of channel 0's coil, default 0. */
  coilOffset?: number;
  initial?: readonly boolean[];
  mode?: EmulatorMode;
  /** 0-based channels that ignore every command (they keep their initial state). */
  deadChannels?: readonly number[];
}

export interface FrameLogEntry {
  at: number;
  dir: 'rx' | 'tx';
  hex: string;
  /** What the emulator made of it: 'set ch0 on', 'read', 'bad frame', 'other unit', ... */
  note: string;
}

/** Polls `check` every 10 ms until it returns true; rejects after `timeoutMs` with `what` in the message. */
export async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export class RelayEmulator {
  readonly state: boolean[];
  readonly log: FrameLogEntry[] = [];
  mode: EmulatorMode;
  /** 0-based channels that ignore commands (see deadChannels); may be changed while running. */
  readonly deadChannels: Set<number>;
  /** Called after every frame that changed or read the state. */
  onChange: ((state: readonly boolean[], entry: FrameLogEntry) => void) | undefined;
  private readonly options: RelayEmulatorOptions;
  private port: SerialPort | undefined;
  private readonly lcus = new LcusFrameParser();
  private readonly modbus = new ModbusRequestParser();
  private gapTimer: NodeJS.Timeout | undefined;

  constructor(options: RelayEmulatorOptions) {
    this.options = options;
    this.mode = options.mode ?? 'normal';
    this.deadChannels = new Set(options.deadChannels ?? []);
    this.state = Array.from({ length: options.channels }, (_, i) => options.initial?.[i] === true);
  }

  async start(): Promise<void> {
    const port = new SerialPort({ path: this.options.port, baudRate: this.options.baudRate ?? 9600, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    port.on('data', this.onData);
    port.on('error', ignore);
    this.port = port;
  }

  async stop(): Promise<void> {
    clearTimeout(this.gapTimer);
    const port = this.port;
    this.port = undefined;
    if (!port) return;
    port.off('data', this.onData);
    if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  /** Entries received, as notes ('set ch1 on', ...), for assertions. */
  received(): string[] {
    return this.log.filter((e) => e.dir === 'rx').map((e) => e.note);
  }

  waitForState(want: readonly boolean[], timeoutMs = 3000): Promise<void> {
    return waitUntil(() => want.every((v, i) => this.state[i] === v), timeoutMs, `emulator state ${JSON.stringify(want)}, have ${JSON.stringify(this.state)}`);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.options.protocol === 'lcus') this.handleLcus(chunk);
    else this.handleModbus(chunk);
  };

  private record(dir: FrameLogEntry['dir'], raw: Uint8Array, note: string): FrameLogEntry {
    const entry = { at: Date.now(), dir, hex: Buffer.from(raw).toString('hex'), note };
    this.log.push(entry);
    return entry;
  }

  private handleLcus(chunk: Buffer): void {
    for (const item of this.lcus.push(chunk)) {
      if (item.kind === 'garbage' || this.mode === 'silent') {
        this.record('rx', item.raw, item.kind === 'garbage' ? 'bad frame' : 'ignored (silent)');
        continue;
      }
      const ch = item.frame.channel - 1;
      if (ch >= this.state.length) {
        this.record('rx', item.raw, `no channel ${ch}`);
        continue;
      }
      if (this.deadChannels.has(ch)) {
        this.changed(this.record('rx', item.raw, `set ch${ch} ${item.frame.on ? 'on' : 'off'} (dead channel: ignored)`));
        continue;
      }
      this.state[ch] = item.frame.on;
      this.changed(this.record('rx', item.raw, `set ch${ch} ${item.frame.on ? 'on' : 'off'}`));
    }
  }

  private handleModbus(chunk: Buffer): void {
    // RTU frames end with a silence; forget a half frame after one (here 50 ms, generous for a pty).
    clearTimeout(this.gapTimer);
    this.gapTimer = setTimeout(() => this.modbus.reset(), 50);
    const unitId = this.options.unitId ?? 1;
    for (const item of this.modbus.push(chunk)) {
      if (item.kind === 'garbage') {
        this.record('rx', item.raw, 'bad frame');
        continue;
      }
      const unit = item.kind === 'request' ? item.request.unit : item.unit;
      if (unit !== unitId || this.mode === 'silent') {
        this.record('rx', item.raw, unit !== unitId ? `other unit ${unit}` : 'ignored (silent)');
        continue;
      }
      if (item.kind === 'invalid') {
        this.record('rx', item.raw, `invalid fc${item.fc}`);
        this.reply(encodeException(unit, item.fc, item.exception), `exception ${item.exception}`);
        continue;
      }
      this.execute(item.request, item.raw);
    }
  }

  private execute(req: ModbusRequest, raw: Buffer): void {
    const first = req.address - (this.options.coilOffset ?? 0);
    const count = req.fc === FC_WRITE_COIL ? 1 : req.fc === FC_READ_COILS ? req.quantity : req.values.length;
    if (first < 0 || first + count > this.state.length) {
      this.record('rx', raw, `fc${req.fc} out of range ${req.address}+${count}`);
      this.reply(encodeException(req.unit, req.fc, EXC_ILLEGAL_ADDRESS), 'exception 2');
      return;
    }
    switch (req.fc) {
      case FC_READ_COILS: {
        this.changed(this.record('rx', raw, `read ${first}+${count}`));
        this.reply(encodeReadCoilsReply(req.unit, this.state.slice(first, first + count)), 'coils');
        return;
      }
      case FC_WRITE_COIL:
        if (!this.deadChannels.has(first)) this.state[first] = req.on;
        this.changed(this.record('rx', raw, `set ch${first} ${req.on ? 'on' : 'off'}${this.deadChannels.has(first) ? ' (dead channel: ignored)' : ''}`));
        this.reply(encodeWriteCoilReply(req.unit, req.address, req.on), 'ack');
        return;
      case FC_WRITE_COILS:
        req.values.forEach((v, i) => {
          if (!this.deadChannels.has(first + i)) this.state[first + i] = v;
        });
        this.changed(this.record('rx', raw, `set ${first}+${count} ${req.values.map((v) => (v ? 1 : 0)).join('')}`));
        this.reply(encodeWriteCoilsReply(req.unit, req.address, count), 'ack');
        return;
    }
  }

  private changed(entry: FrameLogEntry): void {
    this.onChange?.(this.state, entry);
  }

  private reply(frame: Buffer, note: string): void {
    const out = Buffer.from(frame);
    if (this.mode === 'corrupt') out[out.length - 1] = (out[out.length - 1] ?? 0) ^ 0xff;
    this.record('tx', out, this.mode === 'corrupt' ? `${note} (corrupted)` : note);
    this.port?.write(out);
  }
}

function ignore(): void {
  /* the pty peer may vanish during fault tests */
}

/** The emulator as a child process (dist/scripts/relay-emulator.js), whose state arrives as JSON lines. */
export interface EmulatorProcess {
  readonly state: boolean[];
  readonly pid: number;
  waitForState(want: readonly boolean[], timeoutMs?: number): Promise<void>;
  /** SIGKILL (a board losing power) and wait for the exit. */
  kill(): Promise<void>;
}

export const EMULATOR_SCRIPT = fileURLToPath(new URL('../../scripts/relay-emulator.js', import.meta.url));

export async function spawnRelayEmulator(options: RelayEmulatorOptions, timeoutMs = 5000): Promise<EmulatorProcess> {
  const args = [EMULATOR_SCRIPT, '--port', options.port, '--protocol', options.protocol, '--channels', String(options.channels)];
  if (options.unitId !== undefined) args.push('--unit', String(options.unitId));
  if (options.coilOffset !== undefined) args.push('--coil-offset', String(options.coilOffset));
  if (options.initial) args.push('--initial', options.initial.map((v) => (v ? '1' : '0')).join(''));
  if (options.mode) args.push('--mode', options.mode);
  if (options.deadChannels?.length) args.push('--dead-channels', options.deadChannels.join(','));
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExit(child);
  const state: boolean[] = [];
  let ready = false;
  let buffered = '';
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (c: string) => (stderr += c));
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const msg = JSON.parse(line) as { event: string; state?: boolean[] };
      if (msg.state) state.splice(0, state.length, ...msg.state);
      if (msg.event === 'ready') ready = true;
    }
  });
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  try {
    await waitUntil(() => ready || exited(), timeoutMs, 'the relay emulator to start');
    if (!ready) throw new Error(`relay emulator exited: ${stderr}`);
  } catch (e) {
    child.kill('SIGKILL');
    await waitExit(child);
    throw e;
  }
  return {
    state,
    pid: child.pid ?? -1,
    waitForState: (want, ms = 3000) =>
      waitUntil(() => want.every((v, i) => state[i] === v), ms, `emulator process state ${JSON.stringify(want)}, have ${JSON.stringify(state)}`),
    async kill(): Promise<void> {
      if (!exited()) child.kill('SIGKILL');
      await waitExit(child);
    },
  };
}
