/**
 * The small part of the Node-RED runtime API these nodes use (Node-RED 4 ships no types of its own, and
 * @types/node-red is not a dependency). Kept minimal on purpose: only what is called here.
 */
export interface NodeStatus {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

export interface NodeMessage {
  _msgid?: string;
  topic?: string;
  payload?: unknown;
  [key: string]: unknown;
}

export interface Node {
  id: string;
  name?: string;
  on(event: 'input', fn: (msg: NodeMessage, send: (m: NodeMessage | (NodeMessage | null)[]) => void, done: (err?: Error) => void) => void): void;
  on(event: 'close', fn: (removed: boolean, done: () => void) => void): void;
  status(s: NodeStatus | Record<string, never>): void;
  error(err: unknown, msg?: NodeMessage): void;
  warn(m: unknown): void;
  log(m: unknown): void;
  send(msg: NodeMessage | (NodeMessage | null)[]): void;
}

export interface NodeDef {
  id: string;
  type: string;
  name?: string;
  [key: string]: unknown;
}

export interface NodeAPI {
  nodes: {
    createNode(node: object, def: NodeDef): void;
    registerType<N extends Node = Node>(type: string, ctor: (this: N, def: NodeDef) => void, opts?: { credentials?: Record<string, { type: 'text' | 'password' }> }): void;
    getNode(id: string): unknown;
  };
}
