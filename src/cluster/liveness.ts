/** Who is up as the front end sees it (threads and gossip), and the admin waits that depend on it. */
import type { ActorStats } from '../actor/actor.js';
import { clusterView } from '../membership/failure-detector.js';
import type { Clock, Timers } from '../runtime/services.js';
import type { ActorStatus, Supervisor } from '../supervisor/supervisor.js';
import type { Layout } from './layout.js';

/**
 * Which actors the front end counts as up: the supervisor's view of the
 * threads (the fast path) joined with what the actors' gossip says (each
 * live actor reports the members it considers down; a majority decides).
 */
export class Liveness {
  /** Each live actor's latest gossip verdict: the members it considers down. */
  private readonly views = new Map<number, readonly number[]>();
  private gossipDown = new Set<number>();

  constructor(
    private readonly supervisor: Supervisor,
    private readonly layout: Layout,
    private readonly clock: Clock,
    private readonly timers: Timers,
  ) {}

  /** An actor's gossip report: the members it considers down. */
  onMemberView(from: number, down: readonly number[]): void {
    if (!this.layout.ring.members.has(from) && this.supervisor.status(from) !== 'up') return; // a removed actor's last report
    this.views.set(from, down);
    this.recompute();
  }

  /** The majority view again, from the reports of the actors whose threads run. */
  recompute(): void {
    const live = new Map([...this.views].filter(([id]) => this.supervisor.status(id) === 'up'));
    this.gossipDown = clusterView(live, [...this.layout.ring.members.keys()]);
  }

  /** Up as the cluster sees it: its thread runs (supervisor) and the gossip majority hears its heartbeat. */
  isUp(id: number): boolean {
    return this.supervisor.status(id) === 'up' && !this.gossipDown.has(id);
  }

  /** Its thread runs (whatever gossip says). */
  isRunning(id: number): boolean {
    return this.supervisor.status(id) === 'up';
  }

  isGossipDown(id: number): boolean {
    return this.gossipDown.has(id);
  }

  statusOf(id: number): ActorStatus {
    const s = this.supervisor.status(id);
    return s === 'up' && this.gossipDown.has(id) ? 'down' : s;
  }

  /** Actor `id`'s thread ends (killed, wiped, removed): its reports go with it. */
  forget(id: number): void {
    this.views.delete(id);
  }

  /** A restarted actor is up: drop the stale "down" votes the others sent before they were told. */
  forgetDownVotes(id: number): void {
    for (const [observer, down] of this.views) if (down.includes(id)) this.views.set(observer, down.filter((x) => x !== id));
    this.views.delete(id);
    this.recompute();
  }

  /**
   * The actors of `ids` not up, after waiting up to `graceMs` for ones whose
   * threads run but that gossip sees down: a busy moment's late heartbeat
   * should not refuse an admin operation that needs every actor.
   */
  async stillDown(ids: readonly number[], graceMs: number): Promise<number[]> {
    const deadline = this.clock.monotonicMs() + graceMs;
    for (;;) {
      const down = ids.filter((id) => !this.isUp(id));
      const mayComeBack = down.some((id) => this.isRunning(id));
      if (down.length === 0 || !mayComeBack || this.clock.monotonicMs() >= deadline) return down;
      await sleep(this.timers, 50);
    }
  }

  /** The stats of every actor whose thread runs; one that does not answer within `timeoutMs` (a paused one, say) is left out. */
  async stats(timeoutMs: number): Promise<ActorStats[]> {
    // every running actor: this process's, and on a multi-node cluster the other nodes' (over their control channel)
    const live = [...new Set([...this.supervisor.ids(), ...this.layout.ring.members.keys()])].filter((id) => this.isRunning(id));
    const answers = await Promise.all(live.map((id) => this.statsWithin(id, timeoutMs)));
    return answers.filter((s): s is ActorStats => s !== null);
  }

  private statsWithin(id: number, timeoutMs: number): Promise<ActorStats | null> {
    return new Promise<ActorStats | null>((resolve) => {
      const timer = this.timers.setTimeout(() => resolve(null), timeoutMs);
      this.supervisor.stats(id).then(
        (s) => {
          timer.cancel();
          resolve(s);
        },
        () => {
          timer.cancel();
          resolve(null);
        },
      );
    });
  }
}

/** Wait `ms` on `timers` (a poll's pause in async control flow). */
export function sleep(timers: Timers, ms: number): Promise<void> {
  return new Promise((resolve) => timers.setTimeout(resolve, ms));
}
