import { LoaClient } from './lib/client.cjs';
import type { LoaConfigNode } from './lib/kit.cjs';
import type { Node, NodeAPI, NodeDef } from './lib/red.cjs';

/**
 * loa-config: the controller's URL and an API token (`loat_…`, kept as a Node-RED credential, so it is never in
 * the flow JSON and never logged). Every other loa-* node calls the controller through it.
 */
export = function register(RED: NodeAPI): void {
  function LoaConfig(this: Node & LoaConfigNode & { credentials?: { token?: string } }, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const url = typeof def.url === 'string' ? def.url.trim() : '';
    const timeoutS = Number(def.timeoutS);
    this.client = new LoaClient({ url, token: this.credentials?.token?.trim() ?? '', timeoutMs: Number.isFinite(timeoutS) && timeoutS > 0 ? timeoutS * 1000 : 15_000 });
    this.check = async () => (await this.client.request<{ user: { username: string } }>('GET', '/api/v1/auth/me')).user.username;
  }
  RED.nodes.registerType('loa-config', LoaConfig, { credentials: { token: { type: 'password' } } });
};
