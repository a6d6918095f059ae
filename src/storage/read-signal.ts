/**
 * What an actor publishes, in shared memory, for the front end's direct
 * reads of its LMDB env: whether the env is open (and for which spawn), a
 * counter of writes made visible, and whether it is recovering. Plain
 * Atomics over one SharedArrayBuffer passed in the actor's config, so the
 * front end learns all three without a message.
 */

/** Int32 slots: [spawn generation, generation the env was opened under, visible writes, recovering]. */
const GENERATION = 0;
const OPENED = 1;
const VISIBLE = 2;
const RECOVERING = 3;
const SLOTS = 4;

export const READ_SIGNAL_BYTES = SLOTS * Int32Array.BYTES_PER_ELEMENT;

export function createReadSignal(): SharedArrayBuffer {
  return new SharedArrayBuffer(READ_SIGNAL_BYTES);
}

export class ReadSignal {
  private readonly view: Int32Array;

  constructor(buffer: SharedArrayBuffer) {
    if (buffer.byteLength < READ_SIGNAL_BYTES) throw new RangeError(`a read signal needs ${READ_SIGNAL_BYTES} bytes, got ${buffer.byteLength}`);
    this.view = new Int32Array(buffer, 0, SLOTS);
  }

  // ---- the supervisor's side: before each spawn ----

  /** A new actor thread is about to start: what the previous one published no longer holds. */
  nextGeneration(): void {
    Atomics.add(this.view, GENERATION, 1);
  }

  // ---- the actor's (store's) side ----

  /** The env is open and claimed (recovering already published): the front end may open it too. */
  opened(): void {
    Atomics.store(this.view, OPENED, Atomics.load(this.view, GENERATION));
  }

  /** The env is closing: no new reader may open it. */
  closing(): void {
    Atomics.store(this.view, OPENED, 0);
  }

  /**
   * A write is committed and visible to new read transactions. Called
   * before that write is acknowledged, so a front end that sees the
   * counter unchanged since it renewed its snapshot has every write
   * acknowledged so far. (Int32 wraps; readers compare for inequality.)
   */
  visible(): void {
    Atomics.add(this.view, VISIBLE, 1);
  }

  setRecovering(recovering: boolean): void {
    Atomics.store(this.view, RECOVERING, recovering ? 1 : 0);
  }

  // ---- the front end's side ----

  /** The generation whose env is open now, or 0 when none is (starting, closing, or never started). */
  openGeneration(): number {
    const opened = Atomics.load(this.view, OPENED);
    return opened !== 0 && opened === Atomics.load(this.view, GENERATION) ? opened : 0;
  }

  visibleWrites(): number {
    return Atomics.load(this.view, VISIBLE);
  }

  recovering(): boolean {
    return Atomics.load(this.view, RECOVERING) !== 0;
  }
}
