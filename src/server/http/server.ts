/**
 * The HTTP front end: a fastify app over the public `Cluster` API.
 *
 *   GET    /kv/:key   ?r=&timeoutMs=&strict=   → 200 value | 300 siblings | 404
 *   PUT    /kv/:key   ?w=&timeoutMs=&strict=&sibling=&ttlMs=   → 204   (body typed by Content-Type)
 *   DELETE /kv/:key   ?w=&timeoutMs=&strict=            → 204
 *   GET    /status                              → ring, actors, health
 *   GET    /metrics                             → Prometheus text
 *
 * The causal context travels in the `X-Ringkv-Context` header both ways.
 * Writes mean what the library's do: without the header a PUT replaces and a
 * DELETE deletes what the coordinating replica holds; with it (even empty: a
 * missing key's) they supersede what it saw; `sibling=true` adds a blind sibling.
 * Every error is JSON: `{ "error": { "code", "message", … } }`.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { TextDecoder } from 'node:util';
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Cluster, Consistency, PlanChange, Value } from '../../index.js';
import { InvalidOptionError, InvalidValueError, QuorumError, RingkvError, TooManySiblingsError } from '../../index.js';
import { parseFloatText, parseIntegerText } from '../../versioning/counter-base.js';
import { metricsContentType, recordRequest, renderMetrics, statsOrNull } from '../metrics.js';

export interface HttpServerOptions {
  /** Interface to bind (the caller decides; 127.0.0.1 keeps the server local). */
  host: string;
  /** 0 = an ephemeral port (the one chosen is returned). */
  port: number;
  /** Host header allowlist (DNS-rebinding defence), e.g. ['127.0.0.1', 'localhost']; a port suffix is ignored. */
  allowedHosts: readonly string[];
  /** Largest request body accepted; larger ones get 413. */
  bodyLimitBytes: number;
}

export const CONTEXT_HEADER = 'x-ringkv-context';
/** On a GET of a value that expires: when (ms since the epoch). */
const EXPIRES_HEADER = 'x-ringkv-expires-at';

/** Sibling type in a 300 body. */
export type SiblingType = 'json' | 'string' | 'bytes';

/** A 300 Multiple Choices body: every sibling, bytes as base64. */
export interface SiblingsBody {
  siblings: { type: SiblingType; value: unknown }[];
}

const CONTENT_TYPES: Record<SiblingType, string> = {
  json: 'application/json; charset=utf-8',
  string: 'text/plain; charset=utf-8',
  bytes: 'application/octet-stream',
};

/** Error codes of the HTTP layer itself (beside RingkvError codes). */
type HttpErrorCode =
  | 'NOT_FOUND'
  | 'NO_ROUTE'
  | 'METHOD_NOT_ALLOWED'
  | 'HOST_NOT_ALLOWED'
  | 'BODY_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'BAD_REQUEST'
  | 'HEADERS_TOO_LARGE'
  | 'REQUEST_TIMEOUT'
  | 'INTERNAL';

/** An error the HTTP layer raises with its status and code. */
class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: HttpErrorCode | RingkvError['code'],
    message: string,
  ) {
    super(message);
  }
}

/** HTTP status of each RingkvError code. */
const STATUS_OF_CODE: Record<RingkvError['code'], number> = {
  INVALID_KEY: 400,
  INVALID_VALUE: 400,
  INVALID_CONTEXT: 400,
  INVALID_OPTION: 400,
  IMPOSSIBLE_QUORUM: 400,
  PAIR_TOO_LARGE: 413,
  TOO_MANY_SIBLINGS: 409,
  QUORUM_NOT_REACHED: 503,
  OVERLOADED: 503,
  CLUSTER_CLOSED: 503,
  LAYOUT_MISMATCH: 500,
  UNKNOWN_ACTOR: 500,
  DATA_DIR_LOCKED: 500, // raised only by a start, never by a request
  NOT_A_COUNTER: 409, // the key holds a value an increment cannot start from
  COUNTER_OVERFLOW: 409,
  NOT_A_REPLICA: 503, // a request crossing a ring switch becomes an OverloadedError before it gets here
  INTERNAL: 500,
};

