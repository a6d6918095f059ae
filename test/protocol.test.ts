import test from 'ava';
import { ByteWriter, CorruptDataError } from '../src/encoding/bytes.js';
import { decodeBatch, encodeMessage, EXPIRY_DIGEST_BYTES, MsgType, type Message } from '../src/transport/protocol.js';

function roundTrip(messages: Message[]): Message[] {
  const w = new ByteWriter();
  for (const m of messages) encodeMessage(w, m);
  const out: Message[] = [];
  decodeBatch(w.finish(), (m) => out.push(m));
  return out;
}

/** Decoded byte fields are views (Buffers): compare them as plain arrays. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return [...value];
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

const keys = [new Uint8Array([0, 0, 0, 1, 97]), new Uint8Array([0, 0, 0, 2, 98, 99])];
const digests = Uint8Array.from({ length: keys.length * EXPIRY_DIGEST_BYTES }, (_, i) => i);

test('the expiry sweep messages survive a round trip through one batch', (t) => {
  const messages: Message[] = [
    { type: MsgType.ExpiryCheck, req: 7, keys, digests },
    { type: MsgType.ExpiryCheckReply, req: 7, matched: new Uint8Array([1, 0]), hintsPending: 3 },
    { type: MsgType.ExpiryReap, keys, digests, cutoffMs: Date.UTC(2026, 11, 1) },
    { type: MsgType.ExpiryCheck, req: 8, keys: [], digests: new Uint8Array(0) },
  ];
  t.deepEqual(plain(roundTrip(messages)), plain(messages));
});

test('an expiry message whose digests do not match its keys is corrupt, and says so', (t) => {
  for (const bad of [digests.subarray(1), new Uint8Array(digests.length + EXPIRY_DIGEST_BYTES)]) {
    const w = new ByteWriter();
    encodeMessage(w, { type: MsgType.ExpiryReap, keys, digests: bad, cutoffMs: 1 });
    t.throws(() => decodeBatch(w.finish(), () => undefined), { instanceOf: CorruptDataError, message: /digest bytes for 2 keys/ });
  }
  const w = new ByteWriter();
  w.u8(MsgType.ExpiryCheck).varint(1).varint(1_000_000);
  t.throws(() => decodeBatch(w.finish(), () => undefined), { instanceOf: CorruptDataError, message: /claims 1000000 keys/ });
});
