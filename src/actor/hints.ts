import assert from 'node:assert/strict';
import { TokenBucket } from '../coordinator/throttle.js';
import { hintKey, type WriteDone } from '../storage/replica-store.js';
import { MsgType } from '../transport/protocol.js';
import { compareBytes, decodeClock, encodeClock } from '../versioning/sibling.js';
import type { BackgroundBudget } from './background-budget.js';
import { IGNORE_WRITE, type ActorContext } from './context.js';
import type { Gossip } from './gossip.js';
import type { AckReceiver, OpView } from './op-table.js';
import { mergeVersions } from './replica-merge.js';

/** A stored hint: 8-byte creation time (ms, big-endian double), then the clock. */
const HINT_HEADER_BYTES = 8;
/** Rounds a handoff round waits for the previous one's acks before it gives them up. */
const HANDOFF_WAIT_ROUNDS = 10;

/** A hint handed to its owner: the hint and its exact bytes (deleted only if unchanged when acked). */
export interface HandoffOp {
  readonly kind: 'handoff';
  readonly hintKey: Buffer;
  readonly bytes: Buffer;
}

/**
 * Hinted handoff (Dynamo's sloppy quorum): this actor, as a substitute,
 * keeps a write for a preference-list actor that is down as a durable
 * hint, and hands it to the owner once it is back, in bounded batches at
 * the background rate. A hint goes as a Replicate (an idempotent merge on
 * the owner) and is deleted only after the owner committed it, and only if
 * no newer hint replaced it meanwhile.
 */
export class Hints implements AckReceiver<HandoffOp> {
  private readonly bucket: TokenBucket;
  private inFlight = 0;
  private waits = 0;
  stored = 0;
  handedOff = 0;
  dropped = 0;

  constructor(
    private readonly ctx: ActorContext,
    private readonly ops: OpView<HandoffOp>,
    private readonly budget: BackgroundBudget,
    private readonly gossip: Gossip,
  ) {
    this.bucket = new TokenBucket(ctx.config.handoffIntervalMs);
  }

  /** Keep a write for `owner` as a durable hint, merged with any hint already held for that key. */
  store(key: Buffer, owner: number, clockBytes: Uint8Array, done: WriteDone): void {
    const { config, store } = this.ctx;
    try {
      const held = hintKey(owner, key);
      const existing = store.getHint(held);
      if (existing === undefined && store.hintCount() >= config.maxHints) {
        this.dropped++;
        return done(new Error(`actor ${this.ctx.id} holds ${config.maxHints} hints (maxHints)`));
      }
      const incoming = decodeClock(clockBytes);
      const heldClock = existing === undefined ? null : decodeClock(existing.subarray(HINT_HEADER_BYTES));
      const encoded = encodeClock(mergeVersions(heldClock, incoming, config.lastWriteWins));
      const value = Buffer.allocUnsafe(HINT_HEADER_BYTES + encoded.length);
      value.writeDoubleBE(existing === undefined ? this.ctx.clock.now() : existing.readDoubleBE(0), 0);
      value.set(encoded, HINT_HEADER_BYTES);
      this.stored++;
      store.writeHint(held, value, done);
    } catch (err) {
      done(err as Error);
    }
  }

  /** The clocks of the hints held for `key`, by owner (for inspection). */
  heldFor(key: Buffer): [number, Uint8Array][] {
    const out: [number, Uint8Array][] = [];
    for (const owner of this.ctx.ring.members.keys()) {
      const hint = this.ctx.store.getHint(hintKey(owner, key));
      if (hint !== undefined) out.push([owner, hint.subarray(HINT_HEADER_BYTES)]);
    }
    return out;
  }

  /** Every handoffIntervalMs (the actor's timer): hand hints to owners that are back, within the background budget. */
  round(): void {
    const { config, store, clock, transport } = this.ctx;
    // A round waits for the previous one's acks; one lost ack only delays (the owner's merge is idempotent).
    if (this.inFlight > 0 && ++this.waits < HANDOFF_WAIT_ROUNDS) return;
    if (this.inFlight > 0) this.ops.dropWhere(() => true);
    this.inFlight = 0;
    this.waits = 0;
    if (this.ctx.closing || store.hintCount() === 0) return;
    const now = clock.now();
    const limit = Math.min(config.maxHintsPerHandoff, Math.floor(this.bucket.available(clock.monotonicMs(), this.budget.perSec)));
    if (limit < 1) return; // background budget spent: the next round goes on
    for (const { key: hintKey, value } of store.hintEntries(limit)) {
      const owner = hintKey.readUInt32BE(0);
      if (now - value.readDoubleBE(0) > config.maxHintAgeMs || !this.ctx.ring.members.has(owner)) {
        this.dropped++;
        store.writeHint(hintKey, null, IGNORE_WRITE);
        continue;
      }
      if (this.gossip.suspects.has(owner) || !transport.isConnected(owner)) continue;
      const op = this.ops.add({ kind: 'handoff', hintKey, bytes: value });
      this.inFlight++;
      this.bucket.take(1);
      this.budget.markUsed();
      transport.send(owner, { type: MsgType.Replicate, op, key: hintKey.subarray(4), clock: value.subarray(HINT_HEADER_BYTES), background: true });
    }
  }

  acked(op: number, h: HandoffOp, _from: number, ok: boolean): void {
    assert(this.inFlight > 0, 'an ack is for a hint in flight');
    this.ops.delete(op);
    this.inFlight--;
    if (!ok) return;
    const current = this.ctx.store.getHint(h.hintKey);
    if (current !== undefined && compareBytes(current, h.bytes) === 0) {
      this.handedOff++;
      this.ctx.store.writeHint(h.hintKey, null, IGNORE_WRITE);
    }
  }
}
