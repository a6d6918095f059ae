/**
 * Time and chance, injected. Actor code never calls Date.now(),
 * setTimeout or Math.random() directly, so a seeded simulation with virtual
 * time can run the same code (DESIGN: "time and chance are injected").
 */
export interface Clock {
  /** Milliseconds since the epoch (wall clock for LWW timestamps). */
  now(): number;
  /** Monotonic milliseconds for deadlines and intervals. */
  monotonicMs(): number;
}

export interface Timers {
  setInterval(fn: () => void, ms: number): { cancel(): void };
  setTimeout(fn: () => void, ms: number): { cancel(): void };
  /** Run `fn` after the current batch of I/O callbacks (used to coalesce sends per tick). */
  setImmediate(fn: () => void): void;
}

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonicMs: () => performance.now(),
};

export const systemTimers: Timers = {
  setInterval(fn, ms) {
    const h = setInterval(fn, ms);
    h.unref();
    return { cancel: () => clearInterval(h) };
  },
  setTimeout(fn, ms) {
    const h = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(h) };
  },
  setImmediate(fn) {
    setImmediate(fn);
  },
};

/** A seeded PRNG (mulberry32): reproducible runs from a seed. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return {
    next() {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

export const systemRandom: Random = { next: () => Math.random() };

/** tsyringe tokens: each thread registers its implementations under these. */
export const TOKENS = {
  clock: Symbol.for('ringkv.Clock'),
  timers: Symbol.for('ringkv.Timers'),
  random: Symbol.for('ringkv.Random'),
  store: Symbol.for('ringkv.ActorStore'),
  transport: Symbol.for('ringkv.Transport'),
  actorConfig: Symbol.for('ringkv.ActorConfig'),
} as const;
