// What a data directory's lock file says, and whether its holder is gone.
// Pure: the facts about the machine come in as arguments (data-dir-lock.ts
// gathers them), so every case can be tested without processes or files.

/** The content of a lock file: who holds the directory. */
export interface LockRecord {
  readonly pid: number;
  /**
   * The holder's start time as the kernel reports it (/proc/<pid>/stat field
   * 22, clock ticks since boot), or null where there is no /proc. With the
   * pid it names one process: a later process that reuses the pid has
   * another start time.
   */
  readonly startTime: string | null;
  /** /proc/sys/kernel/random/boot_id: a reboot restarts pids and start times. */
  readonly bootId: string | null;
  readonly hostname: string;
  /** Random, per lock taken: tells this lock from a later one with the same pid. */
  readonly token: string;
  /** When it was taken (ISO 8601), for people reading the file or an error. */
  readonly acquiredAt: string;
}

export function formatLockRecord(r: LockRecord): string {
  return `${JSON.stringify(r)}\n`;
}

/** The record, or null when the text is not one (empty, cut short, edited). */
export function parseLockRecord(text: string): LockRecord | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object') return null;
  const r = v as Record<string, unknown>;
  const nullableString = (x: unknown): boolean => x === null || typeof x === 'string';
  // pid 0 and negative pids would make a liveness probe signal a process group
  if (!Number.isSafeInteger(r.pid) || (r.pid as number) < 1) return null;
  if (!nullableString(r.startTime) || !nullableString(r.bootId)) return null;
  if (typeof r.hostname !== 'string' || typeof r.token !== 'string' || r.token === '' || typeof r.acquiredAt !== 'string') return null;
  return { pid: r.pid as number, startTime: r.startTime as string | null, bootId: r.bootId as string | null, hostname: r.hostname, token: r.token, acquiredAt: r.acquiredAt };
}

/** What the process judging a lock knows about itself and about the pid the lock names. */
export interface LockFacts {
  readonly self: { readonly pid: number; readonly startTime: string | null; readonly hostname: string; readonly bootId: string | null };
  /** This process holds a lock with the record's token (an open Cluster here). */
  readonly heldHere: boolean;
  /** What this machine says about the record's pid now. */
  readonly holder: {
    /** A signal 0 reached it (EPERM counts: it exists, it is someone else's). */
    readonly exists: boolean;
    /** It has exited and waits to be reaped: it holds nothing any more. */
    readonly zombie: boolean;
    /** Its start time now, or null when unknown (no /proc, or it is gone). */
    readonly startTime: string | null;
  };
  /** Since the lock file was last modified. */
  readonly fileAgeMs: number;
}

/**
 * A lock file that cannot be parsed is not taken over before it is this old.
 * ringkv writes lock files atomically (temp file + link), so an unreadable
 * one is most likely left by a crash before the content reached the disk,
 * or written by the non-atomic fallback (filesystems without hard links)
 * that a live process is still finishing: give that writer time.
 */
export const UNREADABLE_LOCK_GRACE_MS = 5000;

export type LockVerdict =
  | { readonly stale: false; readonly why: 'held-here' | 'alive' | 'other-host' | 'unreadable-recent' }
  | { readonly stale: true; readonly why: 'unreadable-old' | 'rebooted' | 'gone' | 'zombie' | 'pid-reused' | 'own-pid' };

/**
 * Is the lock described by `record` (null: the file could not be parsed)
 * stale, i.e. may another process take it over? When in doubt, no: a lock
 * wrongly taken over means two processes writing one directory; a lock
 * wrongly kept costs an error message that says what to do.
 */
export function judgeLock(record: LockRecord | null, facts: LockFacts): LockVerdict {
  if (record === null) return facts.fileAgeMs >= UNREADABLE_LOCK_GRACE_MS ? { stale: true, why: 'unreadable-old' } : { stale: false, why: 'unreadable-recent' };
  // pids and /proc mean nothing across machines (a directory on shared
  // storage, or a container with another hostname): we cannot tell.
  if (record.hostname !== facts.self.hostname) return { stale: false, why: 'other-host' };
  if (record.bootId !== null && facts.self.bootId !== null && record.bootId !== facts.self.bootId) return { stale: true, why: 'rebooted' };
  if (record.pid === facts.self.pid) {
    // Our own pid. With our own start time it is this process: a Cluster in
    // another worker thread or another copy of this module, which the token
    // registry (one per module instance) does not see. Otherwise it is ours
    // only if the registry has it; else an earlier process had our pid (a
    // restarted container's pid 1, say).
    const thisProcess = facts.heldHere || (record.startTime !== null && record.startTime === facts.self.startTime);
    return thisProcess ? { stale: false, why: 'held-here' } : { stale: true, why: 'own-pid' };
  }
  if (!facts.holder.exists) return { stale: true, why: 'gone' };
  if (facts.holder.zombie) return { stale: true, why: 'zombie' };
  if (record.startTime !== null && facts.holder.startTime !== null && record.startTime !== facts.holder.startTime) return { stale: true, why: 'pid-reused' };
  return { stale: false, why: 'alive' };
}
