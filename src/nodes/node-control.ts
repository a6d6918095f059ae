/**
 * Control calls between nodes' main threads (what the supervisor does over
 * comlink for its own actors, done for another node's): an actor's stats,
 * its cleanup, marking it recovered, and the Merkle trees of its arcs for an
 * anti-entropy pass. JSON in Control frames on the node pair's connection;
 * every call has a deadline, and the calls in flight are bounded.
 */
import { encodeJsonFrame, FrameKind, type Frame } from './frames.js';
import type { NodeLinks } from './node-links.js';

/** What one node serves to the others about its own actors. */
export interface ControlHandlers {
  readonly [method: string]: (args: readonly unknown[]) => Promise<unknown>;
}

interface Request {
  readonly call: number;
  readonly method: string;
  readonly args: readonly unknown[];
}

interface Response {
  readonly reply: number;
  readonly ok: boolean;
  readonly value?: unknown;
  readonly error?: string;
}

/** A control call that failed on the other node, or never came back. */
export class NodeControlError extends Error {
  override readonly name = 'NodeControlError';
}

export class NodeControl {
  private nextCall = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout; node: string }>();

  constructor(
    private readonly links: NodeLinks,
    private readonly handlers: ControlHandlers,
    private readonly maxPendingCalls = 1024,
  ) {}

  /** Call `method` on `node`; rejects with NodeControlError after `timeoutMs`, or when it fails there. */
  call<T>(node: string, method: string, args: readonly unknown[], timeoutMs: number): Promise<T> {
    if (this.pending.size >= this.maxPendingCalls) return Promise.reject(new NodeControlError(`${this.pending.size} control calls in flight (the bound)`));
    const call = this.nextCall++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(call);
        reject(new NodeControlError(`${method} on node ${node}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.pending.set(call, { resolve: resolve as (v: unknown) => void, reject, timer, node });
      if (!this.links.send(node, encodeJsonFrame(FrameKind.Control, { call, method, args } satisfies Request))) {
        clearTimeout(timer);
        this.pending.delete(call);
        reject(new NodeControlError(`${method} on node ${node}: not reachable`));
      }
    });
  }

  /** A node's connection went down: its calls fail now rather than at their deadlines. */
  nodeDown(node: string): void {
    for (const [call, p] of this.pending) {
      if (p.node !== node) continue;
      clearTimeout(p.timer);
      this.pending.delete(call);
      p.reject(new NodeControlError(`node ${node}'s connection went down`));
    }
  }

  /** A Control frame from `node`: a call to serve or an answer to one of ours. */
  received(node: string, f: Frame): void {
    if (f.kind !== FrameKind.Control) return;
    const body = f.body as Partial<Request & Response>;
    if (typeof body?.reply === 'number') {
      const p = this.pending.get(body.reply);
      if (p === undefined || p.node !== node) return; // late, after its deadline
      clearTimeout(p.timer);
      this.pending.delete(body.reply);
      if (body.ok === true) p.resolve(body.value);
      else p.reject(new NodeControlError(`on node ${node}: ${String(body.error)}`));
      return;
    }
    if (typeof body?.call !== 'number' || typeof body.method !== 'string' || !Array.isArray(body.args)) return;
    const call = body.call;
    const handler = Object.hasOwn(this.handlers, body.method) ? this.handlers[body.method] : undefined;
    const answer = (r: Response): void => void this.links.send(node, encodeJsonFrame(FrameKind.Control, r));
    if (handler === undefined) return answer({ reply: call, ok: false, error: `unknown control method ${body.method}` });
    handler(body.args).then(
      (value) => answer({ reply: call, ok: true, value }),
      (err: unknown) => answer({ reply: call, ok: false, error: (err as Error).message }),
    );
  }

  close(): void {
    for (const [call, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(call);
      p.reject(new NodeControlError('the node is closing'));
    }
  }
}
