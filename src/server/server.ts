import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster } from '../cluster/cluster.js';
import { DataDirLockedError } from '../errors.js';
import type { Consistency } from '../cluster/options.js';
import type { ServerConfig } from './config.js';
import type { NodeOptions } from '../nodes/node-options.js';
import { startHttpServer } from './http/server.js';
import { startRespServer } from './resp/server.js';

export interface RunningServer {
  readonly cluster: Cluster;
  readonly respPort: number;
  readonly httpPort: number;
  /** Graceful: stop accepting, finish in-flight requests, close every LMDB env. */
  stop(): Promise<void>;
}

/** A node of a multi-node cluster, from `--join` and its companions (checked by resolveServerConfig). */
function nodeOptionsOf(config: ServerConfig): NodeOptions {
  return {
    etcd: config.join!.split(',').map((e) => e.trim()),
    cluster: config.cluster!,
    advertise: config.advertise!,
    secret: config.clusterSecret!,
    ...(config.nodeName !== undefined ? { name: config.nodeName } : {}),
    ...(config.etcdUser !== undefined ? { etcdUsername: config.etcdUser } : {}),
    ...(config.etcdPassword !== undefined ? { etcdPassword: config.etcdPassword } : {}),
    clientAddresses: [`redis://${config.host}:${config.port}`, `http://${config.host}:${config.httpPort}`],
  };
}

/** Start the cluster on config.dataDir and serve it over RESP and HTTP. */
export async function startServer(config: ServerConfig): Promise<RunningServer> {
  // A start that fails (a port in use, a bad layout) must not leave behind a
  // data directory it created: the next attempt would find it "in use" with a
  // shape fixed by a run that never served.
  const before = !existsSync(config.dataDir) ? 'absent' : readdirSync(config.dataDir).length === 0 ? 'empty' : 'used';
  const forget = (err: unknown): void => {
    if (before === 'used' || err instanceof DataDirLockedError) return; // not ours to remove
    if (before === 'absent') rmSync(config.dataDir, { recursive: true, force: true });
    else for (const entry of readdirSync(config.dataDir)) rmSync(join(config.dataDir, entry), { recursive: true, force: true });
  };
  let cluster: Cluster;
  try {
    cluster = await Cluster.start({
      dataDir: config.dataDir,
      ...(config.actors !== undefined ? { actors: config.actors } : {}),
      ...(config.n !== undefined ? { n: config.n } : {}),
      ...(config.r !== undefined ? { r: config.r as Consistency } : {}),
      ...(config.w !== undefined ? { w: config.w as Consistency } : {}),
      ...(config.sync !== undefined ? { sync: config.sync } : {}),
      ...(config.maxPairBytes !== undefined ? { maxPairBytes: config.maxPairBytes } : {}),
      ...(config.join !== undefined ? { node: nodeOptionsOf(config) } : {}),
    });
  } catch (err) {
    forget(err);
    throw err;
  }
  let resp: Awaited<ReturnType<typeof startRespServer>> | undefined;
  let http: Awaited<ReturnType<typeof startHttpServer>> | undefined;
  try {
    resp = await startRespServer(cluster, {
      host: config.host,
      port: config.port,
      password: config.password,
      maxClients: config.maxClients,
      maxPipelineDepth: 4096,
      allowFlush: config.allowFlush,
      allowFaults: config.allowFaults,
      dbsize: config.dbsize,
      limits: {
        // a pair is at most maxPairBytes; leave room for the command around it
        maxBulkBytes: cluster.options.maxPairBytes + 1024,
        maxArgs: 1024 * 1024,
        maxInlineBytes: 64 * 1024,
        maxQueryBufferBytes: 64 * 1024 * 1024,
        // Redis's proto-max-bulk-len: a value up to this size is read past and refused, keeping the connection
        maxDiscardBulkBytes: 512 * 1024 * 1024,
      },
    });
    http = await startHttpServer(cluster, {
      host: config.host,
      port: config.httpPort,
      allowedHosts: [config.host, 'localhost', '127.0.0.1', '[::1]'],
      bodyLimitBytes: cluster.options.maxPairBytes + 1024,
    });
  } catch (err) {
    await resp?.close();
    await cluster.close();
    forget(err); // after close: the envs and the lock are released
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    cluster,
    respPort: resp.port,
    httpPort: http.port,
    stop() {
      stopping ??= (async () => {
        await Promise.all([resp!.close(), http!.close()]);
        await cluster.close();
      })();
      return stopping;
    },
  };
}
