// Live device status (contract A): the SSE stream when the controller has it, else polling every few seconds.
import { csrf } from './boot.js';

/**
 * onStatus({deviceId, online, at}) for every change on the stream; poll() is called every `intervalMs` while the
 * stream is not available (404, or broken). Returns {mode(), stop()}.
 */
export function watchStatus({ zone, onStatus, poll, onMode, intervalMs = 5000 }) {
  let mode = 'starting', timer = null, ctrl = null, stopped = false;
  const setMode = (m) => { mode = m; onMode?.(m); };
  const startPolling = () => {
    if (stopped || timer) return;
    setMode('poll');
    timer = setInterval(() => { void poll(); }, intervalMs);
  };
  async function stream() {
    ctrl = new AbortController();
    const url = `/api/v1/events/stream?types=device.status${zone ? `&zone=${encodeURIComponent(zone)}` : ''}`;
    let r;
    try {
      r = await fetch(url, { headers: { accept: 'text/event-stream', 'x-csrf-token': csrf }, signal: ctrl.signal, credentials: 'same-origin' });
    } catch {
      startPolling();
      return;
    }
    if (!r.ok || !r.body) { startPolling(); return; }
    if (timer) { clearInterval(timer); timer = null; }
    setMode('sse');
    void poll(); // catch up on what changed while the stream was down
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let event = 'message', data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data += line.slice(5).trim();
          }
          if (event === 'device.status' && data) onStatus(JSON.parse(data));
        }
      }
    } catch {
      // aborted or broken: fall through to polling and retry
    }
    if (!stopped) { startPolling(); setTimeout(() => { if (!stopped) void stream(); }, intervalMs * 2); }
  }
  void stream();
  return { mode: () => mode, stop: () => { stopped = true; ctrl?.abort(); if (timer) clearInterval(timer); } };
}
