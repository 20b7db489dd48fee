import { LoaApiError, problemOf, problemStatus, type LoaClient } from './client.cjs';
import type { Node, NodeAPI, NodeDef, NodeMessage } from './red.cjs';

/** The loa-config node as other nodes see it. */
export interface LoaConfigNode {
  client: LoaClient;
  /** Fires a check of URL and token (GET /api/v1/auth/me); resolves to the signed-in user name. */
  check(): Promise<string>;
}

/** The config node a node points at, or a clear error. */
export function clientOf(RED: NodeAPI, def: NodeDef): LoaClient {
  const cfg = typeof def.server === 'string' ? (RED.nodes.getNode(def.server) as LoaConfigNode | null) : null;
  if (!cfg) throw new LoaApiError({ code: 'NOT_CONFIGURED', status: 0, en: 'Choose a loa-config node (controller URL and API token)', vi: 'Hãy chọn một nút loa-config (địa chỉ bộ điều khiển và mã API)' });
  return cfg.client;
}

/**
 * Runs `work` for each input message: a blue status while it runs, green with `ok(result)` after, and on
 * failure a red status (Vietnamese · English) and the error reported through done(), so Catch nodes see it
 * and the flow keeps running. One message at a time per node, in order.
 */
export function onInput<T>(node: Node, work: (msg: NodeMessage) => Promise<T>, ok: (r: T) => string, out: (msg: NodeMessage, r: T) => NodeMessage | null): void {
  let chain: Promise<void> = Promise.resolve();
  node.on('input', (msg, send, done) => {
    chain = chain.then(async () => {
      node.status({ fill: 'blue', shape: 'dot', text: 'đang xử lý · working' });
      try {
        const r = await work(msg);
        node.status({ fill: 'green', shape: 'dot', text: ok(r) });
        const m = out(msg, r);
        if (m) send(m);
        done();
      } catch (e) {
        const p = problemOf(e);
        node.status(problemStatus(p));
        // Catch nodes replace msg.error; the coded problem travels as msg.loaError.
        msg.loaError = { code: p.code, status: p.status, message: p.en, vi: p.vi };
        done(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}

/** A trimmed string property of the message or of the node's settings (message first), or ''. */
export function pick(msg: NodeMessage, key: string, def: NodeDef): string {
  const fromPayload = typeof msg.payload === 'object' && msg.payload !== null ? (msg.payload as Record<string, unknown>)[key] : undefined;
  const v = msg[key] ?? fromPayload ?? def[key];
  return typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : '';
}

/** A comma or space separated list (or an array) into ids. */
export function idList(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String).map((s) => s.trim()).filter(Boolean);
  return typeof v === 'string' ? v.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean) : [];
}

/** At deploy: checks URL and token once, so a bad configuration shows red before the first message. */
export function startupCheck(RED: NodeAPI, node: Node, def: NodeDef): void {
  const cfg = typeof def.server === 'string' ? (RED.nodes.getNode(def.server) as LoaConfigNode | null) : null;
  if (!cfg) {
    node.status(problemStatus({ code: 'NOT_CONFIGURED', status: 0, en: '', vi: '' }));
    return;
  }
  cfg.check().then(
    (user) => node.status({ fill: 'grey', shape: 'dot', text: `sẵn sàng · ready (${user})` }),
    (e: unknown) => {
      const p = problemOf(e);
      node.status(problemStatus(p));
      node.warn(`${p.en} — ${p.vi}`);
    },
  );
}
