/**
 * A dashboard's live event stream held open for a whole soak: counts the events by name without keeping them
 * (a 30-minute stream of 2,000 devices' plays would not fit in a test's memory), and notes when the server
 * ends it (the controller closes a stream whose client falls too far behind).
 */
export class SseCounter {
  readonly counts: Record<string, number> = {};
  ended: string | null = null;
  status = 0;
  private readonly abort = new AbortController();

  static async open(url: string, token: string): Promise<SseCounter> {
    const c = new SseCounter();
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal: c.abort.signal });
    c.status = res.status;
    if (!res.ok || !res.body) {
      c.ended = `HTTP ${res.status}: ${await res.text().catch(() => '')}`;
      return c;
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    void (async () => {
      let buf = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) {
            c.ended ??= 'the server ended the stream';
            return;
          }
          buf += value;
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (line.startsWith('event:')) {
              const name = line.slice(6).trim();
              c.counts[name] = (c.counts[name] ?? 0) + 1;
            }
          }
        }
      } catch (e) {
        c.ended ??= c.abort.signal.aborted ? 'closed by the test' : `stream error: ${(e as Error).message}`;
      }
    })();
    return c;
  }

  close(): void {
    this.ended ??= 'closed by the test';
    this.abort.abort();
  }
}
