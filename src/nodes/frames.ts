/**
 * The inter-node wire: length-prefixed frames on one TCP connection per
 * node pair. Pure: encoding, and a reader that cuts a byte stream into
 * frames under a size bound and fails loudly (NodeWireError) on anything
 * malformed, so a bad peer is disconnected instead of guessed at.
 *
 *   frame = u32 length (of kind + body) | u8 kind | body
 *
 * Handshake and control frames carry JSON; a batch frame carries the
 * transport's binary batch as it is, addressed by actor (or main thread) id.
 */

export const enum FrameKind {
  /** Handshake: who I am, my nonce, and (from the dialer) my proof. JSON. */
  Hello = 1,
  /** Handshake: the listener's proof; the connection is authenticated from here on. JSON. */
  Welcome = 2,
  /** Handshake refused, with the reason; the connection closes. JSON. */
  Refuse = 3,
  /** One transport batch: i32 to | i32 from | the batch's bytes. */
  Batch = 10,
  /** A control call between nodes' main threads. JSON. */
  Control = 11,
}

const KINDS = new Set<number>([FrameKind.Hello, FrameKind.Welcome, FrameKind.Refuse, FrameKind.Batch, FrameKind.Control]);

/** A peer sent bytes that are not a frame this node accepts (too large, unknown kind, bad JSON, truncated batch). */
export class NodeWireError extends Error {
  override readonly name = 'NodeWireError';
}

export interface BatchFrame {
  readonly kind: FrameKind.Batch;
  readonly to: number;
  readonly from: number;
  /** A view of the transport batch (copied out of the stream: its buffer may be transferred). */
  readonly batch: Uint8Array;
}

export interface JsonFrame {
  readonly kind: FrameKind.Hello | FrameKind.Welcome | FrameKind.Refuse | FrameKind.Control;
  readonly body: unknown;
}

export type Frame = BatchFrame | JsonFrame;

const HEADER_BYTES = 5;

export function encodeJsonFrame(kind: JsonFrame['kind'], body: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(body), 'utf8');
  const out = Buffer.allocUnsafe(HEADER_BYTES + json.length);
  out.writeUInt32BE(1 + json.length, 0);
  out[4] = kind;
  json.copy(out, HEADER_BYTES);
  return out;
}

export function encodeBatchFrame(to: number, from: number, batch: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + 8 + batch.length);
  out.writeUInt32BE(1 + 8 + batch.length, 0);
  out[4] = FrameKind.Batch;
  out.writeInt32BE(to, 5);
  out.writeInt32BE(from, 9);
  out.set(batch, 13);
  return out;
}

/**
 * Cuts a byte stream into frames. Holds at most one frame's bytes
 * (`maxFrameBytes`) beyond what has been handed out; a longer length prefix
 * is refused before any of its body is buffered.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private maxFrameBytes: number) {
    if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < HEADER_BYTES) throw new RangeError(`maxFrameBytes must be an integer >= ${HEADER_BYTES}`);
  }

  /** Lower or raise the bound (a connection allows only small frames until it is authenticated). */
  setMaxFrameBytes(bytes: number): void {
    this.maxFrameBytes = bytes;
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Feed bytes; every complete frame is passed to `onFrame` in order. Throws NodeWireError on malformed input. */
  push(chunk: Buffer, onFrame: (f: Frame) => void): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.buffered < 4) return;
      const head = this.peek(4);
      const length = head.readUInt32BE(0);
      if (length < 1 || length + 4 > this.maxFrameBytes) throw new NodeWireError(`frame of ${length} bytes (at most ${this.maxFrameBytes - 4} allowed here)`);
      if (this.buffered < 4 + length) return;
      const bytes = this.take(4 + length);
      onFrame(decodeFrame(bytes.subarray(4)));
    }
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  private take(n: number): Buffer {
    const first = this.peek(n);
    // a copy in its own ArrayBuffer (Buffer.alloc never uses the shared pool): a batch's buffer is transferred onwards
    const out = Buffer.alloc(n);
    first.copy(out, 0, 0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return out;
  }
}

/** One frame's kind and body (without the length prefix). */
export function decodeFrame(bytes: Buffer): Frame {
  const kind = bytes[0]!;
  if (!KINDS.has(kind)) throw new NodeWireError(`unknown frame kind ${kind}`);
  if (kind === FrameKind.Batch) {
    if (bytes.length < 9) throw new NodeWireError(`batch frame of ${bytes.length} bytes is truncated`);
    return { kind, to: bytes.readInt32BE(1), from: bytes.readInt32BE(5), batch: bytes.subarray(9) };
  }
  let body: unknown;
  try {
    body = JSON.parse(bytes.subarray(1).toString('utf8'));
  } catch {
    throw new NodeWireError(`frame kind ${kind} does not hold valid JSON`);
  }
  return { kind: kind as JsonFrame['kind'], body };
}