/** HTTP-layer code of a fastify error status. */
const CODE_OF_STATUS: Record<number, HttpErrorCode> = {
  400: 'BAD_REQUEST',
  404: 'NO_ROUTE',
  405: 'METHOD_NOT_ALLOWED',
  413: 'BODY_TOO_LARGE',
  414: 'BAD_REQUEST',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

const KV_PREFIX = '/kv/';
const KV_METHODS = 'GET, HEAD, PUT, DELETE';

export async function startHttpServer(cluster: Cluster, options: HttpServerOptions): Promise<{ port: number; close(): Promise<void> }> {
  checkOptions(options);
  const allowed = new Set(options.allowedHosts.map(normalizeHost));
  /** Metrics outcome of a request (when not derived from its status). */
  const outcomes = new WeakMap<FastifyRequest, string>();

  const sendError = (request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply => {
    const { status, body } = errorBody(err);
    outcomes.set(request, body.error.code.toLowerCase());
    if (body.error.code === 'OVERLOADED') void reply.header('retry-after', '1');
    if (body.error.code === 'METHOD_NOT_ALLOWED') void reply.header('allow', KV_METHODS);
    return reply.code(status).type('application/json').send(JSON.stringify(body));
  };

  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimitBytes,
    // Keys are up to maxKeyBytes (≤ 1900), each byte up to 5 characters once percent-encoded and escaped.
    routerOptions: { maxParamLength: 16384 },
    /*
     * find-my-way decodes paths with decodeURI and refuses a path that is not
     * percent-encoded UTF-8 (e.g. %FF), but binary keys need exactly that. So
     * each '%' of a /kv/ path is escaped as '%25' before routing: the router
     * then hands the :key parameter over still percent-encoded, and
     * decodeKey() turns it into the key's bytes.
     */
    rewriteUrl: (req) => {
      const url = req.url ?? '/';
      if (!url.startsWith(KV_PREFIX)) return url;
      const end = url.search(/[?#]/);
      const path = end === -1 ? url : url.slice(0, end);
      return path.replaceAll('%', '%25') + (end === -1 ? '' : url.slice(end));
    },
    // Requests Node's HTTP parser rejects (huge headers, garbage) never reach fastify's routes or hooks.
    clientErrorHandler,
    // Errors the router raises before any hook runs (malformed URL, too long a parameter).
    frameworkErrors: (err, request, reply) => {
      if (!hostAllowed(request.headers.host, allowed)) return sendError(request, reply, hostError(request.headers.host));
      return sendError(request, reply, err);
    },
  });

  // The raw body of every request, whatever its Content-Type: the PUT handler types it.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  // DNS-rebinding defence: before routing results are used, before any body is read.
  app.addHook('onRequest', async (request, reply) => {
    if (!hostAllowed(request.headers.host, allowed)) return sendError(request, reply, hostError(request.headers.host));
    return undefined;
  });

  app.addHook('onResponse', async (request, reply) => {
    const op = operationOf(request);
    const status = reply.statusCode;
    const outcome = outcomes.get(request) ?? (status < 400 ? 'ok' : status === 404 ? 'not_found' : `http_${status}`);
    recordRequest('http', op, outcome, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err, request, reply) => sendError(request, reply, err));
  app.setNotFoundHandler((request, reply) => sendError(request, reply, new HttpError(404, 'NO_ROUTE', `no route ${request.method} ${request.originalUrl.split('?')[0]}`)));

  app.get<{ Params: { key: string } }>('/kv/:key', async (request, reply) => {
    const key = decodeKey(request.params.key);
    const q = parseQuery(request.query, ['r', 'timeoutMs', 'strict']);
    const res = await cluster.get(key, { ...(q.r !== undefined && { r: q.r }), ...(q.timeoutMs !== undefined && { timeoutMs: q.timeoutMs }) });
    void reply.header('cache-control', 'no-store');
    if (res.context !== '') void reply.header(CONTEXT_HEADER, res.context);
    if (!res.found) {
      outcomes.set(request, 'not_found');
      return reply.code(404).type('application/json').send(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'key not found' } }));
    }
    if (res.values.length > 1) {
      const body: SiblingsBody = { siblings: res.values.map(siblingOf) };
      return reply.code(300).type('application/json').send(JSON.stringify(body));
    }
    const value = res.values[0]!;
    if (res.expiresAtMs[0]! > 0) void reply.header(EXPIRES_HEADER, String(res.expiresAtMs[0]));
    const type = typeOf(value);
    const payload = type === 'bytes' ? Buffer.from(value as Uint8Array) : type === 'string' ? (value as string) : JSON.stringify(value);
    return reply.code(200).type(CONTENT_TYPES[type]).send(payload);
  });

  app.put<{ Params: { key: string } }>('/kv/:key', async (request, reply) => {
    const key = decodeKey(request.params.key);
    const q = parseQuery(request.query, ['w', 'timeoutMs', 'strict', 'sibling', 'ttlMs']);
    const value = bodyValue(request.headers['content-type'], request.body as Buffer | undefined);
    const res = await cluster.put(key, value, writeOptions(q, request.headers[CONTEXT_HEADER]));
    if (res.context !== '') void reply.header(CONTEXT_HEADER, res.context);
    return reply.code(204).send();
  });

  app.delete<{ Params: { key: string } }>('/kv/:key', async (request, reply) => {
    const key = decodeKey(request.params.key);
    const q = parseQuery(request.query, ['w', 'timeoutMs', 'strict']);
    const res = await cluster.delete(key, writeOptions(q, request.headers[CONTEXT_HEADER]));
    if (res.context !== '') void reply.header(CONTEXT_HEADER, res.context);
    return reply.code(204).send();
  });

  // POST /kv/:key/increment?by=N[&float=true]: add N to the key's PN-counter; 200 {"value": new value}.
  app.post<{ Params: { key: string } }>('/kv/:key/increment', async (request, reply) => {
    const key = decodeKey(request.params.key);
    const q = parseQuery(request.query, ['by', 'float', 'w', 'timeoutMs', 'strict']);
    if (q.by === undefined) throw new InvalidOptionError('query parameter by (the increment) is required');
    const float = q.float === true;
    const by = float ? parseFloatText(q.by) : parseIntegerText(q.by);
    if (by === null) throw new InvalidValueError(float ? `by must be a finite number, got ${JSON.stringify(q.by)}` : `by must be an integer within ±(2^53-1), got ${JSON.stringify(q.by)}`);
    const res = await cluster.increment(key, by, { ...writeOptions(q, undefined), float });
    if (res.context !== '') void reply.header(CONTEXT_HEADER, res.context);
    return reply.code(200).header('cache-control', 'no-store').type('application/json').send(JSON.stringify({ value: res.value }));
  });

  // ---- membership admin: POST /actors {zone?, weight?} · DELETE /actors/:id · POST /plan {changes: [...]} · POST /cleanup ----
  const jsonBody = (body: unknown): Record<string, unknown> => {
    const buf = body as Buffer | undefined;
    if (buf === undefined || buf.length === 0) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(buf.toString('utf8'));
    } catch {
      throw new HttpError(400, 'INVALID_OPTION', 'the body must be a JSON object');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new HttpError(400, 'INVALID_OPTION', 'the body must be a JSON object');
    return parsed as Record<string, unknown>;
  };
  app.post('/actors', async (request, reply) => {
    parseQuery(request.query, []);
    const body = jsonBody(request.body);
    for (const k of Object.keys(body)) if (k !== 'zone' && k !== 'weight') throw new InvalidOptionError(`unknown field '${k}' (allowed: zone, weight)`);
    return reply.send(await cluster.addActor(body as { zone?: string; weight?: number }));
  });
  app.delete('/actors/:id', async (request, reply) => {
    parseQuery(request.query, []);
    const id = Number((request.params as { id: string }).id);
    if (!Number.isInteger(id) || id < 0) throw new InvalidOptionError(`actor id must be a non-negative integer, got ${JSON.stringify((request.params as { id: string }).id)}`);
    return reply.send(await cluster.removeActor(id));
  });
  app.post('/cleanup', async (request, reply) => {
    parseQuery(request.query, []);
    return reply.send(await cluster.cleanup());
  });
  app.post('/plan', async (request, reply) => {
    parseQuery(request.query, []);
    const changes = jsonBody(request.body)['changes'];
    if (!Array.isArray(changes)) throw new InvalidOptionError('the body must be {"changes": [{"kind": "add", "zone"?, "weight"?} | {"kind": "remove", "id"}]}');
    return reply.send(await cluster.plan(changes as PlanChange[]));
  });

  app.route({
    method: ['POST', 'PATCH', 'OPTIONS'],
    url: '/kv/:key',
    handler: async (request, reply) => sendError(request, reply, new HttpError(405, 'METHOD_NOT_ALLOWED', `${request.method} is not supported on /kv/:key (allowed: ${KV_METHODS})`)),
  });

  app.get('/status', async (request, reply) => {
    parseQuery(request.query, []);
    const members = cluster.members();
    const stats = await statsOrNull(cluster);
    const byId = new Map((stats ?? []).map((s) => [s.id, s]));
    const actors = members.map((m) => {
      const s = byId.get(m.id);
      return {
        id: m.id,
        zone: m.zone,
        tokens: m.tokens,
        replicaShare: m.replicaShare,
        status: m.status,
        keys: s?.keys ?? null,
        coordinated: s === undefined ? null : { get: s.coordinatedGets, put: s.coordinatedPuts },
      };
    });
    const body = {
      health: members.every((m) => m.status === 'up') ? 'ok' : 'degraded',
      ring: { n: cluster.n, actors: members.length, vnodes: members.reduce((sum, m) => sum + m.tokens, 0) },
      actors,
      // reads this process served from the replicas' snapshots, and those it sent to coordinators
      reads: ((p) => ({ direct: p.direct, coordinated: p.coordinated, directReadRepairs: p.directReadRepairs }))(cluster.readPaths()),
      statsAvailable: stats !== null,
      // a node of a multi-node cluster: the nodes, their actors, the ring version and etcd's state (null on a single machine)
      nodes: cluster.nodes(),
    };
    return reply.header('cache-control', 'no-store').type('application/json').send(JSON.stringify(body));
  });

  app.get('/metrics', async (request, reply) => {
    parseQuery(request.query, []);
    const text = await renderMetrics(cluster);
    return reply.header('cache-control', 'no-store').type(metricsContentType).send(text);
  });

  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error(`unexpected server address ${String(address)}`);
  let closing: Promise<void> | undefined;
  return {
    port: address.port,
    close: () => (closing ??= app.close()),
  };
}

