/**
 * Pacing of a Merkle build's scan, pure: how long the scanning thread
 * should sleep so that it reads no more than a given number of entries per
 * second. A build scans every entry an actor holds; unpaced it takes as
 * much CPU and disk as it can get, which the foreground pays for in
 * latency. The rate comes from the main thread (a SharedRate its ForegroundPacing
 * sets), which lowers it while foreground requests are slower than their
 * quiet baseline.
 */

/** Entries scanned between two looks at the clock and the rate. */
export const SCAN_PACE_ENTRIES = 512;
/** The longest single sleep: a raised rate (the foreground went quiet) is seen within this long. */
export const MAX_SCAN_PAUSE_MS = 100;

/**
 * Milliseconds to sleep now, after `entries` entries in `elapsedMs`, to stay
 * at `entriesPerSec` (0 or less: unpaced), at most MAX_SCAN_PAUSE_MS.
 */
export function scanPauseMs(entries: number, elapsedMs: number, entriesPerSec: number): number {
  if (!(entriesPerSec > 0) || entries <= 0) return 0;
  const dueMs = (entries * 1000) / entriesPerSec;
  return Math.min(MAX_SCAN_PAUSE_MS, Math.max(0, dueMs - elapsedMs));
}
