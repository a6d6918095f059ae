import { ByteReader, ByteWriter, CorruptDataError } from '../encoding/bytes.js';
import type { ErrorCode } from '../errors.js';

/**
 * The one typed protocol: every message between the main thread and actors,
 * and between actors, is one of these. A batch on the wire is a sequence of
 * encoded messages in one Uint8Array; decoded byte fields are views into it
 * (no per-value copies: see shared/notes/actor-messaging-costs.md).
 */
export const enum MsgType {
  /** main → coordinator: write (or delete, with kind Tombstone). */
  ClientPut = 1,
  /** main → coordinator: read. */
  ClientGet = 2,
  /** coordinator → main: write acknowledged by W replicas; carries the new context. */
  PutOk = 3,
  /** coordinator → main: reconciled clock (empty = not found). */
  GetOk = 4,
  /** coordinator → main: typed failure. */
  Fail = 5,
  /** coordinator → replica: merge this clock and commit it. */
  Replicate = 6,
  /** replica → coordinator: committed (ok) or failed. */
  ReplicateAck = 7,
  /** coordinator → replica: send your clock for this key. */
  Read = 8,
  ReadReply = 9,
  /** coordinator → stale replica: merge this clock (read repair; no ack). */
  Repair = 10,
  /** main → actor: live keys stored in [fromPosition, toPosition], at most about `limit`. */
  ClientScan = 11,
  /** actor → main: the keys found and where the next scan starts. */
  ScanOk = 12,
  /** actor → random peer: my membership table (heartbeat counters). */
  Gossip = 13,
  /** actor → main: the members this actor currently considers down. */
  MemberView = 14,
  /** main → actor: send what you store for this key, as is, and any hints you hold for it. */
  ClientInspect = 15,
  InspectOk = 16,
  /** coordinator → sloppy substitute: keep this write as a hint for `owner` (acked like Replicate). */
  ReplicateHint = 17,
  /** main → replica (anti-entropy): push your entries in these ranges to these peers, then say how much moved. */
  SyncRanges = 18,
  SyncDone = 19,
  /** main → replica: remove tombstone-only entries in these ranges whose tombstones are all older than cutoffMs. */
  ReapRanges = 20,
  ReapDone = 21,
  /** expiry sweep → every peer: do you hold exactly these entries (by digest)? and how many hints do you hold? */
  ExpiryCheck = 22,
  ExpiryCheckReply = 23,
  /** expiry sweep → replicas: every replica held these expired entries; remove yours if it is still the same. */
  ExpiryReap = 24,
}

export interface ClientPut {
  readonly type: MsgType.ClientPut;
  readonly req: number;
  readonly key: Uint8Array;
  readonly position: number;
  readonly kind: number;
  readonly data: Uint8Array;
  /** Encoded version vector the client read ('' / empty = blind write). */
  readonly context: Uint8Array;
  readonly w: number;
  readonly timeoutMs: number;
  /**
   * Supersede every version the coordinator holds, as if the client had read
   * them: what a put or delete without a context means (a Redis SET or DEL).
   */
  readonly overwrite: boolean;
  /** Refuse sloppy substitutes: only the key's own preference list may acknowledge. */
  readonly strict: boolean;
  /** When the written value expires (wall-clock ms since the epoch); 0: never. */
  readonly expiresAtMs: number;
}
export interface ClientGet {
  readonly type: MsgType.ClientGet;
  readonly req: number;
  readonly key: Uint8Array;
  readonly position: number;
  readonly r: number;
  readonly timeoutMs: number;
}
export interface PutOk {
  readonly type: MsgType.PutOk;
  readonly req: number;
  readonly context: Uint8Array;
  /** The coordinator held a live (not deleted) value for the key when it applied the write (a Redis DEL's count). */
  readonly existed: boolean;
  /** An increment: the encoded counter the coordinator wrote (empty for other writes). */
  readonly counter: Uint8Array;
}
export interface GetOk {
  readonly type: MsgType.GetOk;
  readonly req: number;
  readonly clock: Uint8Array;
}
export interface Fail {
  readonly type: MsgType.Fail;
  readonly req: number;
  readonly code: ErrorCode;
  readonly answered: number;
  readonly needed: number;
  readonly replicas: number;
  readonly detail: string;
}
export interface Replicate {
  readonly type: MsgType.Replicate;
  readonly op: number;
  /** Stored (ring-order) key. */
  readonly key: Uint8Array;
  readonly clock: Uint8Array;
  /** A handoff or anti-entropy entry: the replica commits it in its background lane (ReplicaStore.write). */
  readonly background: boolean;
}
export interface ReplicateAck {
  readonly type: MsgType.ReplicateAck;
  readonly op: number;
  readonly ok: boolean;
}
export interface Read {
  readonly type: MsgType.Read;
  readonly op: number;
  readonly key: Uint8Array;
}
export interface ReadReply {
  readonly type: MsgType.ReadReply;
  readonly op: number;
  readonly ok: boolean;
  readonly clock: Uint8Array;
}
export interface Repair {
  readonly type: MsgType.Repair;
  readonly key: Uint8Array;
  readonly clock: Uint8Array;
}

