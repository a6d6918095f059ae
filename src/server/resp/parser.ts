/**
 * Streaming, server-side RESP request parser.
 *
 * Modelled on Redis 7's networking.c (processInputBuffer / processInlineBuffer /
 * processMultibulkBuffer) so that a client sees exactly the errors Redis would send,
 * for the same bytes, no matter how the bytes were split into socket reads. The
 * reference behaviour is "Redis reading the stream one byte at a time": every limit
 * trips at the byte where byte-at-a-time Redis would trip, so results never depend on
 * chunking, and nothing is buffered beyond a limit before it is refused.
 *
 * Redis quirks that are reproduced on purpose (clients and tests rely on them):
 *  - Header lines (`*<n>` / `$<n>`) end at the first '\r'; the byte after it is skipped
 *    unchecked, and so are the two bytes after a bulk payload.
 *  - Lines are searched with strchr(), which stops at a NUL byte: a NUL before the
 *    terminator means the line never completes, so the request is refused once it grows
 *    past maxInlineBytes ("too big ... string" / "too big inline request"). This is what
 *    Redis' "Protocol desync regression" tests exercise.
 *  - Counts are parsed with string2ll(): no sign '+', no leading zeros, no "-0",
 *    at most 20 characters, int64 range.
 *  - `*0` and negative multibulk counts are silently ignored; so are empty inline lines.
 *
 * Deliberate differences from Redis:
 *  - The query-buffer limit covers the whole request in progress, args already parsed
 *    included (Redis counts those as argv memory, not query buffer), since here they are
 *    what the parser holds.
 *  - A bulk whose header already shows it cannot fit under that limit is refused on the
 *    header (Redis would first buffer up to the limit: same error, same commands, earlier).
 *  - Redis checks line sizes once per socket read, so a long line that arrives whole can
 *    slip through; here the check is per byte, so it never depends on chunking.
 */

export interface RespLimits {
  /** Redis proto-max-bulk-len: largest accepted `$<n>`. */
  maxBulkBytes: number;
  /** Largest accepted `*<n>` (Redis 1024*1024 before 6.0, INT_MAX since). */
  maxArgs: number;
  /** Redis PROTO_INLINE_MAX_SIZE (64 KiB): longest inline line and longest `*`/`$` header line. */
  maxInlineBytes: number;
  /** client-query-buffer-limit: most bytes one in-progress request may hold. */
  maxQueryBufferBytes: number;
  /**
   * Optional: a bulk over maxBulkBytes but at most this long (Redis's own
   * proto-max-bulk-len is 512 MiB) is read past without being kept, and its
   * command is answered with a refusal: the connection stays in sync, so a
   * client that sent one value too large can go on. Longer ones are a
   * protocol error. Not for clients that still have to AUTH.
   */
  maxDiscardBulkBytes?: number;
  /**
   * Optional: the client still has to AUTH. Adds the fixed caps that newer Redis
   * (7.4-era networking.c) puts on unauthenticated clients, with Redis' own texts:
   * more than 10 args → "unauthenticated multibulk length", a bulk over 16384 bytes →
   * "unauthenticated bulk length", and a query buffer capped at 1 MiB.
   */
  authRequired?: boolean;
}

/**
 * One parsed request: its arguments; or, when one of them was too large to
 * keep (see maxDiscardBulkBytes), no arguments and why it was refused.
 */
export type ParsedCommand = Buffer[] & { readonly refused?: string };

export interface FeedResult {
  commands: ParsedCommand[];
  error?: string;
}

/** The exact texts Redis 7 replies with (after `-ERR `) before closing the connection. */
export const RESP_ERRORS = {
  invalidMultibulkLength: 'Protocol error: invalid multibulk length',
  invalidBulkLength: 'Protocol error: invalid bulk length',
  tooBigMbulkCount: 'Protocol error: too big mbulk count string',
  tooBigBulkCount: 'Protocol error: too big bulk count string',
  tooBigInline: 'Protocol error: too big inline request',
  unauthenticatedMultibulkLength: 'Protocol error: unauthenticated multibulk length',
  unauthenticatedBulkLength: 'Protocol error: unauthenticated bulk length',
  unbalancedQuotes: 'Protocol error: unbalanced quotes in request',
  /**
   * Redis sends no reply here: it logs "Closing client that reached max query buffer
   * length" and drops the connection. We report the same words so the server can either
   * send them or (to match Redis byte for byte) recognise this constant and just close.
   */
  queryBufferLimit: 'Closing client that reached max query buffer length',
} as const;

