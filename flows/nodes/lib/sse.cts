import { LoaApiError, networkError, type LoaClient, type Problem } from './client.cjs';

export interface StreamHandlers {
  event(name: string, data: unknown): void;
  /** Connected (true), or a problem and the delay before the next try. */
  state(s: { connected: true } | { connected: false; problem: Problem; retryMs: number }): void;
}

/**
 * Reads the controller's Server-Sent Events stream (GET /api/v1/events/stream) with fetch, and reconnects with
 * backoff (1 s doubling to 30 s) after any failure. Returns a function that stops it for good.
 */
export function followStream(client: LoaClient, path: string, h: StreamHandlers): () => void {
  const abort = new AbortController();
  let delay = 1000;
  let timer: NodeJS.Timeout | null = null;

  const once = async (): Promise<void> => {
    let res: Response;
    try {
      res = await fetch(`${client.baseUrl}${path}`, { headers: client.headers({ accept: 'text/event-stream' }), signal: abort.signal });
    } catch (e) {
      throw networkError(client.baseUrl, e);
    }
    if (!res.ok || !res.body) {
      const text = await res.text().catch(() => '');
      let err: { code?: string; message?: string; vi?: string } | undefined;
      try {
        err = (JSON.parse(text) as { error?: typeof err }).error;
      } catch {
        err = undefined;
      }
      throw new LoaApiError({ code: err?.code ?? `HTTP_${res.status}`, status: res.status, en: err?.message ?? `HTTP ${res.status}`, vi: err?.vi ?? `Lỗi HTTP ${res.status}` });
    }
    h.state({ connected: true });
    delay = 1000;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new LoaApiError({ code: 'UNREACHABLE', status: 0, en: 'The controller closed the event stream', vi: 'Bộ điều khiển đã đóng luồng sự kiện' });
      buf += value;
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let name = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) name = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (data.length === 0) continue;
        try {
          h.event(name, JSON.parse(data.join('\n')));
        } catch {
          // a malformed event is skipped; the stream goes on
        }
      }
    }
  };

  const loop = (): void => {
    once().catch((e: unknown) => {
      if (abort.signal.aborted) return;
      const problem = e instanceof LoaApiError ? e.problem : networkError(client.baseUrl, e).problem;
      // A wrong token or a refused zone will not fix itself quickly: retry slowly.
      const retryMs = problem.status === 401 || problem.status === 403 ? 30_000 : delay;
      delay = Math.min(delay * 2, 30_000);
      h.state({ connected: false, problem, retryMs });
      timer = setTimeout(loop, retryMs);
    });
  };
  loop();
  return () => {
    abort.abort();
    if (timer) clearTimeout(timer);
  };
}
