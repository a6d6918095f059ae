/**
 * The front end's requests to coordinator actors: which actor coordinates,
 * backpressure, hedged reads, and each request from dispatch to its reply,
 * its refusal or its deadline. The hot path of every coordinated request.
 */
import {
  ClusterClosedError,
  CounterOverflowError,
  InvalidContextError,
  InvalidOptionError,
  InvalidValueError,
  NotACounterError,
  OverloadedError,
  PairTooLargeError,
  QuorumError,
  RingkvError,
  TooManySiblingsError,
  type ErrorCode,
} from '../errors.js';
import { AdmissionTable, type Admission } from '../coordinator/admission.js';
import { LatencyWindow } from '../coordinator/throttle.js';
import type { Clock, Timers } from '../runtime/services.js';
import { MsgType, type Message } from '../transport/protocol.js';
import type { Transport } from '../transport/transport.js';
import type { Liveness } from './liveness.js';
import type { ResolvedOptions } from './options.js';

/** What the front end asks of a coordinator actor. */
export type Operation = 'get' | 'put' | 'delete' | 'increment' | 'scan' | 'repair';

/** Builds a request's message once its request number is known. */
export type BuildMessage = (req: number) => Message;

interface PendingRequest {
  readonly operation: Operation;
  /** The actor coordinating it: if its thread ends, the request is answered at once. */
  readonly coordinator: number;
  readonly startedMs: number;
  /** Called once if the request is still unanswered at `slowAtMs` (a read then hedges). */
  onSlow: (() => void) | undefined;
  readonly slowAtMs: number;
  readonly needed: number;
  readonly replicas: number;
  readonly deadlineMs: number;
  /** The coordinator's admission control, for client requests (put, get, delete); told when the request ends. */
  readonly admission: Admission | null;
  resolve(m: Message): void;
  reject(e: Error): void;
}

/** How often requests are checked for their deadline, their hedge and their coordinator's oldest age. */
const SWEEP_INTERVAL_MS = 50;

/** How long past a request's own deadline the main thread waits for its coordinator's answer (which says who replied). */
const coordinatorGraceMs = (timeoutMs: number): number => Math.min(1000, Math.max(100, Math.round(timeoutMs / 4)));

/**
 * The coordinator's thread ended before it answered. Still a QuorumError to
 * callers (a write may or may not have reached replicas); a read is
 * re-routed to another replica instead.
 */
class CoordinatorEndedError extends QuorumError {}

/** Where foreground latency is told (the Merkle builds' scan pacing). */
export interface LatencySink {
  record(ms: number): void;
}

/**
 * The front end's requests to coordinator actors: which actor coordinates
 * (admission control per actor, backpressure), hedged reads, and each
 * request from its dispatch to its reply, refusal or deadline.
 */
export class Router {
  private readonly pending = new Map<number, PendingRequest>();
  private nextReq = 1;
  /** Backpressure: one admission control per coordinator actor (see coordinator/admission.ts). */
  readonly admissions: AdmissionTable;
  /** Latency of the client requests this process sent, for the autoscaler's p99 (null: no autoscaler, no work per reply). */
  readonly requestLatency: LatencyWindow | null;
  private hedgedReadCount = 0;
  private hedgeWindow = { startMs: 0, count: 0 };
  private readonly sweeper: { cancel(): void };

  constructor(
    private readonly options: ResolvedOptions,
    private readonly transport: Transport,
    private readonly liveness: Liveness,
    private readonly foregroundLatency: LatencySink,
    private readonly clock: Clock,
    private readonly timers: Timers,
  ) {
    this.admissions = new AdmissionTable({
      targetMs: options.overloadTargetMs,
      intervalMs: options.overloadIntervalMs,
      maxInFlight: options.maxInFlightPerActor,
      minInFlight: Math.min(options.maxInFlightPerActor, 8),
    });
    this.requestLatency = options.autoscale === null ? null : new LatencyWindow();
    this.sweeper = timers.setInterval(() => this.expire(), SWEEP_INTERVAL_MS);
  }

  /** This process has as many requests in flight as it takes (maxPendingRequests). */
  get full(): boolean {
    return this.pending.size >= this.options.maxPendingRequests;
  }

