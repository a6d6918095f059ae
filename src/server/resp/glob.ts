/**
 * Redis's glob matching (util.c stringmatchlen) for KEYS and SCAN MATCH:
 * `*`, `?`, `[abc]`, `[^abc]`, `[a-z]` and backslash escapes, over bytes.
 * Pure. A small hand-written matcher because the JS glob libraries implement
 * path globs (`/` is special, braces expand), not Redis's byte-wise rules.
 *
 * Every token but `*` consumes exactly one byte, so on a mismatch it is
 * enough to go back to the last `*` and let it take one more byte: at most
 * pattern × subject steps, never the exponential backtracking of a
 * recursive matcher (`a*a*a*…b` against a long run of `a`s froze the
 * server's event loop). Like Redis, a pattern with more than
 * MAX_STAR_GROUPS groups of `*` (a trailing one aside) matches nothing:
 * Redis stops its recursion there, and Valkey's tests expect that answer.
 */
export function globMatch(pattern: Uint8Array, subject: Uint8Array): boolean {
  const p = pattern;
  const s = subject;
  let pi = 0;
  let si = 0;
  /** The pattern position just after the last `*` group, and the subject position that star's match ends at. */
  let resumeP = -1;
  let resumeS = 0;
  let starGroups = 0;
  let furthestStar = -1;
  while (si < s.length) {
    if (pi < p.length && p[pi] === STAR) {
      while (pi < p.length && p[pi] === STAR) pi++;
      if (pi === p.length) return true; // a trailing star takes the rest
      if (pi > furthestStar) {
        furthestStar = pi;
        if (++starGroups > MAX_STAR_GROUPS) return false;
      }
      resumeP = pi;
      resumeS = si;
      continue;
    }
    const next = pi < p.length ? matchOne(p, pi, s[si]!) : -1;
    if (next >= 0) {
      pi = next;
      si++;
      continue;
    }
    if (resumeP < 0) return false;
    // the last star takes one more byte, and the rest of the pattern is tried from there
    pi = resumeP;
    si = ++resumeS;
  }
  while (pi < p.length && p[pi] === STAR) pi++;
  return pi === p.length;
}

/** Redis's recursion limit, as a count of `*` groups a match passes through. */
export const MAX_STAR_GROUPS = 1000;

const STAR = 0x2a;
const QUESTION = 0x3f;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const CARET = 0x5e;
const DASH = 0x2d;
const BACKSLASH = 0x5c;

/** Does the one-byte token at `pi` (not a star) match `byte`? The position after the token, or -1. */
function matchOne(p: Uint8Array, pi: number, byte: number): number {
  const c = p[pi]!;
  if (c === QUESTION) return pi + 1;
  if (c === OPEN) {
    let i = pi + 1;
    const not = p[i] === CARET;
    if (not) i++;
    let matched = false;
    for (;;) {
      if (i >= p.length) {
        i--; // Redis: an unterminated class ends the pattern
        break;
      }
      if (p[i] === BACKSLASH && i + 2 < p.length) {
        i++;
        if (p[i] === byte) matched = true;
      } else if (p[i] === CLOSE) {
        break;
      } else if (i + 2 < p.length && p[i + 1] === DASH) {
        let lo = p[i]!;
        let hi = p[i + 2]!;
        if (lo > hi) [lo, hi] = [hi, lo];
        if (byte >= lo && byte <= hi) matched = true;
        i += 2;
      } else if (p[i] === byte) {
        matched = true;
      }
      i++;
    }
    if (not) matched = !matched;
    return matched ? i + 1 : -1;
  }
  if (c === BACKSLASH && pi + 1 < p.length) return p[pi + 1] === byte ? pi + 2 : -1;
  return c === byte ? pi + 1 : -1;
}
