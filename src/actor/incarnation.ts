import assert from 'node:assert/strict';

/**
 * Correlation numbers (the ops of Replicate/Read and their acks, the expiry
 * sweep's checks) that no other run of the same actor ever uses. A restarted
 * actor used to count from 1 again, so an ack a peer sent to its previous run
 * — delayed by the network, or sent on the new link after the restart —
 * matched a new request of the same number: a put counted a replica that
 * never had it toward W, and an expiry check applied another check's answers
 * to its keys (the simulator found both: `ringkv sim --seed 3 --faults
 * pause` before this change). Each run takes its own block of 2^32 numbers,
 * named by the writer id the supervisor allocates for every spawn (never
 * handed out twice).
 */
export const NUMBERS_PER_RUN = 2 ** 32;

/** The most runs an actor id space holds before numbers would pass 2^53 (the wire's varint limit). */
const MAX_RUNS = Math.floor(Number.MAX_SAFE_INTEGER / NUMBERS_PER_RUN);

export class RunNumbers {
  private next: number;
  private readonly end: number;

  /** `run`: the spawn's fresh writer id (ActorConfig.freshWriterId); 0 is kept for numbers that match nothing. */
  constructor(run: number) {
    assert(Number.isSafeInteger(run) && run >= 0 && run < MAX_RUNS, `a run number must be an integer in 0..${MAX_RUNS - 1}, got ${run}`);
    this.next = run * NUMBERS_PER_RUN + 1;
    this.end = (run + 1) * NUMBERS_PER_RUN;
  }

  take(): number {
    assert(this.next < this.end, 'this run used all 2^32 of its correlation numbers');
    return this.next++;
  }
}