export interface ClientScan {
  readonly type: MsgType.ClientScan;
  readonly req: number;
  readonly fromPosition: number;
  /** Inclusive. */
  readonly toPosition: number;
  readonly limit: number;
}
export interface ScanOk {
  readonly type: MsgType.ScanOk;
  readonly req: number;
  /** User keys (not ring-prefixed), in ring order. */
  readonly keys: readonly Uint8Array[];
  /** First position not yet scanned (toPosition + 1 when the range is exhausted; may be 2^32). */
  readonly nextPosition: number;
}

export interface Gossip {
  readonly type: MsgType.Gossip;
  /** [actor id, heartbeat counter] pairs. */
  readonly heartbeats: readonly (readonly [number, number])[];
}
export interface MemberView {
  readonly type: MsgType.MemberView;
  readonly down: readonly number[];
}
export interface ClientInspect {
  readonly type: MsgType.ClientInspect;
  readonly req: number;
  readonly key: Uint8Array;
  readonly position: number;
}

export interface InspectOk {
  readonly type: MsgType.InspectOk;
  readonly req: number;
  /** What this actor stores as a replica (empty = nothing). */
  readonly clock: Uint8Array;
  /** Hints it holds for this key: [intended owner, clock]. */
  readonly hints: readonly (readonly [number, Uint8Array])[];
}
export interface ReplicateHint {
  readonly type: MsgType.ReplicateHint;
  readonly op: number;
  readonly key: Uint8Array;
  readonly clock: Uint8Array;
  readonly owner: number;
}

export interface SyncRanges {
  readonly type: MsgType.SyncRanges;
  readonly req: number;
  /** [from, to) position ranges; to may be 2^32. */
  readonly ranges: readonly (readonly [number, number])[];
  readonly peers: readonly number[];
}
export interface SyncDone {
  readonly type: MsgType.SyncDone;
  readonly req: number;
  readonly keys: number;
  readonly bytes: number;
  readonly failed: number;
}
export interface ReapRanges {
  readonly type: MsgType.ReapRanges;
  readonly req: number;
  readonly ranges: readonly (readonly [number, number])[];
  readonly cutoffMs: number;
}
export interface ReapDone {
  readonly type: MsgType.ReapDone;
  readonly req: number;
  readonly reaped: number;
}

/** Entries an expiry sweep asks about, each with its stored bytes' digest (EXPIRY_DIGEST_BYTES per key, in key order). */
export interface ExpiryCheck {
  readonly type: MsgType.ExpiryCheck;
  readonly req: number;
  readonly keys: readonly Uint8Array[];
  readonly digests: Uint8Array;
}
export interface ExpiryCheckReply {
  readonly type: MsgType.ExpiryCheckReply;
  readonly req: number;
  /** One byte per key asked: 1 = this actor holds exactly those bytes. */
  readonly matched: Uint8Array;
  readonly hintsPending: number;
}
export interface ExpiryReap {
  readonly type: MsgType.ExpiryReap;
  readonly keys: readonly Uint8Array[];
  readonly digests: Uint8Array;
  /** Remove an entry only if it is collectable before this wall-clock time (ms). */
  readonly cutoffMs: number;
}
/** Bytes of one entry's digest in ExpiryCheck / ExpiryReap (see actor/expiry-sweep.ts). */
export const EXPIRY_DIGEST_BYTES = 12;

