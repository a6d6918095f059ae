/**
 * Gossip failure detection, pure (time comes in as an argument). Each actor
 * keeps a heartbeat counter per member: it bumps its own every gossip round
 * and merges the tables its peers send (max wins). A member whose counter
 * has not advanced for `failAfterMs` is considered down, and up again as
 * soon as it advances. This catches what a worker-exit event cannot: a
 * paused (hung) actor and an actor cut off by a partition.
 */
export interface MemberState {
  heartbeat: number;
  /** When the heartbeat last advanced (ms, the caller's clock). */
  lastChangeMs: number;
  /** Its thread is known to have ended: down until reset, whatever gossip says. */
  ended: boolean;
}

export class FailureDetector {
  private readonly members = new Map<number, MemberState>();

  constructor(
    readonly selfId: number,
    memberIds: readonly number[],
    readonly failAfterMs: number,
    nowMs: number,
    /** Where our own counter starts: above anything a previous incarnation of this actor sent. */
    initialHeartbeat = 0,
  ) {
    if (!Number.isFinite(failAfterMs) || failAfterMs <= 0) throw new RangeError(`failAfterMs must be positive, got ${failAfterMs}`);
    for (const id of memberIds) this.members.set(id, { heartbeat: 0, lastChangeMs: nowMs, ended: false });
    this.members.set(selfId, { heartbeat: initialHeartbeat, lastChangeMs: nowMs, ended: false });
  }

  /** One gossip round: advance our own heartbeat. */
  tick(nowMs: number): void {
    const me = this.members.get(this.selfId)!;
    me.heartbeat++;
    me.lastChangeMs = nowMs;
  }

  /** Merge a peer's table; unknown members are ignored (membership changes arrive through the ring). */
  merge(heartbeats: readonly (readonly [number, number])[], nowMs: number): void {
    for (const [id, hb] of heartbeats) {
      if (id === this.selfId) continue;
      const m = this.members.get(id);
      if (m !== undefined && !m.ended && hb > m.heartbeat) {
        m.heartbeat = hb;
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
    m.lastChangeMs = nowMs - this.failAfterMs - 1;
  }

  /** Forget a member's history (a restarted actor starts counting again, above its old counter). */
  reset(id: number, nowMs: number): void {
    const m = this.members.get(id);
    if (m !== undefined) {
      m.heartbeat = 0;
      m.lastChangeMs = nowMs;
      m.ended = false;
    }
  }

  /** Membership changed: start watching new members (as just heard), stop watching removed ones. */
  setMembers(memberIds: readonly number[], nowMs: number): void {
    for (const id of [...this.members.keys()]) if (id !== this.selfId && !memberIds.includes(id)) this.members.delete(id);
    for (const id of memberIds) if (!this.members.has(id)) this.members.set(id, { heartbeat: 0, lastChangeMs: nowMs, ended: false });
  }

  heartbeats(): [number, number][] {
    return [...this.members].map(([id, m]) => [id, m.heartbeat]);
  }

  /** Members (never ourselves) whose heartbeat has been still for failAfterMs, sorted. */
  down(nowMs: number): number[] {
    const out: number[] = [];
    for (const [id, m] of this.members) if (id !== this.selfId && (m.ended || nowMs - m.lastChangeMs > this.failAfterMs)) out.push(id);
    return out.sort((a, b) => a - b);
  }
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