  /** Reads hedged so far (see hedgeReadsAfterMs). */
  get hedgedReads(): number {
    return this.hedgedReadCount;
  }

  /**
   * A node of a multi-node cluster: coordinate on one of its own replicas
   * when the key has one up (as Riak coordinates on a local vnode), saving a
   * network hop each way; the others are only asked as replicas.
   */
  preferLocalCoordinators(isLocal: (id: number) => boolean): void {
    this.isLocal = isLocal;
  }

  private isLocal: ((id: number) => boolean) | null = null;

  /** The actor that coordinates a request on `pref`: `via` if given, else the first live replica not refusing work (a local one first, on a node). */
  chooseCoordinator(pref: readonly number[], operation: Operation, needed: number, via: number | undefined): number | Error {
    if (via !== undefined) {
      if (!pref.includes(via)) return new InvalidOptionError(`via: actor ${String(via)} is not in this key's preference list [${pref.join(', ')}]`);
      return via;
    }
    const local = this.isLocal;
    const coordinator =
      (local === null ? undefined : pref.find((id) => local(id) && this.liveness.isUp(id) && !this.admissions.of(id).overloaded)) ??
      pref.find((id) => this.liveness.isUp(id) && !this.admissions.of(id).overloaded) ??
      pref.find((id) => this.liveness.isUp(id)) ??
      pref.find((id) => this.liveness.isRunning(id));
    return coordinator ?? new QuorumError(operation, 0, needed, pref.length, 'no replica of this key is up');
  }

  /** A client request on the key whose preference list is `pref`, with callbacks: exactly one of them runs, never before this returns. */
  submit(pref: readonly number[], operation: Operation, needed: number, timeoutMs: number, via: number | undefined, build: BuildMessage, resolve: (m: Message) => void, reject: (e: Error) => void): void {
    const coordinator = this.chooseCoordinator(pref, operation, needed, via);
    if (coordinator instanceof Error) {
      this.timers.setImmediate(() => reject(coordinator)); // never before this returns, and after waiting I/O (see dispatch)
      return;
    }
    this.dispatch(coordinator, operation, needed, pref.length, timeoutMs, build, undefined, this.admissions.of(coordinator), resolve, reject);
  }

  /** A read on `pref`, routed to the first live actor of it (which coordinates it), hedged unless `via` names the coordinator. */
  read(pref: readonly number[], needed: number, timeoutMs: number, via: number | undefined, build: BuildMessage): Promise<Message> {
    const coordinator = this.chooseCoordinator(pref, 'get', needed, via);
    if (coordinator instanceof Error) return Promise.reject(coordinator);
    if (via !== undefined) return this.sendTo(coordinator, 'get', needed, pref.length, timeoutMs, build, undefined, this.admissions.of(coordinator));
    return this.hedgedRead(pref, coordinator, needed, timeoutMs, build);
  }

  /**
   * A read is safe to ask twice, so it is not left waiting on one
   * coordinator: when that coordinator's thread ends the next live replica
   * coordinates it, and when it is slow (cut off or frozen before failure
   * detection says so) the next one is asked too (a hedged request, as in
   * "The Tail at Scale"); the first answer wins.
   */
  private hedgedRead(pref: readonly number[], first: number, needed: number, timeoutMs: number, build: BuildMessage): Promise<Message> {
    const startedMs = this.clock.monotonicMs();
    const tried = [first];
    let outstanding = 0;
    let settled = false;
    return new Promise<Message>((resolve, reject) => {
      const next = (): boolean => {
        const c = pref.find((id) => !tried.includes(id) && this.liveness.isUp(id));
        const leftMs = Math.round(timeoutMs - (this.clock.monotonicMs() - startedMs));
        if (c === undefined || leftMs < 1) return false;
        tried.push(c);
        launch(c, leftMs, false);
        return true;
      };
      const hedge = (): void => {
        if (settled || !this.hedgeAllowed()) return;
        if (next()) this.hedgedReadCount++;
      };
      const launch = (c: number, leftMs: number, mayHedge: boolean): void => {
        outstanding++;
        this.sendTo(c, 'get', needed, pref.length, leftMs, build, mayHedge ? hedge : undefined, this.admissions.of(c)).then(
          (m) => {
            outstanding--;
            if (settled) return;
            settled = true;
            resolve(m);
          },
          (err: unknown) => {
            outstanding--;
            if (settled) return;
            // another replica can coordinate it: its coordinator ended, or refused it as overloaded
            if ((err instanceof CoordinatorEndedError || err instanceof OverloadedError) && next()) return;
            if (outstanding > 0) return; // a hedge is still out: its answer may yet come
            settled = true;
            reject(err);
          },
        );
      };
      launch(first, timeoutMs, this.options.hedgeReadsAfterMs > 0);
    });
  }

