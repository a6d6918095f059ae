import type { PeerHealth } from '../coordinator/write-targets.js';
import { detectorOptions, FailureDetector } from '../membership/failure-detector.js';
import type { Random } from '../runtime/services.js';
import { MsgType } from '../transport/protocol.js';
import type { ActorContext } from './context.js';

/**
 * Failure detection by gossip: each round (the actor's gossipIntervalMs
 * timer) bumps this actor's heartbeat, sends its heartbeat table to one
 * random connected peer, and tells the main thread which members it now
 * considers down. The supervisor's word (a thread ended, or was
 * restarted) is the fast path.
 */
export class Gossip {
  private readonly detector: FailureDetector;
  /** Peers the detector suspects (refreshed every round): asked last, but still asked. */
  private down = new Set<number>();
  private reportedDown = '';
  private rounds = 0;
  /** Times a round began suspecting a member it did not suspect before. */
  private suspicionsRaised = 0;
  /**
   * Suspicion is not evidence: only a peer whose thread ended (the
   * supervisor said so) or whose link is gone or cut by a fault is dead, and
   * only a dead peer is left out of a write.
   */
  readonly health: PeerHealth = {
    dead: (id) => this.detector.hasEnded(id) || !this.ctx.transport.isConnected(id) || this.ctx.transport.isBlocked(id),
    suspected: (id) => this.down.has(id),
  };

  constructor(
    private readonly ctx: ActorContext,
    private readonly random: Random,
  ) {
    const { config, clock } = ctx;
    // Heartbeats start at the wall clock (in µs) so a restarted actor's counter is above its old one.
    this.detector = new FailureDetector(
      ctx.id,
      [...ctx.ring.members.keys()],
      detectorOptions(config.gossipIntervalMs, config.failAfterMs, { maxFailAfterMs: config.maxFailAfterMs }),
      clock.monotonicMs(),
      Math.floor(clock.now()) * 1000,
    );
  }

  /** Members suspected now. */
  get suspects(): ReadonlySet<number> {
    return this.down;
  }

  get stats(): { suspects: number[]; suspicionsRaised: number; localStalls: number } {
    return { suspects: [...this.down].sort((a, b) => a - b), suspicionsRaised: this.suspicionsRaised, localStalls: this.detector.stalls };
  }

  /** A heartbeat table from a peer. */
  merge(heartbeats: readonly (readonly [number, number])[]): void {
    this.detector.merge(heartbeats, this.ctx.clock.monotonicMs());
  }

  /** The supervisor saw `peer`'s thread end. */
  ended(peer: number): void {
    const now = this.ctx.clock.monotonicMs();
    this.detector.ended(peer, now);
    this.refresh(now);
  }

  /** The supervisor (re)started `peer`. */
  reset(peer: number): void {
    const now = this.ctx.clock.monotonicMs();
    this.detector.reset(peer, now);
    this.refresh(now);
  }

  setMembers(ids: readonly number[]): void {
    const now = this.ctx.clock.monotonicMs();
    this.detector.setMembers(ids, now);
    this.refresh(now);
  }

  /** Every gossipIntervalMs: one round; the down list is reported on change, and every 10 rounds in case a report was missed. */
  round(): void {
    const { clock, transport } = this.ctx;
    const now = clock.monotonicMs();
    this.detector.tick(now);
    const peers = transport.peers().filter((p) => p >= 0);
    if (peers.length > 0) {
      const peer = peers[Math.floor(this.random.next() * peers.length)]!;
      transport.send(peer, { type: MsgType.Gossip, heartbeats: this.detector.heartbeats() });
    }
    const down = this.detector.down(now);
    for (const id of down) if (!this.down.has(id)) this.suspicionsRaised++;
    this.down = new Set(down);
    const key = down.join(',');
    if (key !== this.reportedDown || ++this.rounds % 10 === 0) {
      this.reportedDown = key;
      transport.send(-1, { type: MsgType.MemberView, down });
    }
  }

  private refresh(nowMs: number): void {
    this.down = new Set(this.detector.down(nowMs));
  }
}