/**
 * Text of Redis' `Protocol error: expected '$', got '%c'`. Redis maps '\r' and '\n' in
 * error replies to spaces (addReplyErrorFormat → sdsmapchars); NUL cannot occur here
 * because a NUL blocks the line search. Bytes >= 0x80 are rendered as the Latin-1 char.
 */
export function expectedDollarError(byte: number): string {
  const ch = byte === 13 || byte === 10 ? ' ' : String.fromCharCode(byte);
  return `Protocol error: expected '$', got '${ch}'`;
}

const EMPTY = Buffer.alloc(0);

const ST_START = 0; // between requests
const ST_INLINE = 1; // reading an inline line up to '\n'
const ST_MBCOUNT = 2; // reading "*<n>\r?"
const ST_BULKHDR = 3; // reading "$<n>\r?"
const ST_BULKDATA = 4; // reading <n> payload bytes + 2 unchecked trailer bytes
const ST_SKIP = 5; // reading past a payload too large to keep (and its trailer)

/** Caps newer Redis (7.4-era networking.c) puts on clients that have not authenticated yet. */
const UNAUTH_MAX_ARGS = 10;
const UNAUTH_MAX_BULK = 16384;
const UNAUTH_MAX_QUERYBUF = 1024 * 1024;

const CH_NUL = 0;
const CH_LF = 10;
const CH_CR = 13;
const CH_STAR = 42;
const CH_DOLLAR = 36;

export class RespParser {
  private lim: RespLimits;
  /** Effective query-buffer limit (maxQueryBufferBytes, capped while authRequired). */
  private qLimit = 0;
  private st = ST_START;
  private err: string | undefined;

  /** Bytes of the current (incomplete) request consumed so far; what the query-buffer limit is applied to. */
  private reqBytes = 0;
  /** Args of the current multibulk request, and how many are still to come. */
  private args: Buffer[] = [];
  private remaining = 0;
  /** Why the request in progress will be refused (an argument was too large), once known. */
  private refusal: string | undefined;
  /** Bytes still to read past in ST_SKIP. */
  private skipBytes = 0;

  // Line state (inline line or a `*`/`$` header). A line that completes inside one chunk is
  // used in place; only a line split across chunks is copied into lineBuf (growable, so
  // byte-at-a-time input stays linear, and we never rescan bytes already scanned).
  private lineBuf: Buffer = EMPTY;
  private lineLen = 0; // bytes stored in lineBuf
  private lineCount = 0; // bytes of this line consumed (equals lineLen unless blocked)
  private blocked = false; // a NUL was seen before the terminator: strchr() would never find it
  private crSeen = false; // '\r' found; Redis still waits for the (unchecked) byte after it
  private lineReady = false;
  private lineSrc: Buffer = EMPTY;
  private lineFrom = 0;
  private lineTo = 0;

  // Bulk payload state, used only when a payload is split across chunks.
  private bulkLen = 0;
  private bulkArg: Buffer | null = null;
  private bulkFilled = 0;
  private trailer = 0;

  // Input not parsed yet because feed() was asked to stop after maxCommands commands.
  private queue: Buffer[] = [];
  private queuedBytes = 0;

  constructor(limits: RespLimits) {
    this.lim = { ...limits };
    this.qLimit = effectiveQueryLimit(limits);
  }

  /**
   * Replace the limits (e.g. tighter ones while the client is unauthenticated). They apply
   * from the next byte parsed; a header already accepted is not re-checked (Redis checks
   * each header once, when it is read).
   */
  setLimits(limits: RespLimits): void {
    this.lim = { ...limits };
    this.qLimit = effectiveQueryLimit(limits);
  }

  /** Bytes held for the request in progress, plus input queued by a `maxCommands` stop. */
  get bufferedBytes(): number {
    return (this.st === ST_START ? 0 : this.reqBytes) + this.queuedBytes;
  }

  /** Bytes fed but not yet looked at because a previous feed() stopped at `maxCommands`. */
  get unparsedBytes(): number {
    return this.queuedBytes;
  }

