import type { Random } from '../runtime/services.js';
import type { SimCluster } from './sim-cluster.js';

export type SimFault = 'crash' | 'wipe' | 'pause' | 'partition' | 'loss' | 'delay' | 'duplicate';
export const SIM_FAULTS: readonly SimFault[] = Object.freeze(['crash', 'wipe', 'pause', 'partition', 'loss', 'delay', 'duplicate'] as const);

export interface NemesisOptions {
  readonly faults: readonly SimFault[];
  /** A new fault begins every 0..2×meanGapMs; each lasts 0..maxFaultMs. */
  readonly meanGapMs: number;
  readonly maxFaultMs: number;
}

/**
 * The fault schedule, drawn from the seed as the run goes: crashes (the
 * disk kept) and restarts, at most one wipe a run (the disk lost: two wiped
 * replicas of a key before a repair is data loss no store survives),
 * pauses (a frozen thread: nothing runs on it, messages wait), partitions,
 * and lossy, slow or duplicating links between actors. Every
 * fault ends by itself; `stop()` ends them all (the heal before the check).
 */
export class Nemesis {
  private running = true;
  private wipes = 0;
  private readonly pendingEnds = new Map<number, () => void>();
  private nextEnd = 0;
  readonly log: string[] = [];

  constructor(
    private readonly cluster: SimCluster,
    private readonly random: Random,
    private readonly options: NemesisOptions,
  ) {}

  start(): void {
    if (this.options.faults.length > 0) this.schedule();
  }

  /** Heal: every fault still on ends now, and no new one begins. */
  stop(): void {
    this.running = false;
    for (const end of [...this.pendingEnds.values()]) end();
    this.pendingEnds.clear();
    this.cluster.net.heal();
  }

  private schedule(): void {
    const gap = Math.floor(this.random.next() * 2 * this.options.meanGapMs);
    this.cluster.time.setTimeout(() => {
      if (!this.running) return;
      this.inject(this.options.faults[Math.floor(this.random.next() * this.options.faults.length)]!);
      this.schedule();
    }, gap);
  }

  private inject(fault: SimFault): void {
    const c = this.cluster;
    const ids = c.ids;
    const durationMs = 1 + Math.floor(this.random.next() * this.options.maxFaultMs);
    const victim = ids[Math.floor(this.random.next() * ids.length)]!;
    switch (fault) {
      case 'wipe':
      case 'crash': {
        const wipe = fault === 'wipe' && this.wipes === 0 && c.wiped.size === 0;
        if (!c.isUp(victim)) return;
        if (wipe) this.wipes++;
        c.crash(victim, wipe);
        this.note(`${wipe ? 'wipe' : 'crash'} ${victim} for ${durationMs} ms`);
        return this.until(durationMs, () => c.restart(victim));
      }
      case 'pause':
        // long enough, often, for the others' failure detectors to suspect it (failAfterMs is 1 s)
        c.freeze(victim, durationMs * 2);
        return this.note(`pause ${victim} for ${durationMs * 2} ms`);
      case 'partition': {
        const side = ids.filter(() => this.random.next() < 0.5);
        const other = ids.filter((id) => !side.includes(id));
        if (side.length === 0 || other.length === 0) return;
        c.net.partition(side, other);
        this.note(`partition [${side.join(',')}] | [${other.join(',')}] for ${durationMs} ms`);
        return this.until(durationMs, () => c.net.heal());
      }
      case 'loss':
      case 'delay':
      case 'duplicate': {
        const faults = {
          dropRate: fault === 'loss' ? 0.05 + this.random.next() * 0.3 : 0,
          duplicateRate: fault === 'duplicate' ? 0.05 + this.random.next() * 0.3 : 0,
          minDelayMs: 0,
          maxDelayMs: fault === 'delay' ? 1 + Math.floor(this.random.next() * 200) : 0,
        };
        // actor-to-actor links only: the front end's links are in-process channels, never faulted
        for (const peer of ids) if (peer !== victim) c.net.setLink(victim, peer, faults);
        this.note(`${fault} on links from ${victim} for ${durationMs} ms`);
        return this.until(durationMs, () => {
          for (const peer of ids) if (peer !== victim) c.net.setLink(victim, peer, null);
        });
      }
    }
  }

  private note(what: string): void {
    this.log.push(`${this.cluster.time.monotonicMs()} ms: ${what}`);
    this.cluster.time.record(what);
  }

  private until(ms: number, end: () => void): void {
    const id = this.nextEnd++;
    const run = (): void => {
      if (!this.pendingEnds.delete(id)) return;
      end();
    };
    this.pendingEnds.set(id, run);
    this.cluster.time.setTimeout(run, ms);
  }
}
