#!/usr/bin/env node
// The `ringkv` command: start a server, or talk to one (get/put/del/status).
// commander does the parsing and --help for every command.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { Redis } from 'ioredis';
import { applyExitRule, EXIT_FAILED, EXIT_USAGE, isUsageError } from './exit.js';
import { DEFAULT_CONFIG, fromEnv, fromFile, resolveServerConfig } from '../server/config.js';
import { startServer } from '../server/server.js';
import { stressCommand } from '../../tools/stress/cli.js';
import { simCommand } from '../sim/cli.js';

const program = new Command();
// dist/src/cli/main.js → the package's own package.json (always shipped, whatever `files` says)
const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
program
  .name('ringkv')
  .description('A Dynamo-style replicated key-value store: an actor cluster on worker threads, served over RESP and HTTP.')
  .version(pkg.version, '-V, --version', 'print the version');

program
  .command('start')
  .description('start ringkv: the cluster on --data-dir, the Redis protocol on --port, the HTTP API on --http-port')
  .option('--data-dir <dir>', `data directory (default ${DEFAULT_CONFIG.dataDir})`)
  .option('--host <address>', `address to bind (default ${DEFAULT_CONFIG.host}; non-loopback needs --password or --force-non-loopback)`)
  .option('--port <port>', `Redis protocol port (default ${DEFAULT_CONFIG.port})`)
  .option('--http-port <port>', `HTTP API port (default ${DEFAULT_CONFIG.httpPort})`)
  .option('--actors <count>', 'actors for a new data directory (default: max(n, cores))')
  .option('--n <replicas>', 'replicas per key for a new data directory (default 3)')
  .option('--r <count|one|quorum|all>', 'default read quorum (default quorum)')
  .option('--w <count|one|quorum|all>', 'default write quorum (default quorum)')
  .option('--password <password>', 'require AUTH <password> before any other command')
  .option('--max-clients <count>', `most simultaneous Redis connections (default ${DEFAULT_CONFIG.maxClients})`)
  .addOption(new Option('--sync <mode>', 'always: fsync before acknowledging; periodic: fsync every 100 ms').choices(['always', 'periodic']))
  .option('--force-non-loopback', 'allow a non-loopback --host without a password')
  .option('--allow-flush', 'allow FLUSHALL/FLUSHDB (they delete every key)')
  .option('--allow-faults', 'allow RINGKV.NODEFAULTS (fault injection between nodes: for tests and the stress lab)')
  .option('--max-pair-bytes <bytes>', 'largest key + value accepted (16..67108864; default 10240)')
  .addOption(new Option('--dbsize <mode>', 'DBSIZE: estimate (stored entries over n, cheap) or exact (a full scan of live keys)').choices(['estimate', 'exact']))
  .option('--config <file>', 'JSON config file (flags > RINGKV_* environment > file > defaults)')
  .option('--join <etcd>', 'run as a node of a multi-node cluster whose ring lives in etcd (etcd://host:port[,...]); needs --cluster, --advertise and a cluster secret')
  .option('--cluster <name>', 'the multi-node cluster to join (with --join)')
  .option('--advertise <host:port>', "this node's inter-node listener: it binds there and only there, and other nodes dial it (with --join)")
  .option('--cluster-secret <secret>', 'the secret nodes prove to each other (with --join; better: RINGKV_CLUSTER_SECRET, kept out of ps)')
  .option('--node-name <name>', 'this node\'s name and zone (default: the --advertise address)')
  .option('--etcd-user <user>', 'etcd user (or RINGKV_ETCD_USER)')
  .option('--etcd-password <password>', 'etcd password (or RINGKV_ETCD_PASSWORD)')
  .action(async (flags: Record<string, unknown>) => {
    const config = resolveServerConfig(
      flags.config !== undefined ? fromFile(String(flags.config)) : process.env.RINGKV_CONFIG ? fromFile(process.env.RINGKV_CONFIG) : {},
      fromEnv(process.env),
      {
        dataDir: flags.dataDir,
        host: flags.host,
        port: flags.port,
        httpPort: flags.httpPort,
        actors: flags.actors,
        n: flags.n,
        r: flags.r,
        w: flags.w,
        password: flags.password,
        maxClients: flags.maxClients,
        sync: flags.sync,
        forceNonLoopback: flags.forceNonLoopback === true ? true : undefined,
        allowFlush: flags.allowFlush === true ? true : undefined,
        allowFaults: flags.allowFaults === true ? true : undefined,
        dbsize: flags.dbsize,
        maxPairBytes: flags.maxPairBytes,
        join: flags.join,
        cluster: flags.cluster,
        advertise: flags.advertise,
        clusterSecret: flags.clusterSecret,
        nodeName: flags.nodeName,
        etcdUser: flags.etcdUser,
        etcdPassword: flags.etcdPassword,
      },
    );
    const server = await startServer(config);
    const members = server.cluster.members();
    const nodes = server.cluster.nodes();
    const where = nodes === null ? '' : `node ${nodes.node} of cluster ${nodes.cluster} (${nodes.nodes.length} nodes, ring version ${nodes.ringVersion}), `;
    console.log(
      `ringkv ready: ${where}${members.length} actors, n=${server.cluster.n}, data in ${config.dataDir}\n` +
        `  redis: redis-cli -p ${server.respPort}${config.host === '127.0.0.1' ? '' : ` -h ${config.host}`}\n` +
        `  http:  http://${config.host}:${server.httpPort}/status`,
    );
    let signals = 0;
    const shutdown = (signal: string): void => {
      if (++signals > 1) {
        console.error('second signal: exiting now');
        process.exit(1);
      }
      console.log(`${signal}: stopping (finishing in-flight requests, closing every LMDB env)…`);
      server.stop().then(
        () => {
          console.log('stopped cleanly');
          process.exit(0);
        },
        (err: unknown) => {
          console.error('shutdown failed:', err);
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
  });

/** Options shared by the client commands. */
function clientCommand(name: string, description: string): Command {
  return program
    .command(name)
    .description(description)
    .option('--host <address>', 'server address', '127.0.0.1')
    .option('--port <port>', 'server Redis port', String(DEFAULT_CONFIG.port))
    .option('--password <password>', 'AUTH password (or RINGKV_PASSWORD)');
}

/** A server that cannot be reached: one line for the user, exit EXIT_FAILED. */
class CannotConnectError extends Error {}

async function withClient<T>(flags: Record<string, unknown>, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const password = (flags.password as string | undefined) ?? process.env.RINGKV_PASSWORD;
  const host = String(flags.host);
  const port = Number(flags.port);
  // one attempt, no reconnects: a CLI call should fail at once, not retry in the background
  const redis = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => null, ...(password ? { password } : {}) });
  // connect() rejects with the same error; without a listener ioredis also prints "Unhandled error event"
  redis.on('error', () => {});
  try {
    try {
      await redis.connect();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ETIMEDOUT' || code === 'ECONNRESET' || /Connection is closed/.test(String((err as Error).message))) {
        throw new CannotConnectError(`cannot connect to ${host}:${port} (is the server running?)`);
      }
      throw err;
    }
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

clientCommand('get', 'print every sibling of <key> and its causal context')
  .argument('<key>')
  .action(async (key: string, flags: Record<string, unknown>) => {
    await withClient(flags, async (redis) => {
      const reply = (await redis.call('RINGKV.GETALL', key)) as string[];
      const [context, ...values] = reply;
      if (values.length === 0) {
        console.log('(not found)');
        process.exitCode = EXIT_FAILED;
      }
      for (const v of values) console.log(v);
      if (values.length > 1) console.error(`(${values.length} siblings; resolve with: ringkv put ${key} <value> --context ${context})`);
      else if (context) console.error(`context: ${context}`);
    });
  });

clientCommand('put', 'write <value> under <key>: replaces what the key holds (--context: supersede only what you read; --sibling: keep what is there)')
  .argument('<key>')
  .argument('<value>')
  .option('--context <context>', 'causal context from a previous get')
  .addOption(new Option('--sibling', 'add <value> as a sibling of what the key holds, superseding nothing').conflicts('context'))
  .action(async (key: string, value: string, flags: Record<string, unknown>) => {
    await withClient(flags, async (redis) => {
      const args = flags.context !== undefined ? [key, value, 'CONTEXT', String(flags.context)] : flags.sibling === true ? [key, value, 'SIBLING'] : [key, value];
      console.log(`context: ${String(await redis.call('RINGKV.PUT', ...args))}`);
    });
  });

clientCommand('del', 'delete <key> (a tombstone superseding what the key holds)')
  .argument('<key>')
  .action(async (key: string, flags: Record<string, unknown>) => {
    await withClient(flags, async (redis) => console.log(`(deleted ${String(await redis.del(key))})`));
  });

clientCommand('status', 'actors, zones, tokens, health and hints at a glance').action(async (flags: Record<string, unknown>) => {
  await withClient(flags, async (redis) => {
    const info = String(await redis.info('everything'));
    const field = (name: string): string => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '?';
    // RINGKV.STATUS: one flat [k1, v1, k2, v2, …] array per actor (RESP2 maps)
    const actors = ((await redis.call('RINGKV.STATUS')) as string[][]).map((flat) => {
      const row: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) row[String(flat[i])] = String(flat[i + 1]);
      return row;
    });
    const up = actors.filter((a) => a.status === 'up').length;
    console.log(
      `ringkv ${up === actors.length ? 'healthy' : 'DEGRADED'}: ${up}/${actors.length} actors up, n=${field('n')}, r=${field('r_default')}, w=${field('w_default')}, ` +
        `hints pending ${field('hints_pending')}, keys ~${/keys=([0-9]+)/.exec(info)?.[1] ?? '?'}`,
    );
    console.table(actors);
    // a node of a multi-node cluster: its nodes too
    const nodes = (await redis.call('RINGKV.NODES').catch(() => null)) as string[] | null;
    if (nodes !== null) {
      const row: Record<string, string> = {};
      for (let i = 0; i + 1 < nodes.length; i += 2) row[String(nodes[i])] = String(nodes[i + 1]);
      console.log(`cluster ${row.cluster}, this node ${row.node}, ring version ${row.ring_version}, change: ${row.change}, etcd ${row.etcd}`);
      console.table(
        Object.entries(row)
          .filter(([k]) => k.startsWith('node:'))
          .map(([k, v]) => ({ node: k.slice(5), ...Object.fromEntries(v.split(',').map((kv) => kv.split('=') as [string, string])) })),
      );
    }
  });
});

/** A RESP2 map reply ([k1, v1, …]) as lines. */
function printMap(flat: unknown): void {
  const a = flat as (string | number)[];
  for (let i = 0; i + 1 < a.length; i += 2) console.log(`${String(a[i])}: ${String(a[i + 1])}`);
}

clientCommand('add-actor', 'add an actor online: its ranges stream to it, then the ring switches')
  .option('--zone <zone>', 'its zone (default: the zone with the fewest actors)')
  .option('--weight <weight>', 'tokens relative to the others (default 1)')
  .action(async (flags: Record<string, unknown>) => {
    const args: string[] = [];
    if (flags.zone !== undefined) args.push('ZONE', String(flags.zone));
    if (flags.weight !== undefined) args.push('WEIGHT', String(flags.weight));
    await withClient(flags, async (redis) => printMap(await redis.call('RINGKV.ADDACTOR', ...args)));
  });

clientCommand('remove-actor', 'decommission an actor online: its ranges and hints go to others, then it stops')
  .argument('<id>')
  .action(async (id: string, flags: Record<string, unknown>) => {
    await withClient(flags, async (redis) => printMap(await redis.call('RINGKV.REMOVEACTOR', id)));
  });

program.addCommand(stressCommand());
program.addCommand(simCommand());
applyExitRule(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`ringkv: ${(err as Error).message ?? String(err)}`);
  process.exit(isUsageError(err) ? EXIT_USAGE : EXIT_FAILED);
});