function checkOptions(o: HttpServerOptions): void {
  if (o === null || typeof o !== 'object') throw new InvalidOptionError('startHttpServer needs an options object');
  if (typeof o.host !== 'string' || o.host.length === 0) throw new InvalidOptionError('host must be a non-empty string');
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new InvalidOptionError(`port must be an integer in 0..65535, got ${String(o.port)}`);
  if (!Array.isArray(o.allowedHosts) || o.allowedHosts.length === 0 || o.allowedHosts.some((h) => typeof h !== 'string' || h.length === 0)) {
    throw new InvalidOptionError('allowedHosts must be a non-empty array of host names');
  }
  if (!Number.isInteger(o.bodyLimitBytes) || o.bodyLimitBytes < 1) throw new InvalidOptionError(`bodyLimitBytes must be a positive integer, got ${String(o.bodyLimitBytes)}`);
}

/** Lower case, without a port suffix or IPv6 brackets: '[::1]:8080' → '::1', 'LocalHost:80' → 'localhost'. */
function normalizeHost(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const close = h.indexOf(']');
    return close === -1 ? h : h.slice(1, close);
  }
  const colon = h.indexOf(':');
  // More than one colon: a bare IPv6 address (only in the allowlist; a Host header needs brackets).
  if (colon === -1 || h.indexOf(':', colon + 1) !== -1) return h;
  return h.slice(0, colon);
}