  private hedgeAllowed(): boolean {
    const now = this.clock.monotonicMs();
    if (now - this.hedgeWindow.startMs >= 1000) this.hedgeWindow = { startMs: now, count: 0 };
    if (this.hedgeWindow.count >= this.options.maxHedgedReadsPerSec) return false;
    this.hedgeWindow.count++;
    return true;
  }

  /** A request to `coordinator`, answered by its reply. */
  sendTo(coordinator: number, operation: Operation, needed: number, replicas: number, timeoutMs: number, build: BuildMessage, onSlow?: () => void, admission: Admission | null = null): Promise<Message> {
    return new Promise<Message>((resolve, reject) => this.dispatch(coordinator, operation, needed, replicas, timeoutMs, build, onSlow, admission, resolve, reject));
  }

  /** sendTo with callbacks: exactly one of them runs, never before this returns. */
  private dispatch(
    coordinator: number,
    operation: Operation,
    needed: number,
    replicas: number,
    timeoutMs: number,
    build: BuildMessage,
    onSlow: (() => void) | undefined,
    admission: Admission | null,
    resolve: (m: Message) => void,
    reject: (e: Error) => void,
  ): void {
    const refusal = this.refusal(coordinator, operation, needed, replicas, admission);
    if (refusal !== null) {
      // After the I/O already waiting, not as a microtask: a caller that retries a refusal at once, in a
      // loop, would otherwise never let the replies that end the overload in (measured: a livelock).
      this.timers.setImmediate(() => reject(refusal));
      return;
    }
    const now = this.clock.monotonicMs();
    admission?.started(now);
    const req = this.nextReq++;
    this.pending.set(req, {
      admission,
      operation,
      coordinator,
      startedMs: now,
      onSlow,
      slowAtMs: now + this.options.hedgeReadsAfterMs,
      needed,
      replicas,
      deadlineMs: now + timeoutMs + coordinatorGraceMs(timeoutMs),
      resolve,
      reject,
    });
    this.transport.send(coordinator, build(req));
  }

  /** Why a request may not be sent to `coordinator` now, or null when it may. */
  private refusal(coordinator: number, operation: Operation, needed: number, replicas: number, admission: Admission | null): Error | null {
    if (this.full) {
      return new OverloadedError(`${this.pending.size} requests in flight (maxPendingRequests ${this.options.maxPendingRequests})`);
    }
    // a thread known to have ended would never answer: fail now (a read is re-routed by hedgedRead)
    if (!this.liveness.isRunning(coordinator)) {
      return new CoordinatorEndedError(operation, 0, needed, replicas, `coordinator actor ${coordinator} is not running`);
    }
    if (admission !== null) {
      const verdict = admission.check();
      if (verdict !== 'admit') return overloaded(coordinator, verdict, admission);
    }
    return null;
  }

