/** ringkv's own commands: what Redis has no word for (consistency, siblings, repair, membership). */
import type { MembershipResult, PlanChange } from '../../cluster/cluster.js';
import { err, lower, OK, parseConsistency, parseInteger, read, toBytes, type Command, type Reply } from './command-kit.js';

function addOptions(a: readonly Buffer[], from: number): { zone?: string; weight?: number } | string {
  const o: { zone?: string; weight?: number } = {};
  for (let i = from; i < a.length; i += 2) {
    if (i + 1 >= a.length) return 'ERR syntax error';
    const opt = lower(a[i]!);
    if (opt === 'zone') o.zone = a[i + 1]!.toString('utf8');
    else if (opt === 'weight') {
      const w = Number(a[i + 1]!.toString('latin1'));
      if (!Number.isFinite(w)) return 'ERR WEIGHT is not a number';
      o.weight = w;
    } else return 'ERR syntax error';
  }
  return o;
}

function membershipReply(r: MembershipResult): Reply {
  return (w) =>
    w.map([
      ['ring_version', r.ringVersion],
      ['added', r.added.join(',')],
      ['removed', r.removed.join(',')],
      ['moved_fraction', r.movedFraction.toFixed(4)],
      ['keys_streamed', r.keysStreamed],
      ['bytes_streamed', r.bytesStreamed],
      ['duration_ms', r.durationMs],
    ]);
}

/**
 * The options after RINGKV.PUT/DEL's fixed arguments: `CONTEXT ctx` (given
 * once; '' is the context of a missing key, superseding nothing) and, for a
 * put, `SIBLING`. A string is the error to answer (nothing is written).
 */
function writeArgs(a: Buffer[], from: number, put: boolean): { context?: string; sibling?: true } | string {
  const usage = put ? 'ERR syntax error: RINGKV.PUT key value [CONTEXT ctx | SIBLING]' : 'ERR syntax error: RINGKV.DEL key [CONTEXT ctx]';
  let context: string | undefined;
  let sibling = false;
  for (let i = from; i < a.length; i++) {
    const opt = lower(a[i]!);
    if (opt === 'context' && context === undefined && i + 1 < a.length) context = a[++i]!.toString('latin1');
    else if (opt === 'sibling' && put && !sibling) sibling = true;
    else return usage;
  }
  if (sibling && context !== undefined) return 'ERR SIBLING takes no CONTEXT (a context already says what to supersede)';
  return { ...(context !== undefined && { context }), ...(sibling && { sibling: true }) };
}