function hostAllowed(host: string | undefined, allowed: ReadonlySet<string>): boolean {
  return host !== undefined && host.length > 0 && allowed.has(normalizeHost(host));
}

function hostError(host: string | undefined): HttpError {
  return new HttpError(421, 'HOST_NOT_ALLOWED', host === undefined ? 'the request has no Host header' : `Host ${JSON.stringify(host)} is not served here`);
}

function operationOf(request: FastifyRequest): string {
  switch (request.routeOptions.url) {
    case '/kv/:key':
      if (request.method === 'GET' || request.method === 'HEAD') return 'get';
      if (request.method === 'PUT') return 'put';
      if (request.method === 'DELETE') return 'delete';
      return 'other';
    case '/kv/:key/increment':
      return 'increment';
    case '/status':
      return 'status';
    case '/metrics':
      return 'metrics';
    default:
      return 'other';
  }
}

/** The error body and status for anything a handler threw. */
function errorBody(err: unknown): { status: number; body: { error: Record<string, unknown> & { code: string; message: string } } } {
  if (err instanceof RingkvError) {
    const error: Record<string, unknown> & { code: string; message: string } = { code: err.code, message: err.message };
    if (err instanceof QuorumError) Object.assign(error, { operation: err.operation, answered: err.answered, needed: err.needed, replicas: err.replicas });
    if (err instanceof TooManySiblingsError) Object.assign(error, { siblings: err.siblings, maxSiblings: err.maxSiblings });
    return { status: STATUS_OF_CODE[err.code] ?? 500, body: { error } };
  }
  if (err instanceof HttpError) return { status: err.statusCode, body: { error: { code: err.code, message: err.message } } };
  // fastify's own errors (body too large, malformed URL, …) carry a 4xx statusCode.
  const fe = err as Partial<FastifyError>;
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const status = fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 413 : fe.statusCode;
    const message =
      fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
        ? 'the Content-Type header is not a valid media type (type/subtype[; parameters])'
        : fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? `${fe.message ?? 'request body is too large'} (bodyLimitBytes)`
          : (fe.message ?? 'bad request');
    return { status, body: { error: { code: CODE_OF_STATUS[status] ?? 'BAD_REQUEST', message } } };
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) } } };
}

