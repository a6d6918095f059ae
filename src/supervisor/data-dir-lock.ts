// One owner per data directory: a lock file, `ringkv.lock`, naming the
// process that has the directory open. This module does the file I/O and
// gathers the facts; lock-record.ts decides whether a lock is stale.
//
// Taking the lock:
// - a lock file appears whole or not at all: the record is written to a
//   temp file and hard-linked into place, and link() fails if a lock exists;
// - a live holder's lock is refused before anything is written;
// - a stale lock (its process is gone) is removed by one process at a time:
//   the remover first claims a guard file named after that stale lock (by
//   the same rules, so a guard left by a crash is stale in turn), checks
//   that the lock file is still the stale one, and only then unlinks it.
//   Then everyone races on link() again and exactly one wins.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fstatSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { DataDirLockedError } from '../errors.js';
import { formatLockRecord, judgeLock, parseLockRecord, UNREADABLE_LOCK_GRACE_MS, type LockFacts, type LockRecord, type LockVerdict } from './lock-record.js';

export const LOCK_FILE = 'ringkv.lock';

/**
 * Tokens of the locks this thread holds: how a second Cluster.start here sees
 * the first. On globalThis so that two copies of ringkv loaded in one
 * program share it (where /proc gives no start time, it is all there is).
 */
const heldTokens: Set<string> = ((globalThis as Record<symbol, unknown>)[Symbol.for('ringkv.heldDataDirLocks')] ??= new Set<string>()) as Set<string>;

/** Rounds of read, judge, take over before giving up (each round needs another process to win a race). */
const MAX_ATTEMPTS = 20;
/** Guards on guards: each level needs a crash in the middle of a takeover. */
const MAX_TAKEOVER_DEPTH = 3;
/** Temp and guard files older than this, found by a new holder, are leftovers of crashes. */
const LEFTOVER_AGE_MS = 60_000;

/** Filesystems without hard links (some FUSE, SMB, FAT mounts) get a plain exclusive create instead. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV']);

export class DataDirLock {
  private released = false;

  private constructor(
    readonly dataDir: string,
    private readonly path: string,
    private readonly token: string,
    /** The topmost directory this acquire created (dataDir or a parent), if it created any. */
    private readonly createdDir: string | undefined,
  ) {}

  /**
   * Take `dataDir`'s lock, creating the directory if it does not exist.
   * Throws DataDirLockedError, having written nothing, while another
   * process (or another open Cluster in this one) holds it.
   */
  static acquire(dataDir: string): DataDirLock {
    const createdDir = mkdirSync(dataDir, { recursive: true });
    const path = join(dataDir, LOCK_FILE);
    const record = ownRecord();
    try {
      claim(dataDir, path, record, 0);
    } catch (err) {
      // only removes directories still empty: a racer's lock inside keeps them
      if (createdDir !== undefined) removeEmptyDirs(dataDir, createdDir);
      throw err;
    }
    heldTokens.add(record.token);
    removeLeftovers(dataDir);
    return new DataDirLock(dataDir, path, record.token, createdDir);
  }

  /** Let the next process in (idempotent). */
  release(): void {
    if (this.released) return;
    this.released = true;
    try {
      unlinkIfHeldBy(this.path, this.token);
    } finally {
      heldTokens.delete(this.token);
    }
  }

  /**
   * A start failed: remove the directory if this start created it (the lock
   * kept everyone else out, so all in it is this start's), else just release.
   */
  abandon(): void {
    if (this.released) return;
    if (this.createdDir === undefined) return this.release();
    try {
      removeContentsExceptLock(this.dataDir);
    } finally {
      this.release();
    }
    removeEmptyDirs(this.dataDir, this.createdDir);
  }
}

/**
 * Delete a data directory that no process holds (Cluster.destroy). Throws
 * DataDirLockedError if one does, this process included.
 */
export function destroyDataDir(dataDir: string): void {
  if (!existsSync(dataDir)) return;
  const lock = DataDirLock.acquire(dataDir);
  try {
    removeContentsExceptLock(dataDir);
  } finally {
    lock.release();
  }
  // a start that got in after the release keeps the directory (not empty then)
  removeEmptyDirs(dataDir, dataDir);
}

interface FoundLock {
  /** null: the file is not a lock record. */
  readonly record: LockRecord | null;
  readonly raw: string;
  readonly ino: number;
  readonly ageMs: number;
}

/** Make `path` hold `record`, removing a stale lock in the way; throws DataDirLockedError while a live one holds it. */
function claim(dataDir: string, path: string, record: LockRecord, depth: number): void {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const found = readLock(path);
    if (found === null) {
      if (place(path, record)) return;
      continue; // another process placed its lock first: judge that one
    }
    const verdict = judgeLock(found.record, factsAbout(found));
    if (!verdict.stale) throw lockedError(dataDir, path, found, verdict);
    removeStale(dataDir, path, found, record, depth);
  }
  throw new DataDirLockedError(dataDir, null, `${path} kept changing while this process tried to take it (other processes are starting on this directory); try again`);
}

