/**
 * RESP2 / RESP3 reply encoder.
 *
 * Replies for a whole pipeline are appended into one slab and handed out by take() as a
 * single Buffer, so the server does one socket write per batch. take() returns a view of
 * the slab and later writes go *after* it, never over it, so the view stays valid while
 * the socket still holds it, and no byte is copied twice except when the slab has to grow
 * mid-batch.
 *
 * Encodings follow Redis 7 (networking.c addReply*): RESP2 downgrades RESP3-only types the
 * way Redis does (null → $-1 / *-1, map → flat array, boolean → :1/:0, double and verbatim
 * → bulk string, big number → bulk string).
 */

export type RespVersion = 2 | 3;

export type MapValue = Buffer | string | number | null;

const CRLF0 = 13;
const CRLF1 = 10;
/** Fresh slab size; large enough for a typical pipeline of small replies. */
const SLAB = 16 * 1024;
/** A slab grown beyond this for one big reply is dropped after take() instead of reused. */
const MAX_REUSE = 256 * 1024;
const EMPTY = Buffer.alloc(0);

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** Redis double2ll() only prints integral doubles in +-LLONG_MAX/2 as integers. */
const D2LL_LIMIT = 4611686018427387903;

export class ReplyWriter {
  version: RespVersion;
  private buf: Buffer = EMPTY;
  private start = 0; // first byte not yet taken
  private pos = 0; // next byte to write

  constructor(version: RespVersion = 2) {
    this.version = version;
  }

  /** Switch protocol (HELLO); affects only what is written after the call. */
  setVersion(version: RespVersion): void {
    this.version = version;
  }

  /** Bytes written since the last take(). */
  get length(): number {
    return this.pos - this.start;
  }

  /** Take everything written so far as one Buffer (and reset). */
  take(): Buffer {
    if (this.pos === this.start) return EMPTY;
    const out = this.buf.subarray(this.start, this.pos);
    if (this.buf.length > MAX_REUSE) {
      // Don't let one huge reply pin a huge slab for the rest of the connection.
      this.buf = EMPTY;
      this.start = this.pos = 0;
    } else {
      this.start = this.pos;
    }
    return out;
  }

  /** `+<s>\r\n`. CR/LF would break framing, so they become spaces. */
  simple(s: string): void {
    this.byte(43 /* + */);
    this.utf8(oneLine(s));
    this.crlf();
  }

  /** `-<message>\r\n`, e.g. error('ERR unknown command'). CR/LF become spaces, like Redis' sdsmapchars. */
  error(message: string): void {
    this.byte(45 /* - */);
    this.utf8(oneLine(message));
    this.crlf();
  }

  /** `:<n>\r\n`. Numbers must be integers; a bigint outside int64 is sent as a RESP3 big number (`(`), or a bulk string in RESP2, as Redis does. */
  integer(n: number | bigint): void {
    if (typeof n === 'bigint') {
      if (n < INT64_MIN || n > INT64_MAX) {
        if (this.version === 3) {
          this.byte(40 /* ( */);
          this.ascii(n.toString());
          this.crlf();
        } else {
          this.bulk(n.toString());
        }
        return;
      }
      this.header(58 /* : */, n.toString());
      return;
    }
    if (!Number.isInteger(n)) throw new RangeError(`RESP integer must be an integer, got ${n}`);
    // |n| < 2^63 always prints as plain digits (String() only switches to exponent at 1e21).
    this.header(58, String(n));
  }

  /** `$<len>\r\n<bytes>\r\n`; null → `$-1\r\n` (RESP2) / `_\r\n` (RESP3). Strings are sent as UTF-8. */
  bulk(b: Buffer | string | null): void {
    if (b === null) {
      this.nullValue();
      return;
    }
    if (typeof b === 'string') {
      const len = Buffer.byteLength(b, 'utf8');
      this.header(36 /* $ */, String(len));
      this.reserve(len + 2);
      this.pos += this.buf.write(b, this.pos, len, 'utf8');
      this.crlf();
      return;
    }
    this.header(36, String(b.length));
    this.reserve(b.length + 2);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
    this.crlf();
  }

  /** Null bulk: `$-1\r\n` in RESP2, `_\r\n` in RESP3 (Redis addReplyNull). */
  nullValue(): void {
    if (this.version === 3) this.ascii('_\r\n');
    else this.ascii('$-1\r\n');
  }

  /** `*<n>\r\n` in both versions. */
  arrayHeader(n: number): void {
    this.header(42 /* * */, String(n));
  }

  /** Array of bulk strings (null items → null bulk). */
  array(items: (Buffer | string | null)[]): void {
    this.arrayHeader(items.length);
    for (let i = 0; i < items.length; i++) this.bulk(items[i]!);
  }

  /** Null array: `*-1\r\n` in RESP2, `_\r\n` in RESP3 (Redis addReplyNullArray). */
  nullArray(): void {
    if (this.version === 3) this.ascii('_\r\n');
    else this.ascii('*-1\r\n');
  }

  /** `%<n>\r\n` in RESP3; RESP2 has no maps, so a flat array of 2n elements. */
  mapHeader(n: number): void {
    if (this.version === 3) this.header(37 /* % */, String(n));
    else this.header(42, String(n * 2));
  }

  /**
   * RESP3 attribute `|<n>\r\n` + pairs, to put before the reply it annotates; dropped in
   * RESP2, which has no way to say it (as Redis does). Values are encoded as in map().
   */
  attribute(entries: [string, MapValue][]): void {
    if (this.version !== 3) return;
    this.header(124 /* | */, String(entries.length));
    this.pairs(entries);
  }

