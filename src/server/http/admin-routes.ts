// The HTTP routes beside /kv/: membership admin (POST /actors {zone?,
// weight?}, DELETE /actors/:id, POST /plan {changes: [...]}, POST /cleanup),
// GET /status and GET /metrics.
import type { FastifyInstance } from 'fastify';
import type { Cluster, PlanChange } from '../../index.js';
import { InvalidOptionError } from '../../index.js';
import { metricsContentType, renderMetrics, statsOrNull } from '../metrics.js';
import { HttpError } from './errors.js';
import { parseQuery } from './request.js';

export function registerAdminRoutes(app: FastifyInstance, cluster: Cluster): void {
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
}
