import type { Random } from '../runtime/services.js';
import type { VirtualTime } from './virtual-time.js';

/**
 * The simulator's network: messages between simulated nodes, delivered in
 * simulated time with the faults a run asks for — loss, delay (and so
 * reordering: each copy draws its own delay), duplication, partitions —
 * every decision drawn from the run's seeded Random, so a seed replays the
 * same deliveries. A node that is down (detached) loses what arrives for it,
 * as a crashed process does.
 */
export interface LinkFaults {
  /** Probability in [0, 1] that a message is lost. */
  readonly dropRate: number;
  /** Probability in [0, 1] that a delivered message arrives twice (each copy with its own delay). */
  readonly duplicateRate: number;
  /** Each delivery takes a delay drawn uniformly from [minDelayMs, maxDelayMs]. */
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
}

export const RELIABLE: LinkFaults = { dropRate: 0, duplicateRate: 0, minDelayMs: 0, maxDelayMs: 0 };

export interface NetworkStats {
  readonly sent: number;
  readonly delivered: number;
  readonly dropped: number;
  readonly duplicated: number;
  /** Lost because the link was cut by a partition, or the receiver was down. */
  readonly cut: number;
}

export class SimNetwork<M> {
  private readonly handlers = new Map<number, (from: number, message: M) => void>();
  private readonly links = new Map<string, LinkFaults>();
  /** Partitioned pairs, as "a>b" in both directions. */
  private readonly cutLinks = new Set<string>();
  private inFlight = 0;
  private counts = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, cut: 0 };

  constructor(
    private readonly time: VirtualTime,
    private readonly random: Random,
    private defaults: LinkFaults = RELIABLE,
    private readonly limits: { maxInFlight: number } = { maxInFlight: 100_000 },
  ) {
    checkFaults(defaults);
  }

  /** Messages sent and not yet delivered (or lost on arrival). */
  get inFlightCount(): number {
    return this.inFlight;
  }

  get stats(): NetworkStats {
    return { ...this.counts };
  }

  /** The node is up: messages to it are delivered to `handler`. */
  attach(id: number, handler: (from: number, message: M) => void): void {
    this.handlers.set(id, handler);
  }

  /** The node is down: what arrives for it from now on is lost. */
  detach(id: number): void {
    this.handlers.delete(id);
  }

  /** Faults of every link without its own. */
  setDefaults(faults: LinkFaults): void {
    checkFaults(faults);
    this.defaults = faults;
  }

  /** Faults of the one link from → to (null: back to the defaults). */
  setLink(from: number, to: number, faults: LinkFaults | null): void {
    if (faults === null) this.links.delete(`${from}>${to}`);
    else {
      checkFaults(faults);
      this.links.set(`${from}>${to}`, faults);
    }
  }

  /** Cut every link between a node of `a` and a node of `b`, both ways. */
  partition(a: readonly number[], b: readonly number[]): void {
    for (const x of a) {
      for (const y of b) {
        if (x === y) throw new RangeError(`node ${x} is on both sides of a partition`);
        this.cutLinks.add(`${x}>${y}`);
        this.cutLinks.add(`${y}>${x}`);
      }
    }
  }

  /** Mend every partition and link fault (messages already lost stay lost). */
  heal(): void {
    this.cutLinks.clear();
    this.links.clear();
    this.defaults = RELIABLE;
  }

  isCut(from: number, to: number): boolean {
    return this.cutLinks.has(`${from}>${to}`);
  }

  send(from: number, to: number, message: M): void {
    this.counts.sent++;
    if (this.cutLinks.has(`${from}>${to}`)) {
      this.counts.cut++;
      return;
    }
    const f = this.links.get(`${from}>${to}`) ?? this.defaults;
    if (this.random.next() < f.dropRate) {
      this.counts.dropped++;
      return;
    }
    const copies = this.random.next() < f.duplicateRate ? 2 : 1;
    if (copies === 2) this.counts.duplicated++;
    for (let i = 0; i < copies; i++) {
      if (this.inFlight >= this.limits.maxInFlight) throw new RangeError(`more than ${this.limits.maxInFlight} simulated messages in flight (maxInFlight)`);
      const delayMs = f.minDelayMs + Math.floor(this.random.next() * (f.maxDelayMs - f.minDelayMs + 1));
      this.inFlight++;
      this.time.at(this.time.monotonicMs() + delayMs, `net ${from}>${to}`, () => this.deliver(from, to, message));
    }
  }

  private deliver(from: number, to: number, message: M): void {
    this.inFlight--;
    const handler = this.handlers.get(to);
    // a partition that began while the message was on its way cuts it too
    if (handler === undefined || this.cutLinks.has(`${from}>${to}`)) {
      this.counts.cut++;
      return;
    }
    this.counts.delivered++;
    handler(from, message);
  }
}

function checkFaults(f: LinkFaults): void {
  for (const rate of [f.dropRate, f.duplicateRate]) if (!(rate >= 0 && rate <= 1)) throw new RangeError(`a fault rate must be within [0, 1], got ${rate}`);
  if (!Number.isInteger(f.minDelayMs) || !Number.isInteger(f.maxDelayMs) || f.minDelayMs < 0 || f.maxDelayMs < f.minDelayMs) {
    throw new RangeError(`delays must be integers with 0 <= minDelayMs <= maxDelayMs, got ${f.minDelayMs}..${f.maxDelayMs}`);
  }
}
