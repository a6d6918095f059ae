import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Lower the calling thread's scheduling priority (Linux: setpriority on the
 * thread's own id, which affects that thread alone). Background threads
 * (Merkle builds) then take the CPU the actors leave idle rather than half
 * of it: on a 2-core machine a full-speed build thread doubled the
 * foreground p99. Best effort: elsewhere, or without permission, nothing
 * changes. Returns whether it took.
 */
export function lowerThreadPriority(nice: number): boolean {
  try {
    // "/proc/thread-self" -> "<pid>/task/<tid>"
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return false;
    setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}
