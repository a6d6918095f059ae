/** Automatic scaling: samples the actors' load and carries out the autoscaler's decisions as membership changes. */
import { Autoscaler, type ActorLoad, type AutoscalerPolicy, type Decision } from '../membership/autoscaler.js';
import type { LatencyWindow } from '../coordinator/throttle.js';
import type { Clock, Timers } from '../runtime/services.js';
import type { ActorStats } from '../actor/actor.js';
import type { Layout } from './layout.js';
import type { Liveness } from './liveness.js';
import type { MembershipDriver } from './membership-driver.js';

/** An autoscaler decision that was acted on, when, and how the change went. */
export type AutoscaleEntry = Decision & { atMs: number; outcome: string };

/** Decisions kept for autoscalerStatus. */
const DECISIONS_KEPT = 50;

/** What the autoscale driver needs of the cluster. */
export interface AutoscaleDriverDeps {
  readonly policy: AutoscalerPolicy & { readonly sampleIntervalMs: number };
  readonly layout: Layout;
  readonly liveness: Liveness;
  readonly membership: MembershipDriver;
  /** The latency of the requests this process sends: its p99 per sample goes to the autoscaler. */
  readonly latency: LatencyWindow;
  readonly clock: Clock;
  readonly timers: Timers;
  closed(): boolean;
}

/** Samples the actors' load every sampleIntervalMs and adds or retires an actor when the autoscaler decides so. */
export class AutoscaleDriver {
  private readonly autoscaler: Autoscaler;
  private readonly timer: { cancel(): void };
  /** Each actor's requests coordinated at the last sample. */
  private readonly coordinatedBefore = new Map<number, number>();
  private readonly entries: AutoscaleEntry[] = [];

  constructor(private readonly deps: AutoscaleDriverDeps) {
    const { policy } = deps;
    this.autoscaler = new Autoscaler(policy, deps.layout.meta.n);
    this.timer = deps.timers.setInterval(() => void this.tick().catch(() => undefined), policy.sampleIntervalMs);
  }

  /** The latest decisions (at most 50) with the figures behind them. */
  get decisions(): readonly AutoscaleEntry[] {
    return [...this.entries];
  }

  stop(): void {
    this.timer.cancel();
  }

  private idle(): boolean {
    return this.deps.membership.changing || this.deps.closed();
  }

  private async tick(): Promise<void> {
    const { policy, liveness, latency, clock } = this.deps;
    if (this.idle()) return;
    const stats = await liveness.stats(policy.sampleIntervalMs);
    if (stats.length === 0 || this.idle()) return;
    const p99Ms = latency.p99() ?? 0;
    latency.reset();
    const decision = this.autoscaler.observe({ atMs: clock.monotonicMs(), actors: this.loads(stats), p99Ms: Number.isFinite(p99Ms) ? p99Ms : 600_000 });
    if (decision.action === 'hold') return;
    const entry = { ...decision, atMs: clock.now(), outcome: 'running' };
    this.entries.push(entry);
    if (this.entries.length > DECISIONS_KEPT) this.entries.shift();
    console.error(`ringkv autoscaler: ${decision.action === 'add' ? `adding an actor in zone ${decision.zone}` : `retiring actor ${decision.id}`}: ${decision.reason}`);
    const m = this.deps.membership;
    const change = decision.action === 'add' ? m.addActor({ zone: decision.zone }) : m.removeActor(decision.id);
    change.then(
      (r) => {
        entry.outcome = `done: ring version ${r.ringVersion}, ${r.keysStreamed} entries streamed in ${r.durationMs} ms`;
        this.autoscaler.changeAt(clock.monotonicMs()); // the cooldown runs from the end of the change
      },
      (err: unknown) => {
        entry.outcome = `failed: ${(err as Error).message}`;
        if (!this.deps.closed()) console.error(`ringkv autoscaler: the change failed: ${(err as Error).message}`);
      },
    );
  }

  /** Each actor's load since the last sample. */
  private loads(stats: readonly ActorStats[]): ActorLoad[] {
    const intervalMs = this.deps.policy.sampleIntervalMs;
    const zones = new Map(this.deps.layout.meta.members.map((m) => [m.id, m.zone]));
    return stats.map((s) => {
      const coordinated = s.coordinatedGets + s.coordinatedPuts;
      const before = this.coordinatedBefore.get(s.id) ?? coordinated;
      this.coordinatedBefore.set(s.id, coordinated);
      return { id: s.id, zone: zones.get(s.id) ?? 'default', elu: s.eventLoopUtilization, requestsPerSec: (Math.max(0, coordinated - before) * 1000) / intervalMs, queueDepth: s.pendingOps };
    });
  }
}
