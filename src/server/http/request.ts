// What an HTTP request says, checked: the key of a /kv/ path, the query
// parameters, a PUT body typed by its Content-Type; and how a stored value
// is typed back in a reply.
import { TextDecoder } from 'node:util';
import type { Consistency, Value } from '../../index.js';
import { InvalidOptionError } from '../../index.js';
import { HttpError } from './errors.js';

/** Sibling type in a 300 body. */
export type SiblingType = 'json' | 'string' | 'bytes';

/** A 300 Multiple Choices body: every sibling, bytes as base64. */
export interface SiblingsBody {
  siblings: { type: SiblingType; value: unknown }[];
}

export const CONTENT_TYPES: Record<SiblingType, string> = {
  json: 'application/json; charset=utf-8',
  string: 'text/plain; charset=utf-8',
  bytes: 'application/octet-stream',
};

/** A :key parameter (still percent-encoded, see rewriteUrl) → the key's bytes. */
export function decodeKey(param: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < param.length; i++) {
    const c = param.charCodeAt(i);
    if (c === 0x25) {
      const hex = param.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new HttpError(400, 'INVALID_KEY', `malformed percent-encoding in key at '${param.slice(i, i + 3)}'`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      // Not sent by conforming clients; take the character as UTF-8.
      for (const b of Buffer.from(param[i]!, 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes);
}

export interface QueryOptions {
  /** An increment, as given (parsed by the route: integer or float syntax). */
  by?: string;
  float?: boolean;
  r?: Consistency;
  w?: Consistency;
  timeoutMs?: number;
  strict?: boolean;
  sibling?: boolean;
  ttlMs?: number;
}

/** Validate the query string: only `allowed` parameters, each once, each well-formed. */
export function parseQuery(query: unknown, allowed: readonly ('r' | 'w' | 'timeoutMs' | 'strict' | 'sibling' | 'ttlMs' | 'by' | 'float')[]): QueryOptions {
  const out: QueryOptions = {};
  for (const [name, raw] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    if (!(allowed as readonly string[]).includes(name)) {
      throw new InvalidOptionError(`unknown query parameter '${name}'${allowed.length === 0 ? ' (this route takes none)' : ` (allowed: ${allowed.join(', ')})`}`);
    }
    if (typeof raw !== 'string') throw new InvalidOptionError(`query parameter '${name}' must be given once`);
    switch (name) {
      case 'r':
      case 'w':
        out[name] = consistency(name, raw);
        break;
      case 'timeoutMs':
        if (!/^[0-9]{1,10}$/.test(raw)) throw new InvalidOptionError(`timeoutMs must be a whole number of milliseconds, got ${JSON.stringify(raw)}`);
        out.timeoutMs = Number(raw);
        break;
      case 'strict':
        // strict=true refuses sloppy substitutes (writes); reads always use the key's own replicas
        if (raw !== 'true' && raw !== 'false') throw new InvalidOptionError(`strict must be 'true' or 'false', got ${JSON.stringify(raw)}`);
        out.strict = raw === 'true';
        break;
      case 'by':
        out.by = raw;
        break;
      case 'float':
        // float=true (POST …/increment): INCRBYFLOAT
        if (raw !== 'true' && raw !== 'false') throw new InvalidOptionError(`float must be 'true' or 'false', got ${JSON.stringify(raw)}`);
        out.float = raw === 'true';
        break;
      case 'sibling':
        // sibling=true (PUT): a blind sibling beside whatever the key holds, superseding nothing
        if (raw !== 'true' && raw !== 'false') throw new InvalidOptionError(`sibling must be 'true' or 'false', got ${JSON.stringify(raw)}`);
        out.sibling = raw === 'true';
        break;
      case 'ttlMs':
        // the value expires this many ms from now (the range is the cluster's to check)
        if (!/^[0-9]{1,16}$/.test(raw)) throw new InvalidOptionError(`ttlMs must be a whole number of milliseconds, got ${JSON.stringify(raw)}`);
        out.ttlMs = Number(raw);
        break;
    }
  }
  return out;
}

function consistency(name: 'r' | 'w', raw: string): Consistency {
  if (raw === 'one' || raw === 'quorum' || raw === 'all') return raw;
  if (/^[0-9]{1,6}$/.test(raw)) return Number(raw); // ranges (≥ 1, ≤ n) are the cluster's to check
  throw new InvalidOptionError(`${name} must be a number or one|quorum|all, got ${JSON.stringify(raw)}`);
}

/**
 * The request options of a PUT or DELETE. A context header that is present
 * but empty is the context of a key read as missing (it saw nothing), not
 * the absence of one: a read-modify-write that echoes it back never replaces.
 */
export function writeOptions(q: QueryOptions, context: string | string[] | undefined): { w?: Consistency; timeoutMs?: number; context?: string; strict?: boolean; sibling?: boolean; ttlMs?: number } {
  if (Array.isArray(context)) throw new HttpError(400, 'INVALID_CONTEXT', 'X-Ringkv-Context must be given once');
  if (q.sibling === true && context !== undefined) throw new InvalidOptionError('sibling=true takes no X-Ringkv-Context (a context already says what to supersede)');
  return {
    ...(q.w !== undefined && { w: q.w }),
    ...(q.timeoutMs !== undefined && { timeoutMs: q.timeoutMs }),
    ...(q.strict !== undefined && { strict: q.strict }),
    ...(q.sibling === true && { sibling: true }),
    ...(q.ttlMs !== undefined && { ttlMs: q.ttlMs }),
    ...(context !== undefined && { context }),
  };
}

/** JSON: a leading BOM is dropped (RFC 8259 lets parsers ignore it). Text: kept, so the bytes read back are the bytes written. */
const utf8Json = new TextDecoder('utf-8', { fatal: true });
const utf8Text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A PUT body → the value to store, typed by Content-Type. */
export function bodyValue(contentType: string | undefined, body: Buffer | undefined): Value {
  const bytes = body ?? Buffer.alloc(0);
  if (contentType === undefined) return bytes;
  const [mediaType = '', ...params] = contentType.split(';').map((p) => p.trim());
  const type = mediaType.toLowerCase();
  if (type === 'application/json') {
    const text = decodeUtf8(utf8Json, bytes, 'a JSON body');
    if (text.trim() === '') throw new HttpError(400, 'INVALID_VALUE', 'the JSON body is empty');
    try {
      return JSON.parse(text) as Value;
    } catch (err) {
      throw new HttpError(400, 'INVALID_VALUE', `the body is not valid JSON: ${(err as Error).message}`);
    }
  }
  if (type.startsWith('text/')) {
    const charset = params.map((p) => /^charset\s*=\s*"?([^";]*)"?$/i.exec(p)?.[1]).find((c) => c !== undefined);
    if (charset !== undefined && !/^(utf-?8|us-ascii)$/i.test(charset)) {
      throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `text bodies must be UTF-8, got charset=${charset}`);
    }
    return decodeUtf8(utf8Text, bytes, 'a text body');
  }
  return bytes;
}

function decodeUtf8(decoder: TextDecoder, bytes: Buffer, what: string): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new HttpError(400, 'INVALID_VALUE', `${what} must be valid UTF-8`);
  }
}

export function typeOf(v: Value): SiblingType {
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'string') return 'string';
  return 'json';
}

export function siblingOf(v: Value): { type: SiblingType; value: unknown } {
  const type = typeOf(v);
  return { type, value: type === 'bytes' ? Buffer.from(v as Uint8Array).toString('base64') : v };
}
