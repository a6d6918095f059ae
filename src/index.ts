export { Cluster } from './cluster/cluster.js';
export type { PutOptions, DeleteOptions, IncrementOptions, IncrementResult, GetOptions, PutResult, WriteCallback, GetResult, MemberInfo, ReplicaView, RepairReport, MembershipPlan, PlanChange, MembershipResult, CleanupResult } from './cluster/cluster.js';
export type { HeldPeak } from './antientropy/pass-plan.js';
export type { MembershipChange, Transfer } from './membership/plan.js';
export type { ClusterOptions, Consistency } from './cluster/options.js';
export type { Key, Value, JsonValue } from './cluster/values.js';
export type { ActorStats, CleanupReport } from './actor/actor.js';
export type { ReplicaComparison, RangeDigest } from './antientropy/digests.js';
export {
  RingkvError,
  QuorumError,
  ImpossibleQuorumError,
  PairTooLargeError,
  InvalidKeyError,
  InvalidValueError,
  InvalidContextError,
  InvalidOptionError,
  TooManySiblingsError,
  OverloadedError,
  LayoutMismatchError,
  ClusterClosedError,
  UnknownActorError,
  DataDirLockedError,
  NotACounterError,
  CounterOverflowError,
} from './errors.js';
export type { ErrorCode } from './errors.js';
