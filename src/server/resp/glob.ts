/**
 * Redis's glob matching (util.c stringmatchlen) for SCAN MATCH: `*`, `?`,
 * `[abc]`, `[^abc]`, `[a-z]` and backslash escapes, over bytes. Pure. A small
 * hand-written matcher because the JS glob libraries implement path globs
 * (`/` is special, braces expand), not Redis's byte-wise rules.
 */
export function globMatch(pattern: Uint8Array, subject: Uint8Array): boolean {
  return matchFrom(pattern, 0, subject, 0, 0);
}

const STAR = 0x2a;
const QUESTION = 0x3f;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const CARET = 0x5e;
const DASH = 0x2d;
const BACKSLASH = 0x5c;

function matchFrom(p: Uint8Array, pi: number, s: Uint8Array, si: number, depth: number): boolean {
  if (depth > 1000) return false; // bound recursion on pathological patterns
  while (pi < p.length) {
    const c = p[pi]!;
    if (c === STAR) {
      while (pi + 1 < p.length && p[pi + 1] === STAR) pi++;
      if (pi + 1 === p.length) return true;
      for (let k = si; k <= s.length; k++) if (matchFrom(p, pi + 1, s, k, depth + 1)) return true;
      return false;
    }
    if (si >= s.length) return false;
    if (c === QUESTION) {
      pi++;
      si++;
      continue;
    }
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
          if (p[i] === s[si]) matched = true;
        } else if (p[i] === CLOSE) {
          break;
        } else if (i + 2 < p.length && p[i + 1] === DASH) {
          let lo = p[i]!;
          let hi = p[i + 2]!;
          if (lo > hi) [lo, hi] = [hi, lo];
          if (s[si]! >= lo && s[si]! <= hi) matched = true;
          i += 2;
        } else if (p[i] === s[si]) {
          matched = true;
        }
        i++;
      }
      if (not) matched = !matched;
      if (!matched) return false;
      pi = i + 1;
      si++;
      continue;
    }
    if (c === BACKSLASH && pi + 1 < p.length) pi++;
    if (p[pi] !== s[si]) return false;
    pi++;
    si++;
  }
  return si === s.length;
}