/**
 * Node's HTTP parser refused the request: answer in the documented error
 * shape (fastify's default writes its own), then close, since the rest of the
 * stream cannot be trusted to be HTTP.
 */
function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return; // the peer is gone: nobody to answer
  const [status, code, message]: [number, HttpErrorCode, string] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'HEADERS_TOO_LARGE', 'request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'REQUEST_TIMEOUT', 'the request was not received in time']
        : [400, 'BAD_REQUEST', `malformed HTTP request${err.code ? ` (${err.code})` : ''}`];
  if (socket.writable) {
    const body = JSON.stringify({ error: { code, message } });
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

/** A :key parameter (still percent-encoded, see rewriteUrl) → the key's bytes. */
function decodeKey(param: string): Buffer {
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

interface QueryOptions {
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
function parseQuery(query: unknown, allowed: readonly ('r' | 'w' | 'timeoutMs' | 'strict' | 'sibling' | 'ttlMs' | 'by' | 'float')[]): QueryOptions {
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
function writeOptions(q: QueryOptions, context: string | string[] | undefined): { w?: Consistency; timeoutMs?: number; context?: string; strict?: boolean; sibling?: boolean; ttlMs?: number } {
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
function bodyValue(contentType: string | undefined, body: Buffer | undefined): Value {
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

function typeOf(v: Value): SiblingType {
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'string') return 'string';
  return 'json';
}

function siblingOf(v: Value): { type: SiblingType; value: unknown } {
  const type = typeOf(v);
  return { type, value: type === 'bytes' ? Buffer.from(v as Uint8Array).toString('base64') : v };
}
