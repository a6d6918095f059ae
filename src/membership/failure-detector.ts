/**
 * Gossip failure detection, pure (time comes in as an argument). Each actor
 * keeps a heartbeat counter per member: it bumps its own every gossip round
 * and merges the tables its peers send (max wins). This catches what a
 * worker-exit event cannot: a paused (hung) actor and an actor cut off by a
 * partition.
 *
 * A busy actor is not a dead one, so silence is judged against what this
 * observer has seen of each member (accrual, as in Hayashibara et al.'s phi
 * detector and Cassandra's): heartbeat arrivals are modelled as exponential
 * with the mean of the last `windowSize` observed intervals, and a member is
 * suspected once phi = silence / mean × log10(e) passes `phiThreshold`. That
 * is bounded below by `failAfterMs` (nobody is convicted faster) and above by
 * `maxFailAfterMs` (a dead member is always convicted within it, however
 * slow gossip has been).
 *
 * An observer whose own loop stalled (a gossip tick more than `localPauseMs`
 * late: a long GC, a blocked thread, a machine too busy to run it) has not
 * yet read what arrived meanwhile; it convicts nobody new until `graceTicks`
 * on-time ticks later, when the backlog has been read (Cassandra likewise
 * refuses to mark nodes down after a local pause).
 */
export interface MemberState {
  heartbeat: number;
  /** When the heartbeat last advanced (ms, the caller's clock). */
  lastChangeMs: number;
  /** Its thread is known to have ended: down until reset, whatever gossip says. */
  ended: boolean;
  /** The last `windowSize` intervals between advances (ring buffer), and their sum. */
  readonly intervalsMs: Float64Array;
  intervalCount: number;
  intervalNext: number;
  intervalSumMs: number;
  /** The next interval spans this observer's own stall: it says nothing about the member. */
  skipNextInterval: boolean;
}

export interface DetectorOptions {
  /** Nobody is suspected before this much silence. */
  readonly failAfterMs: number;
  /** Anybody is suspected after this much silence, whatever the observed intervals. */
  readonly maxFailAfterMs: number;
  /** Suspicion level (phi) at which a member is suspected. */
  readonly phiThreshold: number;
  /** The mean interval assumed before any was observed (the gossip period). */
  readonly expectedIntervalMs: number;
  /** Intervals kept per member. */
  readonly windowSize: number;
  /** A tick this much later than the previous one means this observer itself stalled. */
  readonly localPauseMs: number;
  /** On-time ticks after a stall before anybody new is suspected. */
  readonly graceTicks: number;
}

/** Defaults derived from the two settings users know: the gossip period and failAfterMs. */
export function detectorOptions(gossipIntervalMs: number, failAfterMs: number, overrides: Partial<DetectorOptions> = {}): DetectorOptions {
  return {
    failAfterMs,
    maxFailAfterMs: 4 * failAfterMs,
    phiThreshold: 3, // silence above ~6.9 observed mean intervals
    expectedIntervalMs: gossipIntervalMs,
    windowSize: 64,
    localPauseMs: Math.max(3 * gossipIntervalMs, Math.floor(failAfterMs / 2)),
    graceTicks: 2,
    ...overrides,
  };
}

const LOG10_E = Math.LOG10E;

export class FailureDetector {
  private readonly members = new Map<number, MemberState>();
  private readonly options: DetectorOptions;
  private lastTickMs: number;
  /** On-time ticks still to come before anybody new may be suspected (0: judging normally). */
  private graceLeft = 0;
  /** Local stalls seen (for stats). */
  stalls = 0;
  /** The members suspected when judging last ran normally: during a grace, nobody outside it is added. */
  private lastVerdict = new Set<number>();

  constructor(
    readonly selfId: number,
    memberIds: readonly number[],
    options: DetectorOptions,
    nowMs: number,
    /** Where our own counter starts: above anything a previous incarnation of this actor sent. */
    initialHeartbeat = 0,
  ) {
    const o = options;
    if (!Number.isFinite(o.failAfterMs) || o.failAfterMs <= 0) throw new RangeError(`failAfterMs must be positive, got ${o.failAfterMs}`);
    if (!(o.maxFailAfterMs >= o.failAfterMs)) throw new RangeError(`maxFailAfterMs (${o.maxFailAfterMs}) must be at least failAfterMs (${o.failAfterMs})`);
    if (!(o.phiThreshold > 0) || !(o.expectedIntervalMs > 0) || !(o.localPauseMs > 0)) throw new RangeError('phiThreshold, expectedIntervalMs and localPauseMs must be positive');
    if (!Number.isInteger(o.windowSize) || o.windowSize < 1 || o.windowSize > 10_000) throw new RangeError(`windowSize must be an integer in 1..10000, got ${o.windowSize}`);
    if (!Number.isInteger(o.graceTicks) || o.graceTicks < 0) throw new RangeError(`graceTicks must be a non-negative integer, got ${o.graceTicks}`);
    this.options = o;
    this.lastTickMs = nowMs;
    for (const id of memberIds) this.members.set(id, this.fresh(0, nowMs));
    this.members.set(selfId, this.fresh(initialHeartbeat, nowMs));
  }

  get failAfterMs(): number {
    return this.options.failAfterMs;
  }

  private fresh(heartbeat: number, nowMs: number): MemberState {
    return { heartbeat, lastChangeMs: nowMs, ended: false, intervalsMs: new Float64Array(this.options.windowSize), intervalCount: 0, intervalNext: 0, intervalSumMs: 0, skipNextInterval: false };
  }

