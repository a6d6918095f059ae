/**
 * One table of put/delete cases, run against every front end: the library
 * (`Cluster`), the Redis protocol (RINGKV.PUT/DEL/GETALL, SET, DEL) and
 * HTTP (PUT/DELETE/GET /kv/:key). The same operations must leave the same
 * visible values — the README's "What a write means" table is this one.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Cluster } from '../src/index.js';
import { startHttpServer } from '../src/server/http/server.js';
import { startRespServer, type RespServer } from '../src/server/resp/server.js';

/** How a write says what it supersedes: nothing said, a context saved by an earlier step, or a blind sibling. */
type How = { readonly context?: string; readonly sibling?: true };

type Step =
  /** put `value`; `save` names the context the write returned */
  | { readonly put: string; readonly how?: How; readonly save?: string }
  | { readonly del: true; readonly how?: How; readonly save?: string }
  /** read the key and save its context under a name */
  | { readonly read: string };

interface Case {
  readonly name: string;
  readonly steps: readonly Step[];
  /** The values a read then shows, sorted (empty: not found). */
  readonly visible: readonly string[];
}

export const CASES: readonly Case[] = [
  { name: 'put, then put without a context', steps: [{ put: 'a' }, { put: 'b' }], visible: ['b'] },
  { name: 'put with the context of a read', steps: [{ put: 'a' }, { read: 'r' }, { put: 'b', how: { context: 'r' } }], visible: ['b'] },
  {
    name: 'put with a stale context',
    steps: [{ put: 'a', save: 'old' }, { put: 'b', how: { context: 'old' } }, { put: 'c', how: { context: 'old' } }],
    visible: ['b', 'c'],
  },
  { name: 'blind sibling put', steps: [{ put: 'a' }, { put: 'b', how: { sibling: true } }], visible: ['a', 'b'] },
  { name: 'put without a context resolves siblings', steps: [{ put: 'a' }, { put: 'b', how: { sibling: true } }, { put: 'c' }], visible: ['c'] },
  {
    name: 'two puts with the context of a read of a missing key',
    steps: [{ read: 'none' }, { put: 'a', how: { context: 'none' } }, { put: 'b', how: { context: 'none' } }],
    visible: ['a', 'b'],
  },
  { name: 'delete without a context', steps: [{ put: 'a' }, { del: true }], visible: [] },
  { name: 'delete without a context removes siblings', steps: [{ put: 'a' }, { put: 'b', how: { sibling: true } }, { del: true }], visible: [] },
  { name: 'delete with the context of a read', steps: [{ put: 'a' }, { read: 'r' }, { del: true, how: { context: 'r' } }], visible: [] },
  {
    name: 'delete with a stale context keeps the write it did not see',
    steps: [{ put: 'a', save: 'old' }, { put: 'b', how: { context: 'old' } }, { del: true, how: { context: 'old' } }],
    visible: ['b'],
  },
  { name: 'delete of a missing key', steps: [{ del: true }], visible: [] },
  { name: 'put after delete', steps: [{ put: 'a' }, { del: true }, { put: 'b' }], visible: ['b'] },
  { name: "put with the delete's context", steps: [{ put: 'a' }, { del: true, save: 'd' }, { put: 'b', how: { context: 'd' } }], visible: ['b'] },
  { name: 'blind sibling put after delete', steps: [{ put: 'a' }, { del: true }, { put: 'b', how: { sibling: true } }], visible: ['b'] },
];

/** One front end, reduced to what the table needs. Contexts are strings ('' included) exactly as that front end returns them. */
interface FrontEnd {
  put(key: string, value: string, how: { context?: string; sibling?: true }): Promise<string>;
  del(key: string, how: { context?: string }): Promise<string>;
  /** Every visible value, and the context of the read. */
  read(key: string): Promise<{ values: string[]; context: string }>;
}

function library(cluster: Cluster): FrontEnd {
  return {
    put: async (key, value, how) => (await cluster.put(key, value, how)).context,
    del: async (key, how) => (await cluster.delete(key, how)).context,
    read: async (key) => {
      const res = await cluster.get(key);
      return { values: res.values.map(String), context: res.context };
    },
  };
}

function resp(redis: Redis): FrontEnd {
  const args = (how: { context?: string; sibling?: true }): string[] => (how.context !== undefined ? ['CONTEXT', how.context] : how.sibling === true ? ['SIBLING'] : []);
  return {
    put: async (key, value, how) => String(await redis.call('RINGKV.PUT', key, value, ...args(how))),
    del: async (key, how) => String(await redis.call('RINGKV.DEL', key, ...args(how))),
    read: async (key) => {
      const [context, ...values] = (await redis.call('RINGKV.GETALL', key)) as string[];
      return { values, context: context! };
    },
  };
}

function http(base: string): FrontEnd {
  const CTX = 'x-ringkv-context';
  // A context, even '' (a missing key's), travels as the header; absent means "no context".
  const headers = (how: { context?: string }): Record<string, string> => (how.context !== undefined ? { [CTX]: how.context } : {});
  const write = async (method: 'PUT' | 'DELETE', key: string, how: { context?: string; sibling?: true }, body?: string): Promise<string> => {
    const query = how.sibling === true ? '?sibling=true' : '';
    const res = await fetch(`${base}/kv/${key}${query}`, {
      method,
      headers: { ...headers(how), ...(body !== undefined && { 'content-type': 'text/plain' }) },
      ...(body !== undefined && { body }),
    });
    if (res.status !== 204) throw new Error(`${method} ${key}: ${res.status} ${await res.text()}`);
    return res.headers.get(CTX) ?? '';
  };
  return {
    put: (key, value, how) => write('PUT', key, how, value),
    del: (key, how) => write('DELETE', key, how),
    read: async (key) => {
      const res = await fetch(`${base}/kv/${key}`);
      const context = res.headers.get(CTX) ?? '';
      if (res.status === 404) return { values: [], context };
      if (res.status === 200) return { values: [await res.text()], context };
      if (res.status === 300) return { values: ((await res.json()) as { siblings: { value: string }[] }).siblings.map((s) => s.value), context };
      throw new Error(`GET ${key}: ${res.status} ${await res.text()}`);
    },
  };
}