  /**
   * Feed bytes from the socket. Returns the complete commands parsed so far (each an array
   * of Buffer args; zero-copy views into the input where possible, so the caller must not
   * reuse `chunk`'s memory, and should copy args it keeps long-term), and, when the stream
   * is malformed, the Redis error text for the first bad byte sequence. Commands before the
   * bad bytes are still returned. After an error the parser stays failed.
   *
   * `maxCommands` (optional) stops parsing after that many commands; the rest of the input
   * is kept without copying and parsed by the next feed() (feed an empty Buffer to just
   * continue). A server uses it to run commands one at a time while limits depend on the
   * outcome of earlier commands (AUTH then a large SET in one pipeline), as Redis does.
   */
  feed(chunk: Buffer, maxCommands: number = Infinity): FeedResult {
    const commands: ParsedCommand[] = [];
    if (this.err !== undefined) return { commands, error: this.err };

    if (this.queuedBytes === 0) {
      // Common case: parse straight out of the chunk.
      const p = this.run(chunk, 0, commands, maxCommands);
      if (p < 0) return this.failed(commands);
      if (p < chunk.length) this.enqueue(chunk.subarray(p));
      return { commands };
    }

    if (chunk.length > 0) this.enqueue(chunk);
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      const p = this.run(head, 0, commands, maxCommands);
      if (p < 0) return this.failed(commands);
      this.queuedBytes -= p;
      if (p < head.length) {
        this.queue[0] = head.subarray(p);
        break;
      }
      this.queue.shift();
    }
    return { commands };
  }

  private enqueue(b: Buffer): void {
    this.queue.push(b);
    this.queuedBytes += b.length;
  }

  private failed(commands: ParsedCommand[]): FeedResult {
    // Drop everything we hold: the connection is going away.
    this.queue = [];
    this.queuedBytes = 0;
    this.args = [];
    this.bulkArg = null;
    this.lineBuf = EMPTY;
    this.lineSrc = EMPTY;
    this.st = ST_START;
    this.reqBytes = 0;
    return { commands, error: this.err! };
  }

  private fail(msg: string): number {
    this.err = msg;
    return -1;
  }

  /** Parse from b[p..]; returns where it stopped (b.length unless maxCommands hit), or -1 on error. */
  private run(b: Buffer, p: number, out: ParsedCommand[], max: number): number {
    const end = b.length;
    for (;;) {
      switch (this.st) {
        case ST_START: {
          if (p >= end || out.length >= max) return p;
          // Redis: a request starting with '*' is multibulk, anything else is inline.
          this.st = b[p] === CH_STAR ? ST_MBCOUNT : ST_INLINE;
          this.reqBytes = 0;
          this.resetLine();
          break;
        }

        case ST_INLINE: {
          p = this.scanLine(b, p, end, CH_LF, RESP_ERRORS.tooBigInline);
          if (p < 0) return -1;
          if (!this.lineReady) return p;
          this.lineReady = false;
          const src = this.lineSrc;
          const from = this.lineFrom;
          let to = this.lineTo;
          if (to > from && src[to - 1] === CH_CR) to--; // "\r\n" as well as bare "\n"
          const argv = splitArgs(src, from, to);
          if (argv === null) return this.fail(RESP_ERRORS.unbalancedQuotes);
          if (argv.length > 0) out.push(argv); // empty lines are ignored, like Redis
          this.st = ST_START;
          break;
        }

        case ST_MBCOUNT: {
          p = this.scanLine(b, p, end, CH_CR, RESP_ERRORS.tooBigMbulkCount);
          if (p < 0) return -1;
          if (!this.lineReady) return p;
          this.lineReady = false;
          const n = string2ll(this.lineSrc, this.lineFrom + 1, this.lineTo);
          if (n !== n /* NaN: not a valid int64 */ || n > this.lim.maxArgs) {
            return this.fail(RESP_ERRORS.invalidMultibulkLength);
          }
          if (n > UNAUTH_MAX_ARGS && this.lim.authRequired) return this.fail(RESP_ERRORS.unauthenticatedMultibulkLength);
          if (n <= 0) {
            // "*0" / "*-1": nothing to run, Redis just resets the client.
            this.st = ST_START;
            break;
          }
          this.remaining = n;
          this.args = [];
          this.refusal = undefined;
          this.st = ST_BULKHDR;
          this.resetLine();
          break;
        }

        case ST_BULKHDR: {
          p = this.scanLine(b, p, end, CH_CR, RESP_ERRORS.tooBigBulkCount);
          if (p < 0) return -1;
          if (!this.lineReady) return p;
          this.lineReady = false;
          const src = this.lineSrc;
          const from = this.lineFrom;
          const to = this.lineTo;
          // Redis looks at the first byte of the line only once the '\r' is found.
          const first = from < to ? src[from]! : CH_CR;
          if (first !== CH_DOLLAR) return this.fail(expectedDollarError(first));
          const n = string2ll(src, from + 1, to);
          if (n !== n || n < 0 || n > this.lim.maxBulkBytes) {
            if (n === n && n >= 0 && !this.lim.authRequired && n <= (this.lim.maxDiscardBulkBytes ?? 0)) {
              // Too large to keep, small enough to read past: refuse the command, stay in sync.
              this.refusal ??= `argument of ${n} bytes is over the limit of ${this.lim.maxBulkBytes} bytes; the command was not run`;
              this.skipBytes = n + 2;
              this.st = ST_SKIP;
              break;
            }
            // Refused on the header alone: nothing of the payload is buffered.
            return this.fail(RESP_ERRORS.invalidBulkLength);
          }
          if (n > UNAUTH_MAX_BULK && this.lim.authRequired) return this.fail(RESP_ERRORS.unauthenticatedBulkLength);
          // The payload is opaque, so if it cannot fit under the query-buffer limit the
          // limit is certain to trip inside it: fail now instead of buffering it first.
          if (this.reqBytes + n + 2 > this.qLimit) {
            return this.fail(RESP_ERRORS.queryBufferLimit);
          }
          if (end - p >= n + 2) {
            // Fast path: whole payload + trailer in this chunk, take a view.
            this.args.push(b.subarray(p, p + n));
            p += n + 2;
            this.reqBytes += n + 2;
            this.argDone(out);
            break;
          }
          this.bulkLen = n;
          this.bulkArg = null;
          this.bulkFilled = 0;
          this.trailer = 2;
          this.st = ST_BULKDATA;
          break;
        }

        case ST_BULKDATA: {
          if (p >= end) return p;
          const n = this.bulkLen;
          if (this.bulkArg === null) {
            if (end - p >= n) {
              // Payload complete here, only (part of) the trailer is missing: still a view.
              this.bulkArg = b.subarray(p, p + n);
              this.bulkFilled = n;
              p += n;
              this.reqBytes += n;
            } else {
              // Split payload: one exact-size allocation, each byte copied once. n is
              // bounded by maxBulkBytes and by the query-buffer check on the header.
              this.bulkArg = n === 0 ? EMPTY : Buffer.allocUnsafe(n);
            }
          }
          if (this.bulkFilled < n) {
            const k = Math.min(end - p, n - this.bulkFilled);
            b.copy(this.bulkArg, this.bulkFilled, p, p + k);
            this.bulkFilled += k;
            p += k;
            this.reqBytes += k;
          }
          if (this.bulkFilled === n) {
            // Redis skips the two bytes after the payload without checking they are CRLF.
            const k = Math.min(end - p, this.trailer);
            this.trailer -= k;
            p += k;
            this.reqBytes += k;
          }
          if (this.trailer > 0) return p;
          this.args.push(this.bulkArg);
          this.bulkArg = null;
          this.argDone(out);
          break;
        }

        case ST_SKIP: {
          // Not counted against the query buffer: nothing of it is held.
          const k = Math.min(end - p, this.skipBytes);
          p += k;
          this.skipBytes -= k;
          if (this.skipBytes > 0) return p;
          this.argDone(out);
          break;
        }
      }
    }
  }

  /** An argument is complete: the request is too, or the next argument's header follows. */
  private argDone(out: ParsedCommand[]): void {
    if (--this.remaining > 0) {
      this.st = ST_BULKHDR;
      this.resetLine();
      return;
    }
    if (this.refusal === undefined) out.push(this.args);
    else out.push(Object.assign([] as Buffer[], { refused: this.refusal }));
    this.args = [];
    this.refusal = undefined;
    this.st = ST_START;
  }

  private resetLine(): void {
    this.lineLen = 0;
    this.lineCount = 0;
    this.blocked = false;
    this.crSeen = false;
  }

  /**
   * Consume line bytes from b[p..end) looking for `target` ('\n' for inline, '\r' for
   * headers). Returns the new position (or -1 after fail()). Sets lineReady once the
   * line (and, for '\r', the byte after it) is in; the line is then
   * lineSrc[lineFrom..lineTo), excluding the terminator.
   *
   * Limits are applied at the exact byte where byte-at-a-time Redis applies them:
   * the query-buffer limit when the request reaches maxQueryBufferBytes+1 bytes (checked
   * first: Redis checks it on read, before parsing), the line limit when the line has
   * maxInlineBytes+1 bytes without a (findable) terminator.
   */
  private scanLine(b: Buffer, p: number, end: number, target: number, tooBig: string): number {
    const lim = this.lim;
    const qLimit = this.qLimit;
    if (this.crSeen) {
      if (p >= end) return p;
      if (++this.reqBytes > qLimit) return this.fail(RESP_ERRORS.queryBufferLimit);
      this.crSeen = false;
      this.lineReady = true;
      return p + 1;
    }
    if (p >= end) return p;

    // Bytes we may look at in this step: up to and including the byte that would trip a limit.
    const qRoom = Math.max(qLimit + 1 - this.reqBytes, 1);
    // Both at least 1: after setLimits() tightened below what is already held, the very next byte trips.
    const lRoom = Math.max(lim.maxInlineBytes + 1 - this.lineCount, 1);
    let n = end - p;
    if (n > qRoom) n = qRoom;
    if (n > lRoom) n = lRoom;

    if (!this.blocked) {
      const stop = p + n;
      let i = p;
      for (; i < stop; i++) {
        const c = b[i]!;
        if (c === target) break;
        if (c === CH_NUL) {
          this.blocked = true;
          break;
        }
      }
      if (i < stop && !this.blocked) {
        // Terminator found at i.
        this.reqBytes += i - p + 1;
        this.lineCount += i - p;
        if (this.reqBytes > qLimit) return this.fail(RESP_ERRORS.queryBufferLimit);
        if (this.lineLen === 0) {
          this.lineSrc = b;
          this.lineFrom = p;
          this.lineTo = i;
        } else {
          this.appendLine(b, p, i);
          this.lineSrc = this.lineBuf;
          this.lineFrom = 0;
          this.lineTo = this.lineLen;
        }
        p = i + 1;
        if (target === CH_CR) {
          // Redis needs one more byte (assumed '\n', never checked) before it parses.
          if (p >= end) {
            this.crSeen = true;
            return p;
          }
          if (++this.reqBytes > qLimit) return this.fail(RESP_ERRORS.queryBufferLimit);
          p++;
        }
        this.lineReady = true;
        return p;
      }
      // Not found (or blocked): keep what we scanned so the next chunk resumes after it.
      if (!this.blocked) this.appendLine(b, p, stop);
    }
    // Consume the n bytes without a usable terminator.
    this.reqBytes += n;
    this.lineCount += n;
    p += n;
    if (this.reqBytes > qLimit) return this.fail(RESP_ERRORS.queryBufferLimit);
    if (this.lineCount > lim.maxInlineBytes) return this.fail(tooBig);
    return p;
  }

  private appendLine(b: Buffer, from: number, to: number): void {
    const k = to - from;
    if (k === 0) return;
    const need = this.lineLen + k;
    if (need > this.lineBuf.length) {
      // Doubling keeps byte-at-a-time input linear; bounded by maxInlineBytes + 1.
      const nb = Buffer.allocUnsafe(Math.max(need, this.lineBuf.length * 2, 64));
      this.lineBuf.copy(nb, 0, 0, this.lineLen);
      this.lineBuf = nb;
    }
    b.copy(this.lineBuf, this.lineLen, from, to);
    this.lineLen = need;
  }
}