export type Message =
  | ExpiryCheck
  | ExpiryCheckReply
  | ExpiryReap
  | SyncRanges
  | SyncDone
  | ReapRanges
  | ReapDone
  | ClientPut
  | ClientGet
  | PutOk
  | GetOk
  | Fail
  | Replicate
  | ReplicateAck
  | Read
  | ReadReply
  | Repair
  | ClientScan
  | ScanOk
  | Gossip
  | MemberView
  | ClientInspect
  | InspectOk
  | ReplicateHint;

const ERROR_CODES: readonly ErrorCode[] = [
  'QUORUM_NOT_REACHED',
  'IMPOSSIBLE_QUORUM',
  'PAIR_TOO_LARGE',
  'INVALID_KEY',
  'INVALID_VALUE',
  'INVALID_CONTEXT',
  'INVALID_OPTION',
  'TOO_MANY_SIBLINGS',
  'OVERLOADED',
  'LAYOUT_MISMATCH',
  'CLUSTER_CLOSED',
  'UNKNOWN_ACTOR',
  'INTERNAL',
  'NOT_A_COUNTER',
  'COUNTER_OVERFLOW',
  // appended: codes are sent as their index
  'NOT_A_REPLICA',
];

const text = new TextEncoder();
const untext = new TextDecoder();

export function encodeMessage(w: ByteWriter, m: Message): void {
  w.u8(m.type);
  switch (m.type) {
    case MsgType.ClientPut:
      w.varint(m.req).bytes(m.key).u32(m.position).u8(m.kind).bytes(m.data).bytes(m.context).varint(m.w).varint(m.timeoutMs).u8((m.overwrite ? 1 : 0) | (m.strict ? 2 : 0)).varint(m.expiresAtMs);
      return;
    case MsgType.ClientGet:
      w.varint(m.req).bytes(m.key).u32(m.position).varint(m.r).varint(m.timeoutMs);
      return;
    case MsgType.PutOk:
      w.varint(m.req).bytes(m.context).u8(m.existed ? 1 : 0).bytes(m.counter);
      return;
    case MsgType.GetOk:
      w.varint(m.req).bytes(m.clock);
      return;
    case MsgType.Fail:
      w.varint(m.req).u8(ERROR_CODES.indexOf(m.code)).varint(m.answered).varint(m.needed).varint(m.replicas).bytes(text.encode(m.detail));
      return;
    case MsgType.Replicate:
      w.varint(m.op).bytes(m.key).bytes(m.clock).u8(m.background ? 1 : 0);
      return;
    case MsgType.ReplicateAck:
      w.varint(m.op).u8(m.ok ? 1 : 0);
      return;
    case MsgType.Read:
      w.varint(m.op).bytes(m.key);
      return;
    case MsgType.ReadReply:
      w.varint(m.op).u8(m.ok ? 1 : 0).bytes(m.clock);
      return;
    case MsgType.Repair:
      w.bytes(m.key).bytes(m.clock);
      return;
    case MsgType.ClientScan:
      w.varint(m.req).varint(m.fromPosition).varint(m.toPosition).varint(m.limit);
      return;
    case MsgType.ScanOk:
      w.varint(m.req).varint(m.nextPosition).varint(m.keys.length);
      for (const k of m.keys) w.bytes(k);
      return;
    case MsgType.Gossip:
      w.varint(m.heartbeats.length);
      for (const [id, hb] of m.heartbeats) w.varint(id).varint(hb);
      return;
    case MsgType.MemberView:
      w.varint(m.down.length);
      for (const id of m.down) w.varint(id);
      return;
    case MsgType.ClientInspect:
      w.varint(m.req).bytes(m.key).u32(m.position);
      return;
    case MsgType.InspectOk:
      w.varint(m.req).bytes(m.clock).varint(m.hints.length);
      for (const [owner, clock] of m.hints) w.varint(owner).bytes(clock);
      return;
    case MsgType.ReplicateHint:
      w.varint(m.op).bytes(m.key).bytes(m.clock).varint(m.owner);
      return;
    case MsgType.SyncRanges:
      writeRanges(w.varint(m.req), m.ranges);
      w.varint(m.peers.length);
      for (const p of m.peers) w.varint(p);
      return;
    case MsgType.SyncDone:
      w.varint(m.req).varint(m.keys).varint(m.bytes).varint(m.failed);
      return;
    case MsgType.ReapRanges:
      writeRanges(w.varint(m.req), m.ranges);
      w.varint(m.cutoffMs);
      return;
    case MsgType.ReapDone:
      w.varint(m.req).varint(m.reaped);
      return;
    case MsgType.ExpiryCheck:
      writeKeys(w.varint(m.req), m.keys).bytes(m.digests);
      return;
    case MsgType.ExpiryCheckReply:
      w.varint(m.req).bytes(m.matched).varint(m.hintsPending);
      return;
    case MsgType.ExpiryReap:
      writeKeys(w, m.keys).bytes(m.digests).varint(m.cutoffMs);
      return;
  }
}

