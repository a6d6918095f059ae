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
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { Cluster } from '../../index.js';
import { InvalidOptionError, InvalidValueError } from '../../index.js';
import { parseFloatText, parseIntegerText } from '../../versioning/counter-base.js';
import { recordRequest } from '../metrics.js';
import { registerAdminRoutes } from './admin-routes.js';
import { clientErrorHandler, errorBody, HttpError } from './errors.js';
import { bodyValue, CONTENT_TYPES, decodeKey, parseQuery, siblingOf, typeOf, writeOptions, type SiblingsBody } from './request.js';

export type { SiblingsBody, SiblingType } from './request.js';

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

  app.route({
    method: ['POST', 'PATCH', 'OPTIONS'],
    url: '/kv/:key',
    handler: async (request, reply) => sendError(request, reply, new HttpError(405, 'METHOD_NOT_ALLOWED', `${request.method} is not supported on /kv/:key (allowed: ${KV_METHODS})`)),
  });

  registerAdminRoutes(app, cluster);

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