/** Run one case on one front end; the visible values, sorted. */
async function play(front: FrontEnd, key: string, steps: readonly Step[]): Promise<string[]> {
  const saved = new Map<string, string>();
  const how = (h: How | undefined): { context?: string; sibling?: true } => {
    if (h?.sibling === true) return { sibling: true };
    if (h?.context === undefined) return {};
    const context = saved.get(h.context);
    if (context === undefined) throw new Error(`the table uses context '${h.context}' before a step saved it`);
    return { context };
  };
  for (const step of steps) {
    if ('read' in step) saved.set(step.read, (await front.read(key)).context);
    else {
      const context = 'put' in step ? await front.put(key, step.put, how(step.how)) : await front.del(key, how(step.how));
      if (step.save !== undefined) saved.set(step.save, context);
    }
  }
  return (await front.read(key)).values.sort();
}

let cluster: Cluster;
let dataDir: string;
let respServer: RespServer;
let httpServer: Awaited<ReturnType<typeof startHttpServer>>;
let redis: Redis;

test.before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'ringkv-semantics-'));
  cluster = await Cluster.start({ dataDir, actors: 3, n: 3, r: 2, w: 2 });
  respServer = await startRespServer(cluster, {
    host: '127.0.0.1',
    port: 0,
    password: null,
    maxClients: 10,
    maxPipelineDepth: 64,
    limits: { maxBulkBytes: 11 * 1024, maxArgs: 1024, maxInlineBytes: 64 * 1024, maxQueryBufferBytes: 1024 * 1024 },
  });
  httpServer = await startHttpServer(cluster, { host: '127.0.0.1', port: 0, allowedHosts: ['127.0.0.1'], bodyLimitBytes: 64 * 1024 });
  redis = new Redis({ host: '127.0.0.1', port: respServer.port, maxRetriesPerRequest: 1 });
});

test.after.always(async () => {
  redis?.disconnect();
  await httpServer?.close();
  await respServer?.close();
  await cluster?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const frontEnds: Record<string, () => FrontEnd> = {
  library: () => library(cluster),
  resp: () => resp(redis),
  http: () => http(`http://127.0.0.1:${httpServer.port}`),
};

for (const [name, make] of Object.entries(frontEnds)) {
  test.serial(`the semantics table holds over ${name}`, async (t) => {
    const front = make();
    for (const [i, c] of CASES.entries()) {
      t.deepEqual(await play(front, `${name}-${i}`, c.steps), [...c.visible], c.name);
    }
  });
}

test.serial('Redis SET and DEL mean a put and a delete without a context; DEL counts what the coordinator held', async (t) => {
  const lib = library(cluster);
  await lib.put('redis-set', 'a', {});
  await lib.put('redis-set', 'b', { sibling: true });
  t.is(await redis.set('redis-set', 'c'), 'OK');
  t.deepEqual((await lib.read('redis-set')).values, ['c'], 'SET replaced both siblings');
  await lib.put('redis-del', 'a', {});
  await lib.put('redis-del', 'b', { sibling: true });
  t.is(await redis.del('redis-del', 'redis-never'), 1, 'one key held live values');
  t.deepEqual((await lib.read('redis-del')).values, []);
  t.is(await redis.del('redis-del'), 0, 'a deleted key is not counted again');
});

test.serial('bad write options are refused on every front end and change nothing', async (t) => {
  await cluster.put('refused', 'kept');
  const before = await cluster.inspect('refused');
  const { context } = await cluster.get('refused');
  await t.throwsAsync(redis.call('RINGKV.PUT', 'refused', 'x', 'SIBLING', 'CONTEXT', context), { message: /SIBLING takes no CONTEXT/ });
  await t.throwsAsync(redis.call('RINGKV.PUT', 'refused', 'x', 'SIBLING', 'SIBLING'), { message: /syntax error: RINGKV.PUT key value \[CONTEXT ctx \| SIBLING\]/ });
  await t.throwsAsync(redis.call('RINGKV.PUT', 'refused', 'x', 'CONTEXT', context, 'CONTEXT', context), { message: /syntax error/ });
  await t.throwsAsync(redis.call('RINGKV.DEL', 'refused', 'SIBLING'), { message: /syntax error: RINGKV.DEL key \[CONTEXT ctx\]/ });
  const base = `http://127.0.0.1:${httpServer.port}/kv/refused`;
  const refused = async (url: string, init: RequestInit): Promise<{ status: number; code: string }> => {
    const res = await fetch(url, init);
    return { status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code };
  };
  t.deepEqual(await refused(`${base}?sibling=true`, { method: 'PUT', body: 'x', headers: { 'x-ringkv-context': context } }), { status: 400, code: 'INVALID_OPTION' });
  t.deepEqual(await refused(`${base}?sibling=yes`, { method: 'PUT', body: 'x' }), { status: 400, code: 'INVALID_OPTION' });
  t.deepEqual(await refused(`${base}?sibling=true`, { method: 'DELETE' }), { status: 400, code: 'INVALID_OPTION' });
  t.deepEqual(await cluster.inspect('refused'), before);
});
