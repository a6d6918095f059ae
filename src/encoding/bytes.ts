/**
 * Minimal binary writer/reader (LEB128 varints, length-prefixed bytes) for the
 * stored clock format and the actor protocol. Pure. The reader fails loudly
 * (CorruptDataError) on truncated or malformed input instead of guessing.
 */
/** Decoded message fields are Buffer views already (ByteReader.bytes); wrap only what is not (no copy). */
export function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length);
}

export class CorruptDataError extends Error {
  override readonly name = 'CorruptDataError';
}

export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(initialBytes = 256) {
    this.buf = new Uint8Array(initialBytes);
    this.view = new DataView(this.buf.buffer);
  }

  private ensure(extra: number): void {
    const need = this.length + extra;
    if (need <= this.buf.length) return;
    let size = Math.max(this.buf.length * 2, 16); // a zero-size buffer would never grow
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.length++] = v;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.view.setUint32(this.length, v);
    this.length += 4;
    return this;
  }


  /** Unsigned LEB128 varint for 0 <= v <= 2^53. */
  varint(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint out of range: ${v}`);
    this.ensure(8);
    while (v >= 0x80) {
      this.buf[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.length++] = v;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.varint(b.length);
    this.raw(b);
    return this;
  }

  raw(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
    return this;
  }


  /** An exact-size copy (safe to keep, post or transfer). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }

  reset(): void {
    this.length = 0;
  }
}

export class ByteReader {
  offset = 0;

  constructor(readonly buf: Uint8Array) {}

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  private need(n: number): void {
    if (this.offset + n > this.buf.length) throw new CorruptDataError(`truncated: need ${n} bytes at ${this.offset}, have ${this.remaining}`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.offset++]!;
  }

  u32(): number {
    this.need(4);
    const b = this.buf;
    const o = this.offset;
    this.offset += 4;
    return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }


  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (result > Number.MAX_SAFE_INTEGER) throw new CorruptDataError('varint exceeds 2^53-1');
        return result;
      }
      scale *= 0x80;
    }
    throw new CorruptDataError('varint longer than 8 bytes');
  }

  /** Length-prefixed bytes, as a Buffer view into the underlying buffer (no copy; a Buffer so callers need no second wrapper). */
  bytes(): Buffer {
    const len = this.varint();
    this.need(len);
    const out = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.offset, len);
    this.offset += len;
    return out;
  }

  raw(len: number): Uint8Array {
    this.need(len);
    const out = this.buf.subarray(this.offset, this.offset + len);
    this.offset += len;
    return out;
  }

  end(): void {
    if (this.remaining !== 0) throw new CorruptDataError(`${this.remaining} trailing bytes`);
  }
}
