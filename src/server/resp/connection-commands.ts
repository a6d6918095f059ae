/** Connection and server commands: PING, AUTH, HELLO, CLIENT, INFO, DBSIZE, … */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Cluster } from '../../cluster/cluster.js';
import { err, int, lower, OK, type ClientState, type Command, type ServerContext } from './command-kit.js';

/**
 * Redis's thresholds for its compact in-memory encodings (listpack, intset,
 * ziplist). ringkv stores every value as bytes in LMDB and has no such
 * encodings, so CONFIG SET of one is accepted and changes nothing: set-up
 * code that tunes them (client libraries, Valkey's own tests) goes on.
 */
function isEncodingThreshold(name: string): boolean {
  return /^(list|hash|set|zset|stream)-max-(listpack|ziplist|intset)-(size|entries|value)$/.test(name) || name === 'list-compress-depth';
}

function checkPassword(ctx: ServerContext, given: Buffer): boolean {
  if (ctx.passwordDigest === null) return false;
  // Compare digests: constant time and independent of the lengths involved.
  return timingSafeEqual(createHash('sha256').update(given).digest(), ctx.passwordDigest);
}

function info(ctx: ServerContext, client: ClientState, section: string, stats: Awaited<ReturnType<Cluster['stats']>>): string {
  const c = ctx.cluster;
  const members = c.members();
  const keys = stats.reduce((s, a) => s + a.keys, 0);
  const sections: Record<string, string[]> = {
    server: [
      'redis_version:7.0.0',
      'ringkv_version:0.1.0',
      `process_id:${process.pid}`,
      `tcp_port:${ctx.port()}`,
      `uptime_in_seconds:${Math.floor((Date.now() - ctx.startedAtMs) / 1000)}`,
      `node_version:${process.version}`,
    ],
    clients: [`connected_clients:${ctx.clients().size}`, `rejected_connections:${ctx.counters.rejectedConnections}`, `protocol_errors:${ctx.counters.protocolErrors}`, `refused_commands:${ctx.counters.refusedCommands}`],
    keyspace: [`db0:keys=${Math.round(keys / c.n)},expires=0,avg_ttl=0`],
    ringkv_actors: members.map((m) => {
      const s = stats.find((x) => x.id === m.id);
      return `actor${m.id}:zone=${m.zone},status=${m.status},tokens=${m.tokens},share=${m.replicaShare.toFixed(4)},keys=${s?.keys ?? 0},puts=${s?.coordinatedPuts ?? 0},gets=${s?.coordinatedGets ?? 0},read_repairs=${s?.readRepairs ?? 0},anti_entropy_keys_sent=${s?.antiEntropyKeysSent ?? 0},cleanup_removed_keys=${s?.cleanupRemovedKeys ?? 0},hints_pending=${s?.hintsPending ?? 0}`;
    }),
    ringkv_autoscaler: ((a) => [
      `enabled:${a.enabled ? 1 : 0}`,
      ...(a.enabled ? [`min_actors:${a.minActors}`, `max_actors:${a.maxActors}`] : []),
      `decisions:${a.decisions.length}`,
      ...a.decisions.slice(-5).map((d, i) => `decision${i}:${d.action} ${d.action === 'remove' ? `actor ${d.id}` : `zone ${d.action === 'add' ? d.zone : ''}`} (${d.outcome}): ${d.reason.replace(/[\r\n]/g, ' ')}`),
    ])(c.autoscalerStatus()),
    ringkv_ring: [`actors:${members.length}`, `actors_up:${members.filter((m) => m.status === 'up').length}`, `n:${c.n}`, `vnodes_total:${members.reduce((s, m) => s + m.tokens, 0)}`],
    ringkv_quorum: [
      `r_default:${c.options.r}`,
      `w_default:${c.options.w}`,
      `r_connection:${client.r ?? 'default'}`,
      `w_connection:${client.w ?? 'default'}`,
      `last_write_wins:${c.options.lastWriteWins ? 1 : 0}`,
      `sync:${c.options.sync}`,
      `gets_with_siblings:${ctx.counters.getsWithSiblings}`,
      ...((p) => [`reads_direct:${p.direct}`, `reads_coordinated:${p.coordinated}`, `direct_read_repairs:${p.directReadRepairs}`])(c.readPaths()),
    ],
    ringkv_hints: [
      `hints_pending:${stats.reduce((s, a) => s + a.hintsPending, 0)}`,
      `hints_stored:${stats.reduce((s, a) => s + a.hintsStored, 0)}`,
      `hints_handed_off:${stats.reduce((s, a) => s + a.hintsHandedOff, 0)}`,
      `hints_dropped:${stats.reduce((s, a) => s + a.hintsDropped, 0)}`,
      `sloppy_writes:${stats.reduce((s, a) => s + a.sloppyWrites, 0)}`,
      `anti_entropy_passes:${c.repairs}`,
      `anti_entropy_passes_skipped:${c.antiEntropyPassesSkipped}`,
      `anti_entropy_passes_forced:${c.antiEntropyPassesForced}`,
    ],
  };
  const names = section === '' || section === 'all' || section === 'everything' || section === 'default' ? Object.keys(sections) : [section];
  const out: string[] = [];
  for (const name of names) {
    const lines = sections[name];
    if (lines === undefined) continue;
    out.push(`# ${name.replace(/(^|_)([a-z])/g, (_m, sep: string, ch: string) => (sep ? '_' : '') + ch.toUpperCase())}`, ...lines, '');
  }
  return out.join('\r\n');
}


