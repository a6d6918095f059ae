/**
 * Every error ringkv raises on purpose. Each has a stable `code` (also used on
 * the wire between actors and the main thread, and by the server front ends)
 * so callers can branch on type without parsing messages.
 */
export type ErrorCode =
  | 'QUORUM_NOT_REACHED'
  | 'IMPOSSIBLE_QUORUM'
  | 'PAIR_TOO_LARGE'
  | 'INVALID_KEY'
  | 'INVALID_VALUE'
  | 'INVALID_CONTEXT'
  | 'INVALID_OPTION'
  | 'TOO_MANY_SIBLINGS'
  | 'OVERLOADED'
  | 'LAYOUT_MISMATCH'
  | 'CLUSTER_CLOSED'
  | 'UNKNOWN_ACTOR'
  | 'DATA_DIR_LOCKED'
  | 'NOT_A_COUNTER'
  | 'COUNTER_OVERFLOW'
  | 'NOT_A_REPLICA'
  | 'INTERNAL';

export class RingkvError extends Error {
  override readonly name: string = 'RingkvError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A request could not collect its R replies / W acks before its deadline. */
export class QuorumError extends RingkvError {
  override readonly name = 'QuorumError';
  constructor(
    readonly operation: 'get' | 'put' | 'delete' | 'increment' | 'scan' | 'repair',
    /** Replicas that answered (acked a write, or returned a read) in time. */
    readonly answered: number,
    /** Replies the request needed (its R or W). */
    readonly needed: number,
    /** Replicas asked. */
    readonly replicas: number,
    reason = 'deadline passed',
  ) {
    super('QUORUM_NOT_REACHED', `${operation}: quorum not reached: ${answered} of ${needed} needed replicas answered (${replicas} asked; ${reason})`);
  }
}

/** r > n, w > n, fewer actors than n, or a level/number that makes no sense. */
export class ImpossibleQuorumError extends RingkvError {
  override readonly name = 'ImpossibleQuorumError';
  constructor(message: string) {
    super('IMPOSSIBLE_QUORUM', message);
  }
}

export class PairTooLargeError extends RingkvError {
  override readonly name = 'PairTooLargeError';
  constructor(
    readonly pairBytes: number,
    readonly maxPairBytes: number,
  ) {
    super('PAIR_TOO_LARGE', `key + value is ${pairBytes} bytes, over the limit of ${maxPairBytes} bytes (maxPairBytes); nothing was written`);
  }
}

export class InvalidKeyError extends RingkvError {
  override readonly name = 'InvalidKeyError';
  constructor(message: string) {
    super('INVALID_KEY', message);
  }
}

export class InvalidValueError extends RingkvError {
  override readonly name = 'InvalidValueError';
  constructor(message: string) {
    super('INVALID_VALUE', message);
  }
}

export class InvalidContextError extends RingkvError {
  override readonly name = 'InvalidContextError';
  constructor(message: string) {
    super('INVALID_CONTEXT', message);
  }
}

export class InvalidOptionError extends RingkvError {
  override readonly name = 'InvalidOptionError';
  constructor(message: string) {
    super('INVALID_OPTION', message);
  }
}

/** The write would leave more concurrent siblings than maxSiblings: resolve them first. */
export class TooManySiblingsError extends RingkvError {
  override readonly name = 'TooManySiblingsError';
  constructor(
    readonly siblings: number,
    readonly maxSiblings: number,
  ) {
    super('TOO_MANY_SIBLINGS', `write refused: it would leave ${siblings} siblings (maxSiblings ${maxSiblings}); read the key and write with its context to resolve them`);
  }
}

export class OverloadedError extends RingkvError {
  override readonly name = 'OverloadedError';
  constructor(message: string) {
    super('OVERLOADED', message);
  }
}

export class LayoutMismatchError extends RingkvError {
  override readonly name = 'LayoutMismatchError';
  constructor(message: string) {
    super('LAYOUT_MISMATCH', message);
  }
}

export class ClusterClosedError extends RingkvError {
  override readonly name = 'ClusterClosedError';
  constructor() {
    super('CLUSTER_CLOSED', 'the cluster is closed');
  }
}

export class UnknownActorError extends RingkvError {
  override readonly name = 'UnknownActorError';
  constructor(id: unknown) {
    super('UNKNOWN_ACTOR', `no actor ${String(id)} in this cluster`);
  }
}

/**
 * Another process (or another open Cluster in this one) holds the data
 * directory's lock. Nothing was written to the directory.
 */
export class DataDirLockedError extends RingkvError {
  override readonly name = 'DataDirLockedError';
  constructor(
    readonly dataDir: string,
    /** The holder's process id; null when its lock file cannot be read (being written, or damaged). */
    readonly holderPid: number | null,
    /** Why the holder is taken to be alive, and what to do about it (one line). */
    detail: string,
  ) {
    super('DATA_DIR_LOCKED', `data directory ${dataDir} is locked${holderPid === null ? '' : ` by pid ${holderPid}`}: ${detail}`);
  }
}

/**
 * An increment met a value that is neither a counter nor a number in the
 * form the increment needs. The message is Redis's own text (a RESP client
 * sees `ERR value is not an integer or out of range` / `ERR value is not a
 * valid float`). Nothing was written.
 */
export class NotACounterError extends RingkvError {
  override readonly name = 'NotACounterError';
  constructor(readonly integer: boolean) {
    super('NOT_A_COUNTER', integer ? 'value is not an integer or out of range' : 'value is not a valid float');
  }
}

/**
 * An increment would take a counter (or one writer's running total) outside
 * ±(2^53−1) for INCR, or to an infinite value for INCRBYFLOAT; Redis's text.
 * Nothing was written.
 */
export class CounterOverflowError extends RingkvError {
  override readonly name = 'CounterOverflowError';
  constructor(readonly integer: boolean) {
    super('COUNTER_OVERFLOW', integer ? 'increment or decrement would overflow' : 'increment would produce NaN or Infinity');
  }
}
