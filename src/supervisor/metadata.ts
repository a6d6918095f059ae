import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { LayoutMismatchError } from '../errors.js';
import type { RingMember } from '../ring/ring.js';
import { LAYOUT_VERSION } from '../storage/store.js';

/** What a data directory must remember to come back as the same cluster. */
export interface ClusterMetadata {
  readonly layoutVersion: number;
  readonly n: number;
  readonly vnodes: number;
  readonly lastWriteWins: boolean;
  /** Must stay fixed: lmdb-js can only read values back with the compression they were written with. */
  readonly compressionThresholdBytes: number;
  readonly members: readonly RingMember[];
  readonly nextActorId: number;
  /**
   * The next clock writer id to hand out. Each LMDB env writes its events
   * under a writer id it was given when created; a wiped actor's new env
   * gets a new one, so its fresh events are never mistaken for ones the
   * other replicas already saw (which would silently discard them).
   */
  readonly nextWriterId: number;
  /** Bumped by every membership change. */
  readonly ringVersion?: number;
  /** Set while a membership change runs (the members it moves to); a start that finds it rolls the change back. */
  readonly pending?: { readonly members: readonly RingMember[] } | null;
  /** Set for a node of a multi-node cluster (src/nodes): which node of which cluster this directory is. The ring is etcd's; `members` is the last one seen. */
  readonly node?: NodeIdentity;
}

export interface NodeIdentity {
  readonly cluster: string;
  readonly name: string;
  /** Allocated in etcd, never reused: it makes this node's main-thread id and its writer ids unique. */
  readonly nodeNo: number;
  /** The actors this node runs (allocated in etcd when it first joined). */
  readonly actors: readonly number[];
}

export const METADATA_FILE = 'ringkv.json';

export function actorDataPath(dataDir: string, id: number): string {
  return join(dataDir, 'actors', String(id));
}

export function loadMetadata(dataDir: string): ClusterMetadata | null {
  let text: string;
  try {
    text = readFileSync(join(dataDir, METADATA_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let meta: ClusterMetadata;
  try {
    meta = JSON.parse(text) as ClusterMetadata;
  } catch {
    throw new LayoutMismatchError(`${join(dataDir, METADATA_FILE)} is not valid JSON; refusing to guess the cluster layout`);
  }
  if (meta.layoutVersion !== LAYOUT_VERSION) {
    throw new LayoutMismatchError(
      `${dataDir} was written with layout version ${String(meta.layoutVersion)}; this ringkv reads layout version ${LAYOUT_VERSION}. Use a matching ringkv version or a new data directory.`,
    );
  }
  if (!Array.isArray(meta.members) || meta.members.length === 0 || !Number.isInteger(meta.n) || !Number.isSafeInteger(meta.nextWriterId)) {
    throw new LayoutMismatchError(`${join(dataDir, METADATA_FILE)} is incomplete (members, n or nextWriterId missing)`);
  }
  return meta;
}

/** Atomic replace: write a temp file, fsync it, rename over the old one, fsync the directory. */
export function saveMetadata(dataDir: string, meta: ClusterMetadata): void {
  mkdirSync(dataDir, { recursive: true });
  const tmp = join(dataDir, `${METADATA_FILE}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, JSON.stringify(meta, null, 1));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dataDir, METADATA_FILE));
  const dirFd = openSync(dataDir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
