/**
 * The front end's requests, from the caller's arguments to a coordinator's
 * message: every argument checked first (bad input throws, and nothing is
 * sent), then the write or increment submitted to the Router, or the read
 * served from the replicas' memory maps when that is equivalent to a
 * coordinated read (DirectReads), else sent to a coordinator. Cluster's
 * put, delete, increment and get are this, behind its promises.
 */
import { InvalidContextError, InvalidOptionError, InvalidValueError } from '../errors.js';
import { ringPosition } from '../ring/hash.js';
import type { Clock } from '../runtime/services.js';
import { MsgType, type Message } from '../transport/protocol.js';
import { decodeCounter, encodeDelta, value as counterValue } from '../versioning/counter.js';
import { contextOfEncodedVV, decodeClock, decodeContext, encodeVV, ValueKind } from '../versioning/sibling.js';
import type { DirectReads } from './direct-reads.js';
import type { Layout } from './layout.js';
import { resolveConsistency, type ResolvedOptions } from './options.js';
import {
  checkRequestOptions,
  DELETE_OPTIONS,
  expiryOf,
  GET_OPTIONS,
  getResult,
  INCREMENT_OPTIONS,
  PUT_OPTIONS,
  strictOf,
  timeoutOf,
  type DeleteOptions,
  type GetOptions,
  type GetResult,
  type IncrementOptions,
  type IncrementResult,
  type PutOptions,
  type ReadRequest,
  type WriteCallback,
} from './requests.js';
import type { Router } from './router.js';
import { checkPairSize, encodeKey, encodeValue, type Key, type Value } from './values.js';

export interface RequestFrontDeps {
  readonly options: ResolvedOptions;
  readonly layout: Layout;
  readonly router: Router;
  readonly directReads: DirectReads;
  readonly clock: Clock;
  /** Throws ClusterClosedError once the cluster is closed. */
  readonly assertOpen: () => void;
}

export class RequestFront {
  // the dependencies as fields of their own: every request reads them
  private readonly options: ResolvedOptions;
  private readonly layout: Layout;
  private readonly router: Router;
  private readonly directReads: DirectReads;
  private readonly clock: Clock;
  private readonly assertOpen: () => void;

  constructor(deps: RequestFrontDeps) {
    this.options = deps.options;
    this.layout = deps.layout;
    this.router = deps.router;
    this.directReads = deps.directReads;
    this.clock = deps.clock;
    this.assertOpen = deps.assertOpen;
  }

  /** A read's arguments, checked (bad input throws). */
  readRequest(key: Key, options: GetOptions): ReadRequest {
    this.assertOpen();
    checkRequestOptions(options, GET_OPTIONS);
    const keyBytes = encodeKey(key, this.options.maxKeyBytes);
    return { keyBytes, r: resolveConsistency('r', options.r, this.options.n, this.options.r), timeoutMs: timeoutOf(options.timeoutMs, this.options.timeoutMs), via: options.via };
  }

  directGet(q: ReadRequest): GetResult | undefined {
    // an overloaded front end refuses reads as it refuses everything else: the coordinated path says so
    if (this.router.full) return undefined;
    const position = ringPosition(q.keyBytes);
    const direct = this.directReads.read(q.keyBytes, position, this.layout.ring.preferenceList(position), q.r, q.via !== undefined);
    return direct === undefined ? undefined : getResult(direct, this.clock.now());
  }

  async coordinatedGet(q: ReadRequest): Promise<GetResult> {
    const { keyBytes, r, timeoutMs } = q;
    const position = ringPosition(keyBytes);
    const reply = await this.router.read(this.layout.ring.preferenceList(position), r, timeoutMs, q.via, (req) => ({ type: MsgType.ClientGet, req, key: keyBytes, position, r, timeoutMs }));
    if (reply.type !== MsgType.GetOk) throw new Error('internal: unexpected reply');
    return getResult(reply.clock.length === 0 ? null : decodeClock(reply.clock), this.clock.now());
  }