function effectiveQueryLimit(l: RespLimits): number {
  return l.authRequired ? Math.min(l.maxQueryBufferBytes, UNAUTH_MAX_QUERYBUF) : l.maxQueryBufferBytes;
}

/** "9223372036854775807": int64 max digits, for the 19-digit overflow check. */
const LLMAX_DIGITS = [9, 2, 2, 3, 3, 7, 2, 0, 3, 6, 8, 5, 4, 7, 7, 5, 8, 0, 7];

/**
 * Redis util.c string2ll() over src[from..to): returns the value, or NaN where Redis
 * rejects the text. Values beyond 2^53 come back rounded, which is harmless: callers only
 * compare them with limits far below that.
 */
export function string2ll(src: Uint8Array, from: number, to: number): number {
  const len = to - from;
  // LONG_STR_SIZE is 21: 21+ characters can never be valid.
  if (len <= 0 || len >= 21) return NaN;
  if (len === 1 && src[from] === 48) return 0;
  let i = from;
  let neg = false;
  if (src[i] === 45 /* - */) {
    neg = true;
    if (++i === to) return NaN;
  }
  const digitsFrom = i;
  let c = src[i]!;
  if (c < 49 || c > 57) return NaN; // first digit 1-9: no leading zeros, no "-0"
  let v = c - 48;
  for (i++; i < to; i++) {
    c = src[i]!;
    if (c < 48 || c > 57) return NaN;
    v = v * 10 + (c - 48);
  }
  const nd = to - digitsFrom;
  if (nd > 19) return NaN; // >= 1e19 overflows int64 either way
  if (nd > 15) {
    // Past 2^53 the running sum above may round differently; let the engine round once.
    v = Number(Buffer.from(src.buffer, src.byteOffset + digitsFrom, nd).toString('latin1'));
  }
  if (nd === 19) {
    for (let k = 0; k < 19; k++) {
      const lim = LLMAX_DIGITS[k]! + (k === 18 && neg ? 1 : 0); // |INT64_MIN| ends in 8
      const d = src[digitsFrom + k]! - 48;
      if (d < lim) break;
      if (d > lim) return NaN;
    }
  }
  return neg ? -v : v;
}

