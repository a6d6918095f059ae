import { InvalidKeyError, InvalidValueError, PairTooLargeError } from '../errors.js';
import { ValueKind, type Sibling } from '../versioning/sibling.js';
import { decodeCounter, value as counterValue } from '../versioning/counter.js';

/** A JSON-able value (what JSON.stringify/parse round-trips). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
/** What may be stored: bytes, a string, or a JSON-able object; each is read back as the same type. */
export type Value = Buffer | Uint8Array | string | JsonValue;
export type Key = string | Buffer | Uint8Array;


export function encodeKey(key: unknown, maxKeyBytes: number): Uint8Array {
  let bytes: Uint8Array;
  if (typeof key === 'string') bytes = Buffer.from(key, 'utf8'); // pooled for short strings: cheaper than TextEncoder
  else if (key instanceof Uint8Array) bytes = key;
  else throw new InvalidKeyError(`a key must be a string or a Buffer, got ${key === null ? 'null' : typeof key}`);
  if (bytes.length === 0) throw new InvalidKeyError('a key must not be empty');
  if (bytes.length > maxKeyBytes) throw new InvalidKeyError(`key is ${bytes.length} bytes, over maxKeyBytes ${maxKeyBytes}`);
  return bytes;
}

export function encodeValue(value: unknown): { kind: ValueKind; data: Uint8Array } {
  if (value instanceof Uint8Array) return { kind: ValueKind.Bytes, data: value };
  if (typeof value === 'string') return { kind: ValueKind.String, data: Buffer.from(value, 'utf8') };
  if (value === null || typeof value === 'boolean') return { kind: ValueKind.Json, data: Buffer.from(JSON.stringify(value)) };
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new InvalidValueError(`a number value must be finite, got ${value}`);
    return { kind: ValueKind.Json, data: Buffer.from(JSON.stringify(value)) };
  }
  if (typeof value === 'object') {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (err) {
      throw new InvalidValueError(`value is not JSON-able: ${(err as Error).message}`);
    }
    if (text === undefined) throw new InvalidValueError('value is not JSON-able');
    return { kind: ValueKind.Json, data: Buffer.from(text, 'utf8') };
  }
  throw new InvalidValueError(`a value must be a Buffer, a string or a JSON-able object, got ${typeof value}`);
}

export function checkPairSize(key: Uint8Array, data: Uint8Array, maxPairBytes: number): void {
  const size = key.length + data.length;
  if (size > maxPairBytes) throw new PairTooLargeError(size, maxPairBytes);
}

export function decodeValue(s: Sibling): Value {
  switch (s.kind) {
    case ValueKind.Bytes:
      return Buffer.from(s.data); // a copy: the caller owns it
    case ValueKind.String:
      return Buffer.from(s.data.buffer, s.data.byteOffset, s.data.length).toString('utf8');
    case ValueKind.Json:
      return JSON.parse(Buffer.from(s.data.buffer, s.data.byteOffset, s.data.length).toString('utf8')) as JsonValue;
    case ValueKind.Counter:
      return counterValue(decodeCounter(s.data)); // a counter reads as its value, a number
    default:
      throw new Error(`cannot decode value kind ${s.kind}`);
  }
}
