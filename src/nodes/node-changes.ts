/**
 * A node joining or leaving a multi-node cluster: the same change a single
 * machine's addActor/removeActor makes (MembershipDriver), with etcd as the
 * place every node agrees on it. The node making the change:
 *   1. swaps the ring record to "pending: target, phase stream" (a
 *      compare-and-swap: of two nodes changing the ring, one wins);
 *   2. every node applies it (its actors forward writes to the target's new
 *      replicas) and acknowledges it in etcd; the changing node waits for all;
 *   3. it streams the ranges that move, from the replicas that keep them
 *      (wherever they run), as SyncRanges pushes;
 *   4. swaps the record to phase "switch" (coordinate by the target, still
 *      forward to the old replicas) and waits for every acknowledgement;
 *   5. swaps it to the next version with the target as its members.
 * A failure before the switch abandons the change; a crash is cleaned up
 * at the node's next start (node.ts undoOwnChange).
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { streamTransfers, type MembershipResult, type Streamed } from '../cluster/membership-driver.js';
import { InvalidOptionError } from '../errors.js';
import { applyChanges, planTransfers, type MembershipChange } from '../membership/plan.js';
import { Ring, type RingMember } from '../ring/ring.js';
import { actorDataPath } from '../supervisor/metadata.js';
import type { ActorConfig } from '../actor/actor.js';
import type { NodeDeps, NodeRuntime } from './node.js';
import { abandonChange, beginChange, finishChange, toSwitch, type NodeRingMember, type RingRecord } from './records.js';
import type { RingRead } from './registry.js';

const POLL_MS = 100;

export class NodeChanges {
  private running = false;

  constructor(
    private readonly node: NodeRuntime,
    private readonly deps: NodeDeps,
    private readonly actorConfig: (id: number) => ActorConfig,
  ) {}

  get changing(): boolean {
    return this.running;
  }

  /** Join: this node's actors enter the ring, each taking its share of the ranges (its zone is this node). */
  async join(): Promise<MembershipResult> {
    const name = this.node.o.name;
    const mine = this.node.identity.actors;
    return this.change(
      (current) => applyChanges(current, mine.map((id): MembershipChange => ({ kind: 'add', id, zone: name })), this.node.settings.vnodes, this.node.settings.n),
      async (current, target) => {
        const { supervisor } = this.deps;
        for (const id of mine) if (!supervisor.isLocal(id)) await supervisor.add({ ...this.actorConfig(id), members: target, expectsData: false });
        await supervisor.setRings(current, target);
        await this.node.register();
      },
      async () => undefined,
      async () => {
        // abandoned: this node's actors leave again, with what they were streamed
        for (const id of mine) {
          await this.deps.supervisor.remove(id).catch(() => undefined);
          rmSync(actorDataPath(this.deps.options.dataDir, id), { recursive: true, force: true });
        }
        await this.node.register();
      },
    );
  }

  /** Leave: this node's actors hand their ranges to the others, then stop; the node then holds nothing. */
  async leave(): Promise<MembershipResult> {
    const mine = this.node.localActorsInRing();
    if (mine.length === 0) throw new InvalidOptionError(`node ${this.node.o.name} holds no actors of the ring`);
    const result = await this.change(
      (current) => applyChanges(current, mine.map((id): MembershipChange => ({ kind: 'remove', id })), this.node.settings.vnodes, this.node.settings.n),
      async (current, target) => this.deps.supervisor.setRings(current, target),
      async () => {
        for (const id of mine) {
          await this.deps.supervisor.remove(id);
          this.deps.transport.disconnect(id);
          this.deps.liveness.forget(id);
          rmSync(actorDataPath(this.deps.options.dataDir, id), { recursive: true, force: true });
        }
        await this.node.register();
      },
      async () => undefined,
    );
    return result;
  }

  /**
   * Remove a node that is gone for good (its lease expired, it is not
   * coming back): its actors leave the ring, and the ranges they held
   * stream to their new owners from the replicas that keep them. Refused
   * while the node holds its lease. Its data directory, if it ever comes
   * back, is of no use: start it afresh.
   */
  async forget(name: string): Promise<MembershipResult> {
    if (name === this.node.o.name) throw new InvalidOptionError('a node cannot forget itself: use leave');
    if (this.node.isRegistered(name)) throw new InvalidOptionError(`node ${name} holds its lease: it is not gone (stop it, or let it leave)`);
    const theirs = [...this.node.ring.members].filter((m) => m.node === name).map((m) => m.id);
    if (theirs.length === 0) throw new InvalidOptionError(`node ${name} holds no actors of the ring`);
    return this.change(
      (current) => applyChanges(current, theirs.map((id): MembershipChange => ({ kind: 'remove', id })), this.node.settings.vnodes, this.node.settings.n),
      async (current, target) => this.deps.supervisor.setRings(current, target),
      async () => undefined,
      async () => undefined,
      name,
    );
  }

  private async change(
    targetOf: (current: readonly NodeRingMember[]) => RingMember[],
    beforeStream: (current: readonly NodeRingMember[], target: readonly NodeRingMember[]) => Promise<void>,
    afterFinish: () => Promise<void>,
    onAbandon: () => Promise<void>,
    /** A node gone for good that takes no part in the change (forget). */
    absent?: string,
  ): Promise<MembershipResult> {
    if (this.running) throw new InvalidOptionError('a membership change is already running on this node');
    this.running = true;
    const started = performance.now();
    try {
      const { read, current, target } = await this.begin(targetOf);
      const v = read.record.version;
      const change = read.record.pending!.id;
      let streamed: Streamed;
      let movedFraction = 0;
      let at = read;
      try {
        await beforeStream(current, target);
        await this.waitAcks(v, change, 'stream', nodesOf(current, target), absent);
        const gone = new Set(current.filter((m) => m.node === absent).map((m) => m.id));
        const plan = planTransfers(Ring.build(current, this.node.settings.n), Ring.build(target, this.node.settings.n), () => undefined, gone);
        movedFraction = plan.movedFraction;
        streamed = await streamTransfers(this.deps.router, this.deps.options, plan.transfers);
        at = await this.swap(at, toSwitch(at.record));
      } catch (err) {
        await this.abandon().catch(() => undefined);
        await this.node.registry.clearAcks(v, change).catch(() => undefined);
        await onAbandon().catch(() => undefined);
        throw err;
      }
      await this.deps.supervisor.setRings(target, current);
      await this.waitAcks(v, change, 'switch', nodesOf(current, target), absent);
      at = await this.swap(at, finishChange(at.record));
      await this.node.registry.clearAcks(v, change).catch(() => undefined); // a leftover set is only a few keys
      await this.deps.supervisor.setRings(target, null);
      await afterFinish();
      const before = new Set(current.map((m) => m.id));
      const after = new Set(target.map((m) => m.id));
      return {
        ringVersion: at.record.version,
        added: [...after].filter((id) => !before.has(id)),
        removed: [...before].filter((id) => !after.has(id)),
        keysStreamed: streamed.keys,
        bytesStreamed: streamed.bytes,
        durationMs: Math.round(performance.now() - started),
        movedFraction,
      };
    } finally {
      this.running = false;
    }
  }

  /** Swap the ring to "pending: target" once no other change is in progress (waiting up to changeTimeoutMs). */
  private async begin(targetOf: (current: readonly NodeRingMember[]) => RingMember[]): Promise<{ read: RingRead; current: readonly NodeRingMember[]; target: NodeRingMember[] }> {
    const registry = this.node.registry;
    const deadline = performance.now() + this.node.o.changeTimeoutMs;
    for (;;) {
      const read = await registry.ring();
      if (read === null) throw new Error('the cluster has no ring in etcd');
      if (read.record.pending === null) {
        const current = read.record.members;
        const owners = new Map(current.map((m) => [m.id, m.node]));
        const target = targetOf(current).map((m) => ({ ...m, node: owners.get(m.id) ?? this.node.o.name }));
        const next = beginChange(read.record, target, this.node.o.name, randomUUID());
        if (await registry.swapRing(read, next)) return { read: (await registry.ring())!, current, target };
        continue; // another node changed the ring first: read it again
      }
      if (performance.now() > deadline) throw new InvalidOptionError(`a membership change by node ${read.record.pending.by} is still in progress at ring version ${read.record.version}`);
      await sleep(POLL_MS * 5);
    }
  }

  private async swap(at: RingRead, next: RingRecord): Promise<RingRead> {
    if (!(await this.node.registry.swapRing(at, next))) throw new Error(`the ring record changed under this node's change (version ${at.record.version})`);
    return (await this.node.registry.ring())!;
  }

  /** Give up this node's change while it still streams (past its switch it can only be finished). */
  private async abandon(): Promise<void> {
    const read = (await this.node.registry.ring())!;
    if (read.record.pending?.by !== this.node.o.name || read.record.pending.phase !== 'stream') return;
    await this.node.registry.swapRing(read, abandonChange(read.record));
  }

  /** Until every node of `nodes` (but this one) has acknowledged `phase` of this change (`change`, at `version`). */
  private async waitAcks(version: number, change: string, phase: string, nodes: ReadonlySet<string>, absent?: string): Promise<void> {
    const deadline = performance.now() + this.node.o.changeTimeoutMs;
    for (;;) {
      const acked = new Set(await this.node.registry.acks(version, change, phase));
      const missing = [...nodes].filter((n) => n !== this.node.o.name && n !== absent && !acked.has(n));
      if (missing.length === 0) return;
      if (performance.now() > deadline) throw new Error(`nodes ${missing.join(', ')} did not take up phase ${phase} of ring version ${version} within ${this.node.o.changeTimeoutMs} ms`);
      await sleep(POLL_MS);
    }
  }
}

function nodesOf(...rings: (readonly NodeRingMember[])[]): Set<string> {
  return new Set(rings.flatMap((r) => r.map((m) => m.node)));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