  /** Validate a write (throwing on bad input) and send it to a coordinator; `done` runs once, later. */
  write(operation: 'put' | 'delete', key: Key, value: Value | undefined, options: PutOptions | DeleteOptions, done: WriteCallback): void {
    this.assertOpen();
    checkRequestOptions(options, operation === 'put' ? PUT_OPTIONS : DELETE_OPTIONS);
    const sibling = (options as PutOptions).sibling;
    if (sibling !== undefined && typeof sibling !== 'boolean') throw new InvalidOptionError('sibling must be a boolean');
    if (sibling === true && options.context !== undefined) throw new InvalidOptionError('sibling: true writes beside everything and takes no context (a context already says what to supersede)');
    const strict = strictOf(options.strict, this.options.strict);
    const keyBytes = encodeKey(key, this.options.maxKeyBytes);
    const { kind, data } = operation === 'delete' ? { kind: ValueKind.Tombstone, data: new Uint8Array(0) } : encodeValue(value);
    checkPairSize(keyBytes, data, this.options.maxPairBytes);
    const w = resolveConsistency('w', options.w, this.options.n, this.options.w);
    const timeoutMs = timeoutOf(options.timeoutMs, this.options.timeoutMs);
    const context = contextOf(options.context);
    // No context and no sibling: the coordinator supersedes what it holds, in the same step as it
    // writes (one path for put, delete, SET and DEL; a read here first could not be atomic).
    const overwrite = options.context === undefined && sibling !== true;
    const expiresAtMs = expiryOf(options as PutOptions, this.clock.now());
    const position = ringPosition(keyBytes);
    const build = (req: number): Message => ({ type: MsgType.ClientPut, req, key: keyBytes, position, kind, data, context, w, timeoutMs, overwrite, strict, expiresAtMs });
    const onReply = (reply: Message): void => {
      if (reply.type !== MsgType.PutOk) done(new Error('internal: unexpected reply'));
      else done(null, { context: contextOfEncodedVV(reply.context), existed: reply.existed });
    };
    this.router.submit(this.layout.ring.preferenceList(position), operation, w, timeoutMs, options.via, build, onReply, done);
  }

  /** Validate an increment (throwing on bad input) and send it to a coordinator; `done` runs once, later. */
  increment(key: Key, by: number, options: IncrementOptions, done: (err: Error | null, result?: IncrementResult) => void): void {
    this.assertOpen();
    checkRequestOptions(options, INCREMENT_OPTIONS);
    if (options.float !== undefined && typeof options.float !== 'boolean') throw new InvalidOptionError('float must be a boolean');
    const integer = options.float !== true;
    if (typeof by !== 'number' || (integer ? !Number.isSafeInteger(by) : !Number.isFinite(by))) {
      throw new InvalidValueError(integer ? `increment must be an integer within ±(2^53-1), got ${String(by)}` : `increment must be a finite number, got ${String(by)}`);
    }
    const strict = strictOf(options.strict, this.options.strict);
    const keyBytes = encodeKey(key, this.options.maxKeyBytes);
    const data = encodeDelta({ by, integer });
    const w = resolveConsistency('w', options.w, this.options.n, this.options.w);
    const timeoutMs = timeoutOf(options.timeoutMs, this.options.timeoutMs);
    const position = ringPosition(keyBytes);
    const context = new Uint8Array(0);
    const build = (req: number): Message => ({ type: MsgType.ClientPut, req, key: keyBytes, position, kind: ValueKind.Counter, data, context, w, timeoutMs, overwrite: true, strict, expiresAtMs: 0 });
    const onReply = (reply: Message): void => {
      if (reply.type !== MsgType.PutOk || reply.counter.length === 0) done(new Error('internal: unexpected reply to an increment'));
      else done(null, { value: counterValue(decodeCounter(reply.counter)), context: contextOfEncodedVV(reply.context) });
    };
    this.router.submit(this.layout.ring.preferenceList(position), 'increment', w, timeoutMs, options.via, build, onReply, done);
  }
}

/** A write's context, as the coordinator takes it (empty: none given). */
function contextOf(context: string | undefined): Uint8Array {
  if (context === undefined) return new Uint8Array(0);
  if (typeof context !== 'string') throw new InvalidContextError('context must be the string a get or put returned');
  try {
    return encodeVV(decodeContext(context));
  } catch (err) {
    throw new InvalidContextError(`context is malformed: ${(err as Error).message}`);
  }
}
