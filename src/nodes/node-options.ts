/** Options of a node of a multi-node cluster (ClusterOptions.node), checked. */
import { InvalidOptionError } from '../errors.js';
import { MAX_NODE_NAME_LENGTH } from './handshake.js';
import { NODE_LINK_DEFAULTS } from './node-links.js';

export interface NodeOptions {
  /** etcd endpoints (http://host:port or etcd://host:port). */
  readonly etcd: readonly string[];
  /** The cluster's name: its metadata lives under /ringkv/<cluster>/ in etcd. */
  readonly cluster: string;
  /** Where this node's inter-node listener binds and what other nodes dial: host:port. */
  readonly advertise: string;
  /** The cluster secret every node proves in the inter-node handshake. */
  readonly secret: string;
  /** This node's name (default: the advertise address). Also its zone: a key's replicas land on different nodes. */
  readonly name?: string;
  readonly etcdUsername?: string;
  readonly etcdPassword?: string;
  /** A node whose lease is not renewed within this many seconds is down for routing (default 5). */
  readonly leaseTtlS?: number;
  /** Where clients reach this node (shown by status). */
  readonly clientAddresses?: readonly string[];
  /** Frames held per peer node while it is unreachable or slow (default 16 MiB). */
  readonly maxSendBufferBytes?: number;
  /** How long a join waits for a change in progress, and for every node's acknowledgement of each phase (default 60 000). */
  readonly changeTimeoutMs?: number;
}

export interface ResolvedNodeOptions {
  readonly etcd: readonly string[];
  readonly cluster: string;
  readonly host: string;
  readonly port: number;
  readonly secret: string;
  readonly name: string;
  readonly etcdUsername?: string;
  readonly etcdPassword?: string;
  readonly leaseTtlS: number;
  readonly clientAddresses: readonly string[];
  readonly maxSendBufferBytes: number;
  readonly changeTimeoutMs: number;
}

/** host:port (IPv4, a name, or [IPv6]) split, or an InvalidOptionError naming `what`. */
export function hostPort(what: string, raw: unknown): { host: string; port: number } {
  if (typeof raw !== 'string') throw new InvalidOptionError(`${what} must be host:port`);
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s/]+):(\d{1,5})$/.exec(raw);
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || !(port >= 1 && port <= 65535)) throw new InvalidOptionError(`${what} must be host:port with a port in 1..65535, got ${JSON.stringify(raw)}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

export function resolveNodeOptions(o: NodeOptions): ResolvedNodeOptions {
  if (o === null || typeof o !== 'object') throw new InvalidOptionError('node must be an object with etcd, cluster, advertise and secret');
  if (!Array.isArray(o.etcd) || o.etcd.length === 0) throw new InvalidOptionError('node.etcd must list at least one etcd endpoint');
  const etcd = o.etcd.map((e) => {
    const ep = typeof e === 'string' ? e.replace(/^etcd:\/\//, 'http://') : '';
    if (!/^https?:\/\/[^/\s]+$/.test(ep)) throw new InvalidOptionError(`an etcd endpoint is etcd://host:port or http(s)://host:port, got ${JSON.stringify(e)}`);
    return ep;
  });
  if (typeof o.cluster !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(o.cluster)) throw new InvalidOptionError('node.cluster must be 1-64 characters of A-Z a-z 0-9 . _ -');
  const { host, port } = hostPort('node.advertise', o.advertise);
  if (typeof o.secret !== 'string' || o.secret.length < 8) throw new InvalidOptionError('node.secret (the cluster secret) must be at least 8 characters');
  const name = o.name ?? `${host}:${port}`;
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NODE_NAME_LENGTH || /[\s/]/.test(name)) throw new InvalidOptionError(`node.name must be 1-${MAX_NODE_NAME_LENGTH} characters without spaces or slashes`);
  const leaseTtlS = o.leaseTtlS ?? 5;
  if (!Number.isInteger(leaseTtlS) || leaseTtlS < 2 || leaseTtlS > 3600) throw new InvalidOptionError('node.leaseTtlS must be an integer in 2..3600');
  const maxSendBufferBytes = o.maxSendBufferBytes ?? NODE_LINK_DEFAULTS.maxSendBufferBytes;
  if (!Number.isInteger(maxSendBufferBytes) || maxSendBufferBytes < 64 * 1024) throw new InvalidOptionError('node.maxSendBufferBytes must be an integer >= 65536');
  const changeTimeoutMs = o.changeTimeoutMs ?? 60_000;
  if (!Number.isInteger(changeTimeoutMs) || changeTimeoutMs < 1000) throw new InvalidOptionError('node.changeTimeoutMs must be an integer >= 1000');
  return {
    etcd,
    cluster: o.cluster,
    host,
    port,
    secret: o.secret,
    name,
    ...(o.etcdUsername !== undefined ? { etcdUsername: o.etcdUsername } : {}),
    ...(o.etcdPassword !== undefined ? { etcdPassword: o.etcdPassword } : {}),
    leaseTtlS,
    clientAddresses: [...(o.clientAddresses ?? [])],
    maxSendBufferBytes,
    changeTimeoutMs,
  };
}