  /** One gossip round: advance our own heartbeat, and notice whether this observer itself stalled. */
  tick(nowMs: number): void {
    const me = this.members.get(this.selfId)!;
    me.heartbeat++;
    me.lastChangeMs = nowMs;
    if (nowMs - this.lastTickMs > this.options.localPauseMs) {
      this.stalls++;
      this.graceLeft = this.options.graceTicks;
      for (const m of this.members.values()) m.skipNextInterval = true;
    } else if (this.graceLeft > 0) {
      this.graceLeft--;
    }
    this.lastTickMs = nowMs;
  }

  /** True while this observer is not judging anybody new (it stalled and has not caught up yet). */
  get inGrace(): boolean {
    return this.graceLeft > 0;
  }

  /** Merge a peer's table; unknown members are ignored (membership changes arrive through the ring). */
  merge(heartbeats: readonly (readonly [number, number])[], nowMs: number): void {
    for (const [id, hb] of heartbeats) {
      if (id === this.selfId) continue;
      const m = this.members.get(id);
      if (m !== undefined && !m.ended && hb > m.heartbeat) {
        m.heartbeat = hb;
        if (m.skipNextInterval) m.skipNextInterval = false;
        else record(m, nowMs - m.lastChangeMs);
        m.lastChangeMs = nowMs;
      }
    }
  }

  /**
   * `id`'s thread ended (the supervisor saw it): down now and until `reset`.
   * Gossip is ignored meanwhile: a peer's table may still carry heartbeats
   * the dead actor sent before it ended, which would look like it advancing.
   */
  ended(id: number, nowMs: number): void {
    const m = this.members.get(id);
    if (m === undefined || id === this.selfId) return;
    m.ended = true;
    m.lastChangeMs = nowMs - this.options.maxFailAfterMs - 1;
  }

  /** Forget a member's history (a restarted actor starts counting again, above its old counter). */
  reset(id: number, nowMs: number): void {
    if (!this.members.has(id) || id === this.selfId) return;
    this.members.set(id, this.fresh(0, nowMs));
    this.lastVerdict.delete(id);
  }

  /** Membership changed: start watching new members (as just heard), stop watching removed ones. */
  setMembers(memberIds: readonly number[], nowMs: number): void {
    for (const id of [...this.members.keys()]) if (id !== this.selfId && !memberIds.includes(id)) this.members.delete(id);
    for (const id of memberIds) if (!this.members.has(id)) this.members.set(id, this.fresh(0, nowMs));
  }

  heartbeats(): [number, number][] {
    return [...this.members].map(([id, m]) => [id, m.heartbeat]);
  }

  /** True when the supervisor said `id`'s thread ended (evidence, not suspicion). */
  hasEnded(id: number): boolean {
    return this.members.get(id)?.ended ?? false;
  }

  /** How suspicious `id`'s silence is now (phi; Infinity once ended, 0 for ourselves or strangers). */
  phi(id: number, nowMs: number): number {
    const m = this.members.get(id);
    if (m === undefined || id === this.selfId) return 0;
    if (m.ended) return Infinity;
    return ((nowMs - m.lastChangeMs) / this.meanIntervalMs(m)) * LOG10_E;
  }

  /** The silence after which `id` is suspected now: phi's bound clamped to [failAfterMs, maxFailAfterMs]. */
  suspectAfterMs(id: number): number {
    const m = this.members.get(id);
    return this.boundMs(m === undefined ? this.options.expectedIntervalMs : this.meanIntervalMs(m));
  }

  private boundMs(meanIntervalMs: number): number {
    const o = this.options;
    return Math.min(o.maxFailAfterMs, Math.max(o.failAfterMs, (o.phiThreshold / LOG10_E) * meanIntervalMs));
  }

  private meanIntervalMs(m: MemberState): number {
    return m.intervalCount === 0 ? this.options.expectedIntervalMs : Math.max(1, m.intervalSumMs / m.intervalCount);
  }

  /**
   * Members (never ourselves) suspected now, sorted: ended, or silent for
   * longer than `suspectAfterMs`. During a grace after a local stall only
   * members already suspected before it (or ended) are.
   */
  down(nowMs: number): number[] {
    const out: number[] = [];
    for (const [id, m] of this.members) {
      if (id === this.selfId) continue;
      const suspected = m.ended || nowMs - m.lastChangeMs > this.boundMs(this.meanIntervalMs(m));
      if (!suspected) continue;
      if (this.graceLeft > 0 && !m.ended && !this.lastVerdict.has(id)) continue;
      out.push(id);
    }
    out.sort((a, b) => a - b);
    if (this.graceLeft === 0) this.lastVerdict = new Set(out);
    return out;
  }
}

function record(m: MemberState, intervalMs: number): void {
  if (m.intervalCount === m.intervalsMs.length) m.intervalSumMs -= m.intervalsMs[m.intervalNext]!;
  else m.intervalCount++;
  m.intervalsMs[m.intervalNext] = intervalMs;
  m.intervalSumMs += intervalMs;
  m.intervalNext = (m.intervalNext + 1) % m.intervalsMs.length;
}

/**
 * The cluster's view from every actor's own view: a member is down when a
 * strict majority of the other live observers see it down. An isolated
 * actor sees everyone else down, but it is one voice; everyone else seeing
 * it down makes it down.
 */
export function clusterView(views: ReadonlyMap<number, readonly number[]>, members: readonly number[]): Set<number> {
  const down = new Set<number>();
  for (const id of members) {
    let votes = 0;
    let voters = 0;
    for (const [observer, seen] of views) {
      if (observer === id) continue;
      voters++;
      if (seen.includes(id)) votes++;
    }
    if (voters > 0 && votes * 2 > voters) down.add(id);
  }
  return down;
}