  /**
   * Map with bulk-string keys. Values: Buffer/string → bulk, integral number → integer,
   * other number → double, null → null. (HELLO's reply is such a map.)
   */
  map(entries: [string, MapValue][]): void {
    this.mapHeader(entries.length);
    this.pairs(entries);
  }

  private pairs(entries: [string, MapValue][]): void {
    for (let i = 0; i < entries.length; i++) {
      const [k, v] = entries[i]!;
      this.bulk(k);
      if (typeof v === 'number') {
        if (Number.isInteger(v)) this.integer(v);
        else this.double(v);
      } else {
        this.bulk(v);
      }
    }
  }

  /** RESP3 `=<len>\r\ntxt:<text>\r\n` (len counts the "txt:" prefix); RESP2 plain bulk. */
  verbatim(text: string): void {
    if (this.version !== 3) {
      this.bulk(text);
      return;
    }
    const len = Buffer.byteLength(text, 'utf8');
    this.header(61 /* = */, String(len + 4));
    this.reserve(len + 6);
    this.ascii('txt:');
    this.pos += this.buf.write(text, this.pos, len, 'utf8');
    this.crlf();
  }

  /** RESP3 `,<d>\r\n`; RESP2 bulk string of the same text (Redis addReplyDouble / d2string). */
  double(n: number): void {
    const s = d2string(n);
    if (this.version === 3) {
      this.byte(44 /* , */);
      this.ascii(s);
      this.crlf();
    } else {
      this.header(36, String(s.length));
      this.ascii(s);
      this.crlf();
    }
  }

  /** RESP3 `#t\r\n` / `#f\r\n`; RESP2 `:1\r\n` / `:0\r\n`. */
  boolean(b: boolean): void {
    if (this.version === 3) this.ascii(b ? '#t\r\n' : '#f\r\n');
    else this.ascii(b ? ':1\r\n' : ':0\r\n');
  }

  // ---- low level ------------------------------------------------------------------

  /** Make room for n more bytes; grows by doubling and carries over only the untaken bytes. */
  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const used = this.pos - this.start;
    const size = Math.max(SLAB, (used + n) * 2);
    const nb = Buffer.allocUnsafe(size);
    if (used > 0) this.buf.copy(nb, 0, this.start, this.pos);
    this.buf = nb;
    this.start = 0;
    this.pos = used;
  }

  private byte(c: number): void {
    this.reserve(1);
    this.buf[this.pos++] = c;
  }

  private crlf(): void {
    this.reserve(2);
    this.buf[this.pos++] = CRLF0;
    this.buf[this.pos++] = CRLF1;
  }

  /** `<prefix><digits>\r\n`; a hand loop beats Buffer#write for these few ASCII bytes. */
  private header(prefix: number, digits: string): void {
    const len = digits.length;
    this.reserve(len + 3);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = prefix;
    for (let i = 0; i < len; i++) buf[p++] = digits.charCodeAt(i);
    buf[p++] = CRLF0;
    buf[p++] = CRLF1;
    this.pos = p;
  }

  private ascii(s: string): void {
    const len = s.length;
    this.reserve(len);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < len; i++) buf[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  private utf8(s: string): void {
    const len = Buffer.byteLength(s, 'utf8');
    this.reserve(len);
    this.pos += this.buf.write(s, this.pos, len, 'utf8');
  }
}

function oneLine(s: string): string {
  return s.indexOf('\r') < 0 && s.indexOf('\n') < 0 ? s : s.replace(/[\r\n]/g, ' ');
}

/**
 * Redis util.c d2string(): "nan", "inf"/"-inf", "0"/"-0", integral values in
 * +-LLONG_MAX/2 as plain integers, otherwise the shortest round-trip digits (Redis 7.2+
 * uses grisu via fpconv_dtoa) laid out like printf %.17g: exponent form when the decimal
 * exponent is < -4 or >= 17, with a sign and at least two exponent digits.
 */
export function d2string(d: number): string {
  if (d !== d) return 'nan';
  if (d === Infinity) return 'inf';
  if (d === -Infinity) return '-inf';
  if (d === 0) return Object.is(d, -0) ? '-0' : '0';
  if (Number.isInteger(d) && d >= -D2LL_LIMIT && d <= D2LL_LIMIT) return BigInt(d).toString();
  // toExponential() with no argument yields the shortest digits that round-trip.
  const e = d.toExponential();
  const ePos = e.indexOf('e');
  let mant = e.slice(0, ePos);
  const exp = Number(e.slice(ePos + 1));
  const neg = mant[0] === '-';
  if (neg) mant = mant.slice(1);
  const digits = mant.replace('.', '');
  let out: string;
  if (exp < -4 || exp >= 17) {
    const frac = digits.length > 1 ? '.' + digits.slice(1) : '';
    const ae = Math.abs(exp);
    out = digits[0] + frac + 'e' + (exp < 0 ? '-' : '+') + (ae < 10 ? '0' + ae : String(ae));
  } else if (exp < 0) {
    out = '0.' + '0'.repeat(-exp - 1) + digits;
  } else if (digits.length > exp + 1) {
    out = digits.slice(0, exp + 1) + '.' + digits.slice(exp + 1);
  } else {
    out = digits + '0'.repeat(exp + 1 - digits.length);
  }
  return neg ? '-' + out : out;
}