export const CONNECTION_COMMANDS: Readonly<Record<string, Command>> = {
  ping: { arity: -1, run: (_c, _cl, a) => (a.length > 2 ? err("ERR wrong number of arguments for 'ping' command") : a.length === 2 ? (w) => w.bulk(a[1]!) : (w) => w.simple('PONG')) },
  echo: { arity: 2, run: (_c, _cl, a) => (w) => w.bulk(a[1]!) },
  quit: {
    arity: -1,
    noAuth: true,
    run: (_c, client) => {
      client.closeAfterReply = true;
      return OK;
    },
  },
  auth: {
    arity: -2,
    noAuth: true,
    run: (ctx, client, a) => {
      if (a.length > 3) return err('ERR syntax error');
      if (ctx.passwordDigest === null) return err('ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?');
      if (a.length === 3 && lower(a[1]!) !== 'default') return err('WRONGPASS invalid username-password pair or user is disabled.');
      if (!checkPassword(ctx, a[a.length - 1]!)) return err('WRONGPASS invalid username-password pair or user is disabled.');
      client.authenticated = true;
      return OK;
    },
  },
  hello: {
    arity: -1,
    noAuth: true,
    run: (ctx, client, a) => {
      let i = 1;
      let protocol = client.protocol;
      if (a.length > 1) {
        const v = a[1]!.toString('latin1');
        if (v !== '2' && v !== '3') return err('NOPROTO unsupported protocol version');
        protocol = Number(v) as 2 | 3;
        i = 2;
      }
      for (; i < a.length; i++) {
        const opt = lower(a[i]!);
        if (opt === 'auth' && i + 2 < a.length) {
          if (ctx.passwordDigest === null || lower(a[i + 1]!) !== 'default' || !checkPassword(ctx, a[i + 2]!)) return err('WRONGPASS invalid username-password pair or user is disabled.');
          client.authenticated = true;
          i += 2;
        } else if (opt === 'setname' && i + 1 < a.length) {
          client.name = a[i + 1]!.toString();
          i += 1;
        } else {
          return err(`ERR Syntax error in HELLO option '${a[i]!.toString()}'`);
        }
      }
      if (!client.authenticated) return err('NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time');
      client.protocol = protocol;
      return (w) => {
        w.setVersion(protocol); // the HELLO reply itself already speaks the new protocol
        w.mapHeader(7);
        w.bulk('server');
        w.bulk('ringkv');
        w.bulk('version');
        w.bulk('0.1.0');
        w.bulk('proto');
        w.integer(protocol);
        w.bulk('id');
        w.integer(client.id);
        w.bulk('mode');
        w.bulk('standalone');
        w.bulk('role');
        w.bulk('master');
        w.bulk('modules');
        w.arrayHeader(0);
      };
    },
  },
  select: { arity: 2, run: (_c, _cl, a) => (a[1]!.toString() === '0' ? OK : err('ERR DB index is out of range')) },
  client: {
    arity: -2,
    run: (ctx, client, a) => {
      const sub = lower(a[1]!);
      if (sub === 'setname' && a.length === 3) {
        if (/[\s]/.test(a[2]!.toString())) return err('ERR Client names cannot contain spaces, newlines or special characters.');
        client.name = a[2]!.toString();
        return OK;
      }
      if (sub === 'getname' && a.length === 2) return (w) => w.bulk(client.name);
      if (sub === 'id' && a.length === 2) return int(client.id);
      if (sub === 'setinfo') return OK; // redis-cli/ioredis send lib-name/lib-ver
      if (sub === 'info' && a.length === 2) return (w) => w.bulk(`id=${client.id} addr=${client.remote} name=${client.name ?? ''} db=0 resp=${client.protocol}\n`);
      if (sub === 'list' && a.length === 2) {
        const lines = [...ctx.clients().values()].map((c) => `id=${c.id} addr=${c.remote} name=${c.name ?? ''} age=${Math.floor((Date.now() - c.connectedAtMs) / 1000)} db=0 resp=${c.protocol}`);
        return (w) => w.bulk(lines.join('\n') + '\n');
      }
      return err(`ERR unknown subcommand or wrong number of arguments for '${a[1]!.toString()}'. Try CLIENT HELP.`);
    },
  },
  time: {
    arity: 1,
    run: () => {
      const us = BigInt(Date.now()) * 1000n + BigInt(Math.floor((performance.now() % 1) * 1000));
      return (w) => {
        w.arrayHeader(2);
        w.bulk(String(us / 1_000_000n));
        w.bulk(String(us % 1_000_000n));
      };
    },
  },
  // ringkv runs no server-side functions: there are none to flush or list (test harnesses FUNCTION FLUSH between suites)
  function: {
    arity: -2,
    run: (_c, _cl, a) => {
      const sub = lower(a[1]!);
      if (sub === 'flush' && a.length <= 3) return OK;
      if (sub === 'list') return (w) => w.arrayHeader(0);
      return err(`ERR ringkv has no server-side functions (FUNCTION ${sub.toUpperCase()} is not supported)`);
    },
  },
  // redis-benchmark and some clients read these at start; ringkv has no Redis config to show.
  config: {
    arity: -2,
    run: (_c, _cl, a) => {
      const sub = lower(a[1]!);
      if (sub === 'get') return (w) => w.mapHeader(0);
      if (sub === 'set' && a.length >= 4 && a.length % 2 === 0 && a.slice(2).every((x, i) => i % 2 === 1 || isEncodingThreshold(lower(x)))) return OK;
      return err('ERR ringkv is configured at start (flags, environment, config file); CONFIG SET is not supported');
    },
  },
  info: {
    arity: -1,
    run: async (ctx, client, a) => {
      const stats = await ctx.cluster.stats();
      const text = info(ctx, client, a.length > 1 ? lower(a[1]!) : '', stats);
      return (w) => w.verbatim(text);
    },
  },
};
