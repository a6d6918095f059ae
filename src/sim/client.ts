import { ringPosition } from '../ring/hash.js';
import type { Ring } from '../ring/ring.js';
import type { Random } from '../runtime/services.js';
import type { ValueKind } from '../versioning/sibling.js';
import { MsgType, type Message } from '../transport/protocol.js';
import { MAIN_THREAD, Transport } from '../transport/transport.js';
import type { SimNetwork } from './network.js';
import { NodeTimers } from './node-timers.js';
import { SimEndpoint } from './ports.js';
import type { VirtualTime } from './virtual-time.js';

/** A client write, as the front end would send it. */
export interface SimPut {
  readonly key: string;
  readonly kind: ValueKind;
  readonly data: Uint8Array;
  /** What the write supersedes: a read's context, empty for nothing (a sibling), null for what the coordinator holds. */
  readonly context: Uint8Array | null;
  readonly w: number;
  readonly strict: boolean;
  readonly timeoutMs: number;
  /** Wall-clock ms since the epoch; 0: never. */
  readonly expiresAtMs: number;
}

const EMPTY = new Uint8Array(0);

/** How a request ended, as a client sees it. */
export type Reply =
  | { readonly kind: 'ok'; readonly message: Message }
  /** Refused before anything was written (the write certainly did not happen). */
  | { readonly kind: 'refused'; readonly code: string }
  /** Failed or timed out after it may have been applied (the write may or may not have happened). */
  | { readonly kind: 'unknown'; readonly code: string };

/** Codes with which a coordinator refuses a request before writing anything. */
const REFUSED = new Set(['OVERLOADED', 'CLUSTER_CLOSED', 'INVALID_CONTEXT', 'NOT_A_REPLICA', 'TOO_MANY_SIBLINGS', 'PAIR_TOO_LARGE', 'NOT_A_COUNTER', 'COUNTER_OVERFLOW', 'INVALID_VALUE']);

interface Waiting {
  readonly done: (reply: Reply) => void;
  readonly timer: { cancel(): void };
}

/**
 * The front end in the simulator (the main thread's part): sends requests
 * to a coordinator chosen as the real router does (the first live replica
 * of the key's preference list) over the real Transport, and matches replies
 * by request id. A request with no reply by its deadline (plus a margin) is
 * unknown, as a client's timeout is.
 */
export class SimClient {
  private readonly transport: Transport;
  private readonly timers: NodeTimers;
  private readonly waiting = new Map<number, Waiting>();
  private nextReq = 1;

  constructor(
    time: VirtualTime,
    net: SimNetwork<Uint8Array>,
    random: Random,
    actorIds: readonly number[],
    private readonly ring: Ring,
    private readonly isUp: (id: number) => boolean,
    private readonly maxWaiting = 10_000,
  ) {
    this.timers = new NodeTimers(time);
    const endpoint = new SimEndpoint(net, MAIN_THREAD);
    this.transport = new Transport(MAIN_THREAD, this.timers, { maxBatchBytes: 1024 * 1024 }, random);
    for (const id of actorIds) this.transport.connect(id, endpoint.portTo(id));
    this.transport.onMessage((_from, m) => this.onReply(m));
  }

  /** The coordinator the front end would pick for `key`: the first live replica (none: -1). */
  coordinatorFor(key: Uint8Array): number {
    for (const id of this.ring.preferenceList(ringPosition(key))) if (this.isUp(id)) return id;
    return -1;
  }

  /** A write of `key` through its coordinator; `context` null: none (supersedes what the coordinator holds). */
  put(p: SimPut, done: (reply: Reply) => void): void {
    const key = Buffer.from(p.key);
    const position = ringPosition(key);
    const { kind, data, w, strict, timeoutMs, expiresAtMs } = p;
    const context = p.context ?? EMPTY;
    const overwrite = p.context === null;
    this.request(this.coordinatorFor(key), timeoutMs, (req) => ({ type: MsgType.ClientPut, req, key, position, kind, data, context, w, timeoutMs, overwrite, strict, expiresAtMs }), done);
  }

  /** A read of `key` through its coordinator. */
  get(keyName: string, r: number, timeoutMs: number, done: (reply: Reply) => void): void {
    const key = Buffer.from(keyName);
    const position = ringPosition(key);
    this.request(this.coordinatorFor(key), timeoutMs, (req) => ({ type: MsgType.ClientGet, req, key, position, r, timeoutMs }), done);
  }

  /** Send a request built around its request id to actor `to`; `done` once, later. */
  request(to: number, timeoutMs: number, build: (req: number) => Message, done: (reply: Reply) => void): void {
    if (this.waiting.size >= this.maxWaiting) throw new RangeError(`more than ${this.maxWaiting} simulated requests wait (maxWaiting)`);
    if (to < 0) {
      this.timers.setImmediate(() => done({ kind: 'refused', code: 'NO_LIVE_REPLICA' }));
      return;
    }
    const req = this.nextReq++;
    const timer = this.timers.setTimeout(() => {
      this.waiting.delete(req);
      done({ kind: 'unknown', code: 'CLIENT_TIMEOUT' });
    }, timeoutMs + CLIENT_MARGIN_MS);
    this.waiting.set(req, { done, timer });
    this.transport.send(to, build(req));
  }

  /** Stop: what still waits is dropped (the run is over). */
  close(): void {
    for (const w of this.waiting.values()) w.timer.cancel();
    this.waiting.clear();
    this.timers.kill();
  }

  private onReply(m: Message): void {
    if (!('req' in m)) return;
    const w = this.waiting.get(m.req);
    if (w === undefined) return; // after the client gave up on it
    this.waiting.delete(m.req);
    w.timer.cancel();
    if (m.type !== MsgType.Fail) w.done({ kind: 'ok', message: m });
    else w.done({ kind: REFUSED.has(m.code) ? 'refused' : 'unknown', code: m.code });
  }
}

/** A client waits this much past a request's own deadline before calling it unknown. */
const CLIENT_MARGIN_MS = 100;