  /** A coordinator's answer to a request of this process. */
  onReply(m: Message): void {
    if (m.type !== MsgType.PutOk && m.type !== MsgType.GetOk && m.type !== MsgType.ScanOk && m.type !== MsgType.InspectOk && m.type !== MsgType.SyncDone && m.type !== MsgType.ReapDone && m.type !== MsgType.Fail) throw new Error(`main thread got unexpected message type ${m.type}`);
    const p = this.pending.get(m.req);
    if (p === undefined) return; // already timed out
    this.settle(m.req, p);
    if (p.operation === 'put' || p.operation === 'get' || p.operation === 'delete') this.foregroundLatency.record(this.clock.monotonicMs() - p.startedMs);
    // only the autoscaler reads it: no work on every reply otherwise
    if (this.requestLatency !== null && p.operation !== 'repair' && p.operation !== 'scan') this.requestLatency.record(this.clock.monotonicMs() - p.startedMs);
    if (m.type === MsgType.Fail) p.reject(toError(p.operation, m.code, m.answered, m.needed, m.replicas, m.detail));
    else p.resolve(m);
  }

  /** Actor `id`'s thread ended: what it was coordinating is answered now, not at the deadline. */
  coordinatorEnded(id: number): void {
    for (const [req, p] of this.pending) {
      if (p.coordinator !== id) continue;
      this.settle(req, p);
      p.reject(new CoordinatorEndedError(p.operation, 0, p.needed, p.replicas, `coordinator actor ${id} ended before answering`));
    }
  }

  /** A request ends (answered, failed, timed out): forget it, and tell its coordinator's admission control how long it took. */
  private settle(req: number, p: PendingRequest): void {
    this.pending.delete(req);
    p.admission?.finished(p.startedMs, this.clock.monotonicMs());
  }

  private expire(): void {
    const now = this.clock.monotonicMs();
    const oldestSeen = new Set<Admission>();
    for (const [req, p] of this.pending) {
      // the map is in send order: the first request met per coordinator is its oldest
      if (p.admission !== null && !oldestSeen.has(p.admission)) {
        oldestSeen.add(p.admission);
        p.admission.noteOldest(now - p.startedMs, now);
      }
      if (p.onSlow !== undefined && p.slowAtMs <= now) {
        const onSlow = p.onSlow;
        p.onSlow = undefined;
        onSlow();
      }
      if (p.deadlineMs > now) continue;
      this.settle(req, p);
      p.reject(new QuorumError(p.operation, 0, p.needed, p.replicas, 'the coordinator did not answer'));
    }
  }

  /** Stop checking deadlines (the cluster is closing). */
  stop(): void {
    this.sweeper.cancel();
  }

  /** Every request still in flight fails with ClusterClosedError (the actors have stopped). */
  failAll(): void {
    for (const p of this.pending.values()) p.reject(new ClusterClosedError());
    this.pending.clear();
  }
}

function overloaded(coordinator: number, verdict: 'too-many' | 'too-slow', a: Admission): OverloadedError {
  const o = a.options;
  return verdict === 'too-many'
    ? new OverloadedError(`actor ${coordinator} has ${a.inFlight} requests in flight (maxInFlightPerActor ${o.maxInFlight}); retry later`)
    : new OverloadedError(`actor ${coordinator} is behind: its requests have taken over ${o.targetMs} ms for ${o.intervalMs} ms (overloadTargetMs); retry later`);
}

function toError(operation: Operation, code: ErrorCode, answered: number, needed: number, replicas: number, detail: string): Error {
  switch (code) {
    case 'QUORUM_NOT_REACHED':
      return new QuorumError(operation, answered, needed, replicas, detail);
    case 'TOO_MANY_SIBLINGS':
      return new TooManySiblingsError(answered, needed);
    case 'OVERLOADED':
      return new OverloadedError(detail);
    case 'INVALID_CONTEXT':
      return new InvalidContextError(detail);
    case 'CLUSTER_CLOSED':
      return new ClusterClosedError();
    case 'PAIR_TOO_LARGE':
      return new PairTooLargeError(answered, needed);
    case 'INVALID_VALUE':
      return new InvalidValueError(detail);
    case 'NOT_A_COUNTER':
      return new NotACounterError(detail !== 'not-float');
    case 'COUNTER_OVERFLOW':
      return new CounterOverflowError(detail !== 'not-finite');
    case 'NOT_A_REPLICA':
      // routed across a ring switch and not applied: retryable, as a refusal is (a read goes to the next replica)
      return new OverloadedError(`${operation}: ${detail}; nothing was done, retry`);
    default:
      return new RingkvError(code, `${operation}: ${detail}`);
  }
}
