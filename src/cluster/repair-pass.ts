import type { Ring } from '../ring/ring.js';
import { compareArc, PassLedger, PushPlan, type HeldPeak, type PushJob } from '../antientropy/pass-plan.js';
import { walkTrees, type TreeSource } from '../antientropy/trees.js';

/** What a pass needs from the cluster: where trees come from, and how to ask an actor to push or reap. */
export interface PassDeps {
  readonly ring: Ring;
  /** Actors whose trees are built this pass (the live ones). */
  readonly live: readonly number[];
  readonly source: TreeSource;
  /** The most the pass holds at once (trees and ranges), in bytes. */
  readonly maxBytes: number;
  /** Tombstones are reaped only when no hint is pending anywhere. */
  readonly hintsPending: number;
  /** Ask `job.pusher` to push its ranges to its peers; resolves when done. */
  push(job: PushJob): Promise<{ keys: number; bytes: number; failed: number }>;
  /** Ask `actor` to reap old tombstones in the ranges; resolves with how many it removed. */
  reap(actor: number, ranges: [number, number][]): Promise<number>;
}

export interface PassOutcome {
  readonly arcsComplete: number;
  readonly arcsDiffering: number;
  readonly leavesDiffering: number;
  readonly keysCompared: number;
  readonly bytesCompared: number;
  readonly keysSent: number;
  readonly bytesSent: number;
  readonly tombstonesReaped: number;
  readonly pushesIncomplete: number;
  /** Actors some arc of which was not compared in full or not filled: a recovering one among them is not recovered yet. */
  readonly notFilled: ReadonlySet<number>;
  /** Actors whose trees could not be built, and why. */
  readonly failed: ReadonlyMap<number, Error>;
  /** The most the pass held at once. */
  readonly peak: HeldPeak;
}

/**
 * One anti-entropy pass, arc batch by arc batch within `maxBytes`: compare
 * each arc's trees as they come and drop them, send the pushes they call
 * for (whenever the gathered ranges would outgrow their half of the budget,
 * and at the end of each batch), and reap the batch's identical arcs that
 * hold tombstones.
 */
export async function runPass(deps: PassDeps): Promise<PassOutcome> {
  const ledger = new PassLedger(deps.maxBytes);
  const plan = new PushPlan();
  const notFilled = new Set<number>();
  let reaps = new Map<number, [number, number][]>();
  const o = { arcsComplete: 0, arcsDiffering: 0, leavesDiffering: 0, keysCompared: 0, bytesCompared: 0, keysSent: 0, bytesSent: 0, tombstonesReaped: 0, pushesIncomplete: 0 };

  const flushPushes = async (): Promise<void> => {
    const held = plan.ranges;
    await Promise.all(
      plan.drain().map(async (job) => {
        const r = await deps.push(job);
        if (r.failed > 0) {
          o.pushesIncomplete++;
          for (const p of job.peers) notFilled.add(p);
        }
        o.keysSent += r.keys * job.peers.length;
        o.bytesSent += r.bytes;
      }),
    );
    ledger.releaseRanges(held);
  };
  const flushReaps = async (): Promise<void> => {
    const batch = reaps;
    reaps = new Map();
    const held = [...batch.values()].reduce((s, r) => s + r.length, 0);
    await Promise.all(
      [...batch].map(async ([id, ranges]) => {
        const reaped = await deps.reap(id, ranges); // awaited first: `x += await` would add to a stale x
        o.tombstonesReaped += reaped;
      }),
    );
    ledger.releaseRanges(held);
  };
  // the ranges gathered so far are sent (and awaited) before they would outgrow their half of the budget
  const makeRoom = async (ranges: number): Promise<void> => {
    if (ledger.rangesFit(ranges)) return;
    await flushPushes();
    await flushReaps();
  };

  const failed = await walkTrees(deps.ring, deps.live, deps.source, ledger, {
    async arc(arc, trees) {
      const c = compareArc(arc, trees);
      o.keysCompared += c.keys;
      o.bytesCompared += c.bytes;
      if (c.complete) o.arcsComplete++;
      else for (const id of arc.preference) notFilled.add(id);
      if (c.reapRanges.length > 0 && deps.hintsPending === 0) {
        const ranges = c.reapRanges;
        await makeRoom(ranges.length * c.replicas.length);
        for (const id of c.replicas) (reaps.get(id) ?? reaps.set(id, []).get(id)!).push(...ranges);
        ledger.holdRanges(ranges.length * c.replicas.length);
      }
      if (c.leavesDiffering === 0) return;
      o.arcsDiffering++;
      o.leavesDiffering += c.leavesDiffering;
      const ranges = c.pushes.reduce((s, p) => s + p.ranges.length, 0);
      await makeRoom(ranges);
      for (const p of c.pushes) plan.add(p);
      ledger.holdRanges(ranges);
    },
    async afterBatch() {
      await flushPushes();
      await flushReaps();
    },
  });
  return { ...o, notFilled, failed, peak: ledger.peak };
}