function writeKeys(w: ByteWriter, keys: readonly Uint8Array[]): ByteWriter {
  w.varint(keys.length);
  for (const k of keys) w.bytes(k);
  return w;
}

function readKeys(r: ByteReader): Uint8Array[] {
  const n = r.varint();
  if (n > r.remaining) throw new CorruptDataError(`claims ${n} keys in ${r.remaining} bytes`);
  const keys: Uint8Array[] = [];
  for (let i = 0; i < n; i++) keys.push(r.bytes());
  return keys;
}

function readDigests(r: ByteReader, keys: number): Uint8Array {
  const digests = r.bytes();
  if (digests.length !== keys * EXPIRY_DIGEST_BYTES) throw new CorruptDataError(`${digests.length} digest bytes for ${keys} keys`);
  return digests;
}

function writeRanges(w: ByteWriter, ranges: readonly (readonly [number, number])[]): void {
  w.varint(ranges.length);
  for (const [from, to] of ranges) w.varint(from).varint(to);
}

function readRanges(r: ByteReader): [number, number][] {
  const n = r.varint();
  if (n > r.remaining) throw new CorruptDataError(`claims ${n} ranges in ${r.remaining} bytes`);
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) out.push([r.varint(), r.varint()]);
  return out;
}

function flag(byte: number, name: string): boolean {
  if (byte > 1) throw new CorruptDataError(`${name} flag is ${byte}, not 0 or 1`);
  return byte === 1;
}

function putFlags(bits: number): { overwrite: boolean; strict: boolean } {
  if (bits > 3) throw new CorruptDataError(`unknown put flags ${bits}`);
  return { overwrite: (bits & 1) !== 0, strict: (bits & 2) !== 0 };
}