/** Unlink the stale lock `stale` at `path`, unless another process replaced it already. */
function removeStale(dataDir: string, path: string, stale: FoundLock, record: LockRecord, depth: number): void {
  if (depth >= MAX_TAKEOVER_DEPTH) {
    throw new DataDirLockedError(dataDir, stale.record?.pid ?? null, `crashes while taking over its lock left ${path}.* files; if no ringkv process uses this directory, delete them`);
  }
  // Every process removing this stale lock claims the same guard, so they take turns.
  const guard = `${path}.takeover-${stale.record?.token ?? `ino${stale.ino}`}`;
  claim(dataDir, guard, record, depth + 1);
  try {
    // Only guard holders unlink a stale lock and its own (dead) holder never
    // will, so if it is still there it stays there until we unlink it.
    const now = readLock(path);
    if (now !== null && now.ino === stale.ino && now.raw === stale.raw) unlinkSync(path);
  } finally {
    unlinkIfHeldBy(guard, record.token);
  }
}

/** Put `record` at `path` if nothing is there; false if something is. */
function place(path: string, record: LockRecord): boolean {
  const text = formatLockRecord(record);
  const tmp = `${path}.${record.token}.tmp`;
  writeDurably(tmp, text);
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'EEXIST') return false;
    if (code === 'ENOENT') return false; // our temp file was cleared as a leftover: go round again
    if (!NO_HARD_LINKS.has(code)) throw err;
    try {
      writeDurably(path, text); // exclusive create; a reader may see it half-written (UNREADABLE_LOCK_GRACE_MS)
      return true;
    } catch (err2) {
      if ((err2 as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err2;
    }
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Create `path` (failing if it exists), write `text` and fsync, so a lock that exists after a power cut is complete. */
function writeDurably(path: string, text: string): void {
  const fd = openSync(path, 'wx');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function readLock(path: string): FoundLock | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const st = fstatSync(fd);
    const raw = readFileSync(fd, 'utf8');
    return { record: parseLockRecord(raw), raw, ino: st.ino, ageMs: Date.now() - st.mtimeMs };
  } finally {
    closeSync(fd);
  }
}

function unlinkIfHeldBy(path: string, token: string): void {
  if (readLock(path)?.record?.token !== token) return;
  rmSync(path, { force: true });
}

function ownRecord(): LockRecord {
  return {
    pid: process.pid,
    startTime: procStat(process.pid)?.startTime ?? null,
    bootId: bootId(),
    hostname: hostname(),
    token: randomBytes(8).toString('hex'),
    acquiredAt: new Date().toISOString(),
  };
}

function factsAbout(found: FoundLock): LockFacts {
  const pid = found.record?.pid;
  let holder: LockFacts['holder'] = { exists: false, zombie: false, startTime: null };
  if (pid !== undefined && pid !== process.pid) {
    const stat = procStat(pid);
    holder = { exists: processExists(pid), zombie: stat?.state === 'Z' || stat?.state === 'X', startTime: stat?.startTime ?? null };
  }
  return {
    self: { pid: process.pid, startTime: procStat(process.pid)?.startTime ?? null, hostname: hostname(), bootId: bootId() },
    heldHere: found.record !== null && heldTokens.has(found.record.token),
    holder,
    fileAgeMs: found.ageMs,
  };
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** A process's state letter and start time (/proc/<pid>/stat fields 3 and 22), or null without /proc. */
function procStat(pid: number): { state: string; startTime: string } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // field 2 is the command name in parentheses and may itself hold spaces or ')'
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const startTime = fields[19];
  return state && startTime ? { state, startTime } : null;
}

function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
  } catch {
    return null;
  }
}

function lockedError(dataDir: string, path: string, found: FoundLock, verdict: LockVerdict): DataDirLockedError {
  const r = found.record;
  if (r === null) {
    return new DataDirLockedError(
      dataDir,
      null,
      `${path} cannot be read and is under ${UNREADABLE_LOCK_GRACE_MS / 1000} s old (another process may be writing it); try again shortly, or delete it if no ringkv process uses this directory`,
    );
  }
  switch (verdict.why) {
    case 'held-here':
      return new DataDirLockedError(dataDir, r.pid, 'another Cluster in this process has it open; close that one first');
    case 'other-host':
      return new DataDirLockedError(
        dataDir,
        r.pid,
        `it was taken at ${r.acquiredAt} on host ${r.hostname}, and this host (${hostname()}) cannot check that process; if it is gone, delete ${path}`,
      );
    default:
      return new DataDirLockedError(dataDir, r.pid, `another ringkv process has had it open since ${r.acquiredAt}; stop that process or use another data directory`);
  }
}

/** Delete everything in `dataDir` but the lock file (which the caller releases last). */
function removeContentsExceptLock(dataDir: string): void {
  for (const name of readdirSync(dataDir)) {
    if (name !== LOCK_FILE) rmSync(join(dataDir, name), { recursive: true, force: true });
  }
}

/** Temp files and takeover guards left by processes that crashed while taking a lock. */
function removeLeftovers(dataDir: string): void {
  const now = Date.now();
  for (const name of readdirSync(dataDir)) {
    if (!name.startsWith(`${LOCK_FILE}.`)) continue;
    const file = join(dataDir, name);
    try {
      if (now - statSync(file).mtimeMs > LEFTOVER_AGE_MS) rmSync(file, { force: true });
    } catch {
      // gone already
    }
  }
}

/** rmdir `dir` and its parents up to `top`, stopping at the first one that is not empty. */
function removeEmptyDirs(dir: string, top: string): void {
  const last = resolve(top);
  for (let d = resolve(dir); ; d = dirname(d)) {
    try {
      rmdirSync(d);
    } catch {
      return;
    }
    if (d === last || dirname(d) === d) return;
  }
}
