import type { Arc, Ring } from '../ring/ring.js';
import type { ArcTree } from './merkle.js';
import { BatchSizer, nextBatch, type PassLedger } from './pass-plan.js';

/** An arc as a tree build takes it. */
export interface ArcSpan {
  readonly index: number;
  readonly start: number;
  readonly end: number;
}

/** Where trees come from: the cluster's pool over each local actor's env (another node's, for its actors). */
export interface TreeSource {
  build(actor: number, arcs: readonly ArcSpan[]): Promise<ArcTree[]>;
  /** The arcs a walk covers (default: all). Each node of a multi-node cluster walks the arcs whose first replica it runs. */
  readonly covers?: (arc: Arc) => boolean;
}

export interface TreeVisitor {
  /** One arc's trees, aligned with `arc.preference` (undefined: not built). They are dropped when this returns. */
  arc(arc: Arc, trees: readonly (ArcTree | undefined)[]): void | Promise<void>;
  /** After each batch's arcs: send what they asked for while the next batch waits. */
  afterBatch?(): Promise<void>;
}

/**
 * Walk the ring's arcs a batch at a time: build the trees of one batch (one
 * pool task per actor of `actors` replicating an arc of it, over read-only
 * snapshots), hand each arc's trees to the visitor and drop them, then go
 * on. A batch's trees fit half of `ledger`'s budget, and a batch scans
 * about `sizer`'s target of entries, so an arc's replicas are read close
 * together in time (see BATCH_SCAN_ENTRIES). An actor whose build fails
 * sits out the rest of the walk; returns those actors and why.
 */
export async function walkTrees(ring: Ring, actors: readonly number[], source: TreeSource, ledger: PassLedger, visitor: TreeVisitor, sizer = new BatchSizer()): Promise<Map<number, Error>> {
  const failed = new Map<number, Error>();
  const arcs = ring.arcs();
  const live = new Set(actors);
  // trees take half the budget; the other half is for the ranges the visitor gathers
  const maxTreeBytes = Math.floor(ledger.maxBytes / 2);
  for (let from = 0; from < arcs.length; ) {
    const batch = nextBatch(arcs, from, live, maxTreeBytes, sizer.maxArcs(ring.n));
    from += batch.arcs.length;
    const batchArcs = batch.arcs.map((i) => arcs[i]!).filter((a) => source.covers?.(a) ?? true);
    const trees = new Map<number, Map<number, ArcTree>>();
    await Promise.all(
      actors.map(async (id) => {
        if (failed.has(id)) return;
        const mine = batchArcs.filter((a) => a.preference.includes(id)).map((a) => ({ index: a.index, start: a.start, end: a.end }));
        if (mine.length === 0) return;
        try {
          const built = await source.build(id, mine);
          ledger.holdTrees(built.length);
          sizer.saw(
            built.reduce((s, t) => s + t.keys, 0),
            built.length,
          );
          trees.set(id, new Map(built.map((t) => [t.arc, t])));
        } catch (err) {
          failed.set(id, err as Error);
        }
      }),
    );
    for (const arc of batchArcs) {
      const arcTrees = arc.preference.map((id) => (failed.has(id) ? undefined : trees.get(id)?.get(arc.index)));
      await visitor.arc(arc, arcTrees);
      // compared: drop this arc's trees before the next arc
      for (const id of arc.preference) if (trees.get(id)?.delete(arc.index) === true) ledger.releaseTrees(1);
    }
    // trees of an actor that failed after others of the batch were built
    for (const m of trees.values()) ledger.releaseTrees(m.size);
    await visitor.afterBatch?.();
  }
  return failed;
}