function decodeOne(r: ByteReader): Message {
  const type = r.u8();
  switch (type) {
    case MsgType.ClientPut:
      return { type, req: r.varint(), key: r.bytes(), position: r.u32(), kind: r.u8(), data: r.bytes(), context: r.bytes(), w: r.varint(), timeoutMs: r.varint(), ...putFlags(r.u8()), expiresAtMs: r.varint() };
    case MsgType.ClientGet:
      return { type, req: r.varint(), key: r.bytes(), position: r.u32(), r: r.varint(), timeoutMs: r.varint() };
    case MsgType.PutOk:
      return { type, req: r.varint(), context: r.bytes(), existed: flag(r.u8(), 'existed'), counter: r.bytes() };
    case MsgType.GetOk:
      return { type, req: r.varint(), clock: r.bytes() };
    case MsgType.Fail: {
      const req = r.varint();
      const code = ERROR_CODES[r.u8()];
      if (code === undefined) throw new CorruptDataError('unknown error code');
      return { type, req, code, answered: r.varint(), needed: r.varint(), replicas: r.varint(), detail: untext.decode(r.bytes()) };
    }
    case MsgType.Replicate:
      return { type, op: r.varint(), key: r.bytes(), clock: r.bytes(), background: r.u8() === 1 };
    case MsgType.ReplicateAck:
      return { type, op: r.varint(), ok: r.u8() === 1 };
    case MsgType.Read:
      return { type, op: r.varint(), key: r.bytes() };
    case MsgType.ReadReply:
      return { type, op: r.varint(), ok: r.u8() === 1, clock: r.bytes() };
    case MsgType.Repair:
      return { type, key: r.bytes(), clock: r.bytes() };
    case MsgType.ClientScan:
      return { type, req: r.varint(), fromPosition: r.varint(), toPosition: r.varint(), limit: r.varint() };
    case MsgType.ScanOk: {
      const req = r.varint();
      const nextPosition = r.varint();
      const n = r.varint();
      if (n > r.remaining) throw new CorruptDataError(`scan reply claims ${n} keys in ${r.remaining} bytes`);
      const keys: Uint8Array[] = [];
      for (let i = 0; i < n; i++) keys.push(r.bytes());
      return { type, req, keys, nextPosition };
    }
    case MsgType.Gossip: {
      const n = r.varint();
      if (n > r.remaining) throw new CorruptDataError(`gossip claims ${n} members in ${r.remaining} bytes`);
      const heartbeats: [number, number][] = [];
      for (let i = 0; i < n; i++) heartbeats.push([r.varint(), r.varint()]);
      return { type, heartbeats };
    }
    case MsgType.MemberView: {
      const n = r.varint();
      if (n > r.remaining) throw new CorruptDataError(`member view claims ${n} members in ${r.remaining} bytes`);
      const down: number[] = [];
      for (let i = 0; i < n; i++) down.push(r.varint());
      return { type, down };
    }
    case MsgType.ClientInspect:
      return { type, req: r.varint(), key: r.bytes(), position: r.u32() };
    case MsgType.InspectOk: {
      const req = r.varint();
      const clock = r.bytes();
      const n = r.varint();
      if (n > r.remaining) throw new CorruptDataError(`inspect reply claims ${n} hints in ${r.remaining} bytes`);
      const hints: [number, Uint8Array][] = [];
      for (let i = 0; i < n; i++) hints.push([r.varint(), r.bytes()]);
      return { type, req, clock, hints };
    }
    case MsgType.ReplicateHint:
      return { type, op: r.varint(), key: r.bytes(), clock: r.bytes(), owner: r.varint() };
    case MsgType.SyncRanges: {
      const req = r.varint();
      const ranges = readRanges(r);
      const n = r.varint();
      if (n > r.remaining) throw new CorruptDataError(`sync claims ${n} peers in ${r.remaining} bytes`);
      const peers: number[] = [];
      for (let i = 0; i < n; i++) peers.push(r.varint());
      return { type, req, ranges, peers };
    }
    case MsgType.SyncDone:
      return { type, req: r.varint(), keys: r.varint(), bytes: r.varint(), failed: r.varint() };
    case MsgType.ReapRanges:
      return { type, req: r.varint(), ranges: readRanges(r), cutoffMs: r.varint() };
    case MsgType.ReapDone:
      return { type, req: r.varint(), reaped: r.varint() };
    case MsgType.ExpiryCheck: {
      const req = r.varint();
      const keys = readKeys(r);
      return { type, req, keys, digests: readDigests(r, keys.length) };
    }
    case MsgType.ExpiryCheckReply:
      return { type, req: r.varint(), matched: r.bytes(), hintsPending: r.varint() };
    case MsgType.ExpiryReap: {
      const keys = readKeys(r);
      return { type, keys, digests: readDigests(r, keys.length), cutoffMs: r.varint() };
    }
    default:
      throw new CorruptDataError(`unknown message type ${type}`);
  }
}

/** Decode a whole batch; throws CorruptDataError (the link is then broken: fail loudly). */
export function decodeBatch(batch: Uint8Array, onMessage: (m: Message) => void): number {
  const r = new ByteReader(batch);
  let count = 0;
  while (r.remaining > 0) {
    onMessage(decodeOne(r));
    count++;
  }
  return count;
}
