import type { Op, Outcome } from '../../tools/stress/checker.js';
import type { Random } from '../runtime/services.js';
import { MsgType } from '../transport/protocol.js';
import * as dvv from '../versioning/dvvset.js';
import { encodeDelta } from '../versioning/counter.js';
import { decodeClock, encodeJoin, ValueKind } from '../versioning/sibling.js';
import type { Reply, SimClient } from './client.js';
import type { VirtualTime } from './virtual-time.js';

export interface WorkloadOptions {
  /** Operations to run in all (reads and writes; an update's read counts too). */
  readonly ops: number;
  /** Concurrent clients, each running one operation at a time. */
  readonly processes: number;
  readonly keys: number;
  readonly r: number;
  readonly w: number;
  /** Refuse sloppy substitutes: the condition (with R + W > N) under which no read may be stale. */
  readonly strict: boolean;
  readonly timeoutMs: number;
  /** A client waits 0..thinkMaxMs between operations. */
  readonly thinkMaxMs: number;
  /** Keys below this index also get expiring writes (TTLs of 1..maxTtlMs), so the expiry sweep collects them as the run goes. */
  readonly expiringKeys: number;
  readonly maxTtlMs: number;
}

type Kind = 'read' | 'update' | 'blind' | 'sibling' | 'delete' | 'increment';

interface PlannedWrite {
  readonly kind: ValueKind;
  /** What the write's context saw (null: none, a blind overwrite; empty: a blind sibling). */
  readonly context: Uint8Array | null;
  readonly supersedes: readonly string[];
  readonly blind: boolean;
  readonly ttlMs: number;
  /** The value may vanish by itself (it expires, or it is a tombstone among expiring values). */
  readonly vanishes: boolean;
}
/** How often each operation is chosen (out of the sum). */
const MIX: readonly [Kind, number][] = [
  ['read', 30],
  ['update', 35],
  ['blind', 15],
  ['sibling', 5],
  ['delete', 15],
  ['increment', 10],
];

/** Counter keys (c0, c1, …): only increments touch them, and the checker sums them. */
export const COUNTER_KEYS = 3;

/** ok: acknowledged; fail: refused before anything was written; info: unknown (it may have been applied). */
function outcomeOf(reply: Reply): Outcome {
  return reply.kind === 'ok' ? 'ok' : reply.kind === 'refused' ? 'fail' : 'info';
}

/** What each replica's stored siblings name: the write ids (tombstones carry their delete's id too). */
export function writeIdsOf(clockBytes: Uint8Array): string[] {
  if (clockBytes.length === 0) return [];
  return dvv.values(decodeClock(clockBytes)).map((s) => Buffer.from(s.data).toString('utf8'));
}

/**
 * A seeded workload of reads, context writes (read, then write superseding
 * what was read), blind overwrites (a Redis SET), blind siblings and
 * deletes with a context, recorded as the stress lab's history so its
 * checker judges it. Times in the history are a logical counter in event
 * order: exact, where wall-clock times would need margins.
 */
export class Workload {
  readonly history: Op[] = [];
  /** Replies with code INTERNAL: a handler threw (always a bug). */
  readonly internalErrors: string[] = [];
  private started = 0;
  private finished = 0;
  private tick = 0;
  private seq = 0;
  private onDone: (() => void) | null = null;

  constructor(
    private readonly time: VirtualTime,
    private readonly client: SimClient,
    private readonly random: Random,
    private readonly options: WorkloadOptions,
  ) {}

  /** Start every client; `done` once all operations have ended. */
  start(done: () => void): void {
    this.onDone = done;
    for (let p = 0; p < this.options.processes; p++) this.next(p);
  }

  get completed(): number {
    return this.finished;
  }

  private now(): number {
    return this.tick++;
  }

  private next(process: number): void {
    if (this.started >= this.options.ops) {
      if (this.finished >= this.started && this.onDone !== null) {
        const done = this.onDone;
        this.onDone = null;
        done();
      }
      return;
    }
    const kind = this.pick();
    const ops = kind === 'update' || kind === 'delete' ? 2 : 1; // a read, then a write
    this.started += ops;
    const after = (): void => {
      this.finished += ops;
      this.time.setTimeout(() => this.next(process), Math.floor(this.random.next() * (this.options.thinkMaxMs + 1)));
    };
    if (kind === 'increment') this.increment(process, `c${Math.floor(this.random.next() * COUNTER_KEYS)}`, after);
    else this.keyOp(process, kind, after);
  }

