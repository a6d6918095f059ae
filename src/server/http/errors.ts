// How the HTTP front end reports errors: every one as JSON,
// { "error": { "code", "message", … } }, with the status its code maps to.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError } from 'fastify';
import { QuorumError, RingkvError, TooManySiblingsError } from '../../index.js';

/** Error codes of the HTTP layer itself (beside RingkvError codes). */
export type HttpErrorCode =
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
export class HttpError extends Error {
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

/** The error body and status for anything a handler threw. */
export function errorBody(err: unknown): { status: number; body: { error: Record<string, unknown> & { code: string; message: string } } } {
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
export function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
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