export const RINGKV_COMMANDS: Readonly<Record<string, Command>> = {
  'ringkv.consistency': {
    arity: -1,
    run: (ctx, client, a) => {
      if (a.length === 1) {
        return (w) =>
          w.map([
            ['r', String(client.r ?? ctx.cluster.options.r)],
            ['w', String(client.w ?? ctx.cluster.options.w)],
            ['n', ctx.cluster.n],
            ['strict', (client.strict ?? ctx.cluster.options.strict) ? 'yes' : 'no'],
            ['siblings-attr', client.siblingsAttr ? 'yes' : 'no'],
          ]);
      }
      let r = client.r;
      let wq = client.w;
      let strict = client.strict;
      let siblingsAttr = client.siblingsAttr;
      for (let i = 1; i < a.length; i += 2) {
        if (i + 1 >= a.length) return err('ERR syntax error');
        const opt = lower(a[i]!);
        if (opt === 'r') r = parseConsistency(a[i + 1]!);
        else if (opt === 'w') wq = parseConsistency(a[i + 1]!);
        else if (opt === 'strict') {
          const v = lower(a[i + 1]!);
          if (v !== 'yes' && v !== 'no') return err('ERR STRICT takes yes or no');
          strict = v === 'yes';
        } else if (opt === 'siblings-attr') {
          const v = lower(a[i + 1]!);
          if (v !== 'yes' && v !== 'no') return err('ERR SIBLINGS-ATTR takes yes or no');
          siblingsAttr = v === 'yes';
        } else return err('ERR syntax error');
      }
      // Validate against N now, so a bad setting fails here and not on every later command.
      const n = ctx.cluster.n;
      for (const [name, v] of [['r', r], ['w', wq]] as const) {
        if (typeof v === 'number' && (v < 1 || v > n)) return err(`ERR ${name}=${v} is impossible with n=${n} replicas`);
      }
      client.r = r;
      client.w = wq;
      client.strict = strict;
      client.siblingsAttr = siblingsAttr;
      return OK;
    },
  },
  'ringkv.getall': {
    arity: 2,
    run: async (ctx, client, a) => {
      const res = await read(ctx, client, a[1]!);
      return (w) => {
        w.arrayHeader(1 + res.values.length);
        w.bulk(res.context);
        for (const v of res.values) w.bulk(toBytes(v));
      };
    },
  },
  // RINGKV.PUT key value [CONTEXT ctx | SIBLING]: the library's put (no context: replace what the coordinator holds).
  'ringkv.put': {
    arity: -3,
    run: async (ctx, client, a) => {
      const opts = writeArgs(a, 3, true);
      if (typeof opts === 'string') return err(opts);
      const res = await ctx.cluster.put(a[1]!, a[2]!, { w: client.w, strict: client.strict, ...opts });
      return (w) => w.bulk(res.context);
    },
  },
  // RINGKV.DEL key [CONTEXT ctx]: the library's delete (no context: delete what the coordinator holds).
  'ringkv.del': {
    arity: -2,
    run: async (ctx, client, a) => {
      const opts = writeArgs(a, 2, false);
      if (typeof opts === 'string') return err(opts);
      const res = await ctx.cluster.delete(a[1]!, { w: client.w, strict: client.strict, ...opts });
      return (w) => w.bulk(res.context);
    },
  },
  'ringkv.inspect': {
    arity: 2,
    run: async (ctx, _client, a) => {
      const views = await ctx.cluster.inspect(a[1]!);
      return (w) => {
        w.arrayHeader(views.length);
        for (const v of views) {
          w.map([
            ['actor', v.actor],
            ['role', v.hintFor === undefined ? v.role : `hint for ${v.hintFor}`],
            ['status', v.status],
            ['found', v.found === null ? 'unknown' : v.found ? 'yes' : 'no'],
            ['context', v.context],
            ['versions', v.versions.map((x) => (x.deleted ? '(deleted)' : toBytes(x.value).toString())).join(' | ')],
          ]);
        }
      };
    },
  },
  'ringkv.repair': {
    arity: 1,
    run: async (ctx) => {
      const r = await ctx.cluster.repair();
      return (w) =>
        w.map([
          ['arcs_differing', r.arcsDiffering],
          ['leaves_differing', r.leavesDiffering],
          ['keys_sent', r.keysSent],
          ['bytes_sent', r.bytesSent],
          ['tombstones_reaped', r.tombstonesReaped],
          ['pushes_incomplete', r.pushesIncomplete],
          ['duration_ms', r.durationMs],
        ]);
    },
  },
  // RINGKV.CLEANUP: every actor deletes its copies of ranges it no longer replicates (after membership changes)
  'ringkv.cleanup': {
    arity: 1,
    run: async (ctx) => {
      const r = await ctx.cluster.cleanup();
      return (w) =>
        w.map([
          ['removed', r.removed],
          ['failed', r.failed],
          ...r.actors.map((a): [string, string] => [`actor${a.id}`, `scanned=${a.scanned},removed=${a.removed},failed=${a.failed}`]),
        ]);
    },
  },
  // membership: RINGKV.ADDACTOR [ZONE z] [WEIGHT w] · RINGKV.REMOVEACTOR id · RINGKV.PLAN ADD [ZONE z] [WEIGHT w] | REMOVE id
  'ringkv.addactor': {
    arity: -1,
    run: async (ctx, _client, a) => {
      const o = addOptions(a, 1);
      if (typeof o === 'string') return err(o);
      return membershipReply(await ctx.cluster.addActor(o));
    },
  },
  'ringkv.removeactor': {
    arity: 2,
    run: async (ctx, _client, a) => membershipReply(await ctx.cluster.removeActor(parseInteger(a[1]!))),
  },
  'ringkv.plan': {
    arity: -2,
    run: async (ctx, _client, a) => {
      const kind = lower(a[1]!);
      let change: PlanChange;
      if (kind === 'remove' && a.length === 3) change = { kind: 'remove', id: parseInteger(a[2]!) };
      else if (kind === 'add') {
        const o = addOptions(a, 2);
        if (typeof o === 'string') return err(o);
        change = { kind: 'add', ...o };
      } else return err('ERR syntax error: RINGKV.PLAN ADD [ZONE z] [WEIGHT w] | REMOVE id');
      const plan = await ctx.cluster.plan([change]);
      return (w) =>
        w.map([
          ['ring_version', plan.ringVersion],
          ['moved_fraction', plan.movedFraction.toFixed(4)],
          ['keys', plan.keys],
          ['bytes', plan.bytes],
          ['transfers', plan.transfers.map((t) => `${t.from}->${t.to} ranges=${t.ranges.length} keys=${t.keys} bytes=${t.bytes}`).join('; ')],
        ]);
    },
  },
  // a node of a multi-node cluster: RINGKV.NODES · RINGKV.LEAVE · RINGKV.NODEFAULTS [PARTITION n ...] [DROP n p] [DELAY n ms]
  'ringkv.nodes': {
    arity: 1,
    run: (ctx) => {
      const s = ctx.cluster.nodes();
      if (s === null) return err('ERR not a node of a multi-node cluster (start with --join)');
      return (w) =>
        w.map([
          ['cluster', s.cluster],
          ['node', s.node],
          ['ring_version', s.ringVersion],
          ['change', s.change === null ? 'none' : `${s.change.phase} by ${s.change.by}`],
          ['etcd', s.etcd.reachable ? 'reachable' : `unreachable: ${s.etcd.lastError}`],
          ...s.nodes.map((n): [string, string] => [
            `node:${n.name}`,
            `node_no=${n.nodeNo},address=${n.address},actors=${n.actors.join('/')},registered=${n.registered ? 'yes' : 'no'},connected=${n.connected ? 'yes' : 'no'},clients=${n.clientAddresses.join(' ')}`,
          ]),
        ]);
    },
  },
  'ringkv.leave': {
    arity: 1,
    run: async (ctx) => membershipReply(await ctx.cluster.leave()),
  },
  // RINGKV.FORGETNODE name: remove a node gone for good (its lease expired)
  'ringkv.forgetnode': {
    arity: 2,
    run: async (ctx, _client, a) => membershipReply(await ctx.cluster.forgetNode(a[1]!.toString('utf8'))),
  },
  'ringkv.nodefaults': {
    arity: -1,
    run: (ctx, _client, a) => {
      if (!ctx.allowFaults) return err('ERR fault injection is off: start the server with --allow-faults to allow RINGKV.NODEFAULTS');
      const partitioned: string[] = [];
      const drop: [string, number][] = [];
      const delayMs: [string, number][] = [];
      const usage = 'ERR syntax error: RINGKV.NODEFAULTS [PARTITION node ...] [DROP node fraction] [DELAY node ms] (none: heal)';
      for (let i = 1; i < a.length; ) {
        const opt = lower(a[i]!);
        if (opt === 'drop' || opt === 'delay') {
          if (i + 2 >= a.length) return err(usage);
          const v = Number(a[i + 2]!.toString('latin1'));
          if (opt === 'drop' ? !(v >= 0 && v <= 1) : !(Number.isInteger(v) && v >= 0 && v <= 60_000)) return err(opt === 'drop' ? 'ERR DROP takes a fraction 0..1' : 'ERR DELAY takes 0..60000 ms');
          (opt === 'drop' ? drop : delayMs).push([a[i + 1]!.toString('utf8'), v]);
          i += 3;
        } else if (opt === 'partition') {
          i++;
          for (; i < a.length && !['drop', 'delay', 'partition'].includes(lower(a[i]!)); i++) partitioned.push(a[i]!.toString('utf8'));
        } else return err(usage);
      }
      ctx.cluster.setNodeFaults({ partitioned, drop, delayMs });
      return OK;
    },
  },
  'ringkv.status': {
    arity: 1,
    run: async (ctx) => {
      const stats = await ctx.cluster.stats();
      const members = ctx.cluster.members();
      return (w) => {
        w.arrayHeader(members.length);
        for (const m of members) {
          const s = stats.find((x) => x.id === m.id);
          w.map([
            ['id', m.id],
            ['zone', m.zone],
            ['status', m.status],
            ['tokens', m.tokens],
            ['share', m.replicaShare.toFixed(4)],
            ['keys', s?.keys ?? 0],
          ]);
        }
      };
    },
  },
};