function isSpace(c: number): boolean {
  // C isspace() in the "C" locale: space, \t \n \v \f \r.
  return c === 32 || (c >= 9 && c <= 13);
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Redis sds.c sdssplitargs() over src[from..to) (which holds no NUL: the inline line
 * search stops at one). Returns the args, or null for unbalanced quotes / a closing quote
 * not followed by a space. All args are views into one allocation per line.
 */
export function splitArgs(src: Uint8Array, from: number, to: number): Buffer[] | null {
  const out: Buffer[] = [];
  const at = (i: number): number => (i < to ? src[i]! : 0); // end of line reads as the C NUL
  let store: Buffer | null = null;
  let w = 0;
  let p = from;
  for (;;) {
    while (p < to && isSpace(src[p]!)) p++;
    if (p >= to) return out;
    // Output never exceeds input, so one buffer of the line's size holds every arg.
    if (store === null) store = Buffer.allocUnsafe(to - from);
    const tokStart = w;
    let inq = false;
    let insq = false;
    let done = false;
    while (!done) {
      const c = at(p);
      if (inq) {
        if (c === 92 /* \ */ && at(p + 1) === 120 /* x */ && hexVal(at(p + 2)) >= 0 && hexVal(at(p + 3)) >= 0) {
          store[w++] = hexVal(at(p + 2)) * 16 + hexVal(at(p + 3));
          p += 3;
        } else if (c === 92 && at(p + 1) !== 0) {
          p++;
          const e = src[p]!;
          store[w++] = e === 110 ? 10 : e === 114 ? 13 : e === 116 ? 9 : e === 98 ? 8 : e === 97 ? 7 : e;
        } else if (c === 34 /* " */) {
          // A closing quote must be followed by a space or the end of the line.
          const nx = at(p + 1);
          if (nx !== 0 && !isSpace(nx)) return null;
          done = true;
        } else if (c === 0) {
          return null; // unterminated "
        } else {
          store[w++] = c;
        }
      } else if (insq) {
        if (c === 92 && at(p + 1) === 39 /* ' */) {
          p++;
          store[w++] = 39;
        } else if (c === 39) {
          const nx = at(p + 1);
          if (nx !== 0 && !isSpace(nx)) return null;
          done = true;
        } else if (c === 0) {
          return null; // unterminated '
        } else {
          store[w++] = c;
        }
      } else {
        // Note: unlike the blank-skipping above, only these end an unquoted token (not \v \f).
        switch (c) {
          case 32:
          case 10:
          case 13:
          case 9:
          case 0:
            done = true;
            break;
          case 34:
            inq = true;
            break;
          case 39:
            insq = true;
            break;
          default:
            store[w++] = c;
        }
      }
      if (p < to) p++;
    }
    out.push(store.subarray(tokStart, w));
  }
}
