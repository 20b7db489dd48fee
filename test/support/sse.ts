/** One Server-Sent Event as read off the wire. */
export interface SseEvent {
  event: string;
  data: unknown;
}

export interface SseStream {
  status: number;
  /** Every event received so far, in order. */
  events: SseEvent[];
  /** Comment lines received so far (`: ping` …). */
  comments: string[];
  close(): void;
}

/** Opens a real SSE connection (fetch with a streamed body) and collects its events until closed. */
export async function openSse(url: string, token: string): Promise<SseStream> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal: abort.signal });
  const s: SseStream = { status: res.status, events: [], comments: [], close: () => abort.abort() };
  if (!res.ok || !res.body) {
    await res.text().catch(() => undefined);
    return s;
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += value;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) s.comments.push(line.slice(1).trim());
            else if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).trim());
          }
          if (data.length) s.events.push({ event, data: JSON.parse(data.join('\n')) as unknown });
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return s;
}