  private keyOp(process: number, kind: Exclude<Kind, 'increment'>, after: () => void): void {
    const keyIndex = Math.floor(this.random.next() * this.options.keys);
    const key = `k${keyIndex}`;
    // On keys that also hold expiring values, most writes expire (so whole entries become collectable),
    // and a delete's tombstone may be collected with them; the writes that do not expire must survive.
    const expiring = keyIndex < this.options.expiringKeys;
    const ttlMs = expiring && this.random.next() < 0.8 ? 1 + Math.floor(this.random.next() * this.options.maxTtlMs) : 0;
    switch (kind) {
      case 'read':
        return this.read(process, key, () => after());
      case 'update':
      case 'delete':
        return this.read(process, key, (seen) => {
          if (seen === null) return after(); // the write is not attempted: it is counted as done
          const tombstone = kind === 'delete';
          const updateTtlMs = tombstone ? 0 : ttlMs;
          this.write(process, key, { kind: tombstone ? ValueKind.Tombstone : ValueKind.String, context: seen.context, supersedes: seen.values, blind: false, ttlMs: updateTtlMs, vanishes: updateTtlMs > 0 || (tombstone && expiring) }, after);
        });
      case 'blind':
        return this.write(process, key, { kind: ValueKind.String, context: null, supersedes: [], blind: true, ttlMs, vanishes: ttlMs > 0 }, after);
      case 'sibling':
        return this.write(process, key, { kind: ValueKind.String, context: new Uint8Array(0), supersedes: [], blind: false, ttlMs, vanishes: ttlMs > 0 }, after);
    }
  }

  /** An increment of a PN-counter (INCRBY): blind, never expiring; the checker sums what was acknowledged. */
  private increment(process: number, key: string, then: () => void): void {
    const by = Math.floor(this.random.next() * 21) - 5;
    const invokeMs = this.now();
    const { w, strict, timeoutMs } = this.options;
    this.client.put({ key, kind: ValueKind.Counter, data: encodeDelta({ by, integer: true }), context: null, w, strict, timeoutMs, expiresAtMs: 0 }, (reply) => {
      this.noteInternal(reply, `increment ${key}`);
      this.history.push({ kind: 'increment', key, process, invokeMs, completeMs: this.now(), outcome: outcomeOf(reply), by });
      this.time.record(`p${process} incr ${key} ${by} ${reply.kind === 'ok' ? 'ok' : reply.code}`);
      then();
    });
  }

  private pick(): Kind {
    let roll = this.random.next() * MIX.reduce((sum, [, weight]) => sum + weight, 0);
    for (const [kind, weight] of MIX) {
      if (roll < weight) return kind;
      roll -= weight;
    }
    return 'read';
  }

  private read(process: number, key: string, then: (seen: { values: string[]; context: Uint8Array } | null) => void): void {
    const invokeMs = this.now();
    const { r, timeoutMs } = this.options;
    this.client.get(key, r, timeoutMs, (reply) => {
      this.noteInternal(reply, `get ${key}`);
      const ok = reply.kind === 'ok' && reply.message.type === MsgType.GetOk;
      const clock = ok && reply.message.type === MsgType.GetOk ? reply.message.clock : new Uint8Array(0);
      const values = ok ? writeIdsOf(clock) : [];
      this.history.push({ kind: 'read', key, process, invokeMs, completeMs: this.now(), outcome: ok ? 'ok' : 'fail', values });
      this.time.record(`p${process} get ${key} ${ok ? values.join(',') : reply.kind}`);
      then(ok ? { values, context: clock.length === 0 ? new Uint8Array(0) : encodeJoin(decodeClock(clock)) } : null);
    });
  }

  /** `w.context` null: a blind overwrite (no context: supersedes what the coordinator holds). */
  private write(process: number, key: string, w: PlannedWrite, then: () => void): void {
    const id = `${w.kind === ValueKind.Tombstone ? 'd' : w.ttlMs > 0 ? 'x' : 'w'}${process}.${this.seq++}`;
    const invokeMs = this.now();
    const { w: acks, strict, timeoutMs } = this.options;
    const expiresAtMs = w.ttlMs > 0 ? this.time.now() + w.ttlMs : 0;
    this.client.put({ key, kind: w.kind, data: Buffer.from(id), context: w.context, w: acks, strict, timeoutMs, expiresAtMs }, (reply) => {
      this.noteInternal(reply, `put ${key}`);
      this.history.push({ kind: 'write', id, key, process, invokeMs, completeMs: this.now(), outcome: outcomeOf(reply), supersedes: w.supersedes, blind: w.blind, expires: w.vanishes });
      this.time.record(`p${process} put ${key} ${id} ${reply.kind === 'ok' ? 'ok' : reply.code}`);
      then();
    });
  }

  private noteInternal(reply: Reply, what: string): void {
    if (reply.kind !== 'ok' && reply.code === 'INTERNAL') this.internalErrors.push(what);
  }
}
