import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { InvalidOptionError } from '../errors.js';

/** Everything `ringkv start` needs. Sources, strongest first: flags, environment (RINGKV_*), config file, defaults. */
export interface ServerConfig {
  dataDir: string;
  host: string;
  port: number;
  httpPort: number;
  actors: number | undefined;
  n: number | undefined;
  r: number | string | undefined;
  w: number | string | undefined;
  password: string | null;
  /** Allow binding a non-loopback address without a password. */
  forceNonLoopback: boolean;
  maxClients: number;
  sync: 'always' | 'periodic' | undefined;
  /** FLUSHALL/FLUSHDB delete every key; refused unless allowed (as operators rename Redis's dangerous commands). */
  allowFlush: boolean;
  /** RINGKV.NODEFAULTS (fault injection between nodes, for tests and the stress lab); refused unless allowed. */
  allowFaults: boolean;
  /** Largest key + value accepted (the cluster's maxPairBytes; default 10 KiB). */
  maxPairBytes: number | undefined;
  /** DBSIZE: 'estimate' (stored entries over n, tombstones included: O(actors)) or 'exact' (live keys counted by a full scan). */
  dbsize: 'estimate' | 'exact';
  /** etcd endpoints (comma-separated etcd://host:port): run as a node of a multi-node cluster. Unset: a single-machine store. */
  join: string | undefined;
  /** The multi-node cluster's name (with join). */
  cluster: string | undefined;
  /** host:port of this node's inter-node listener (with join). */
  advertise: string | undefined;
  /** The secret every node proves when nodes connect (with join). Never logged. */
  clusterSecret: string | undefined;
  /** This node's name (default: the advertise address). */
  nodeName: string | undefined;
  etcdUser: string | undefined;
  etcdPassword: string | undefined;
}

export const DEFAULT_CONFIG: ServerConfig = {
  dataDir: './data',
  host: '127.0.0.1',
  port: 6380,
  httpPort: 8098,
  actors: undefined,
  n: undefined,
  r: undefined,
  w: undefined,
  password: null,
  forceNonLoopback: false,
  maxClients: 10_000,
  sync: undefined,
  allowFlush: false,
  allowFaults: false,
  dbsize: 'estimate',
  maxPairBytes: undefined,
  join: undefined,
  cluster: undefined,
  advertise: undefined,
  clusterSecret: undefined,
  nodeName: undefined,
  etcdUser: undefined,
  etcdPassword: undefined,
};

type Source = Partial<Record<keyof ServerConfig, unknown>>;

const ENV: Record<keyof ServerConfig, string> = {
  dataDir: 'RINGKV_DATA_DIR',
  host: 'RINGKV_HOST',
  port: 'RINGKV_PORT',
  httpPort: 'RINGKV_HTTP_PORT',
  actors: 'RINGKV_ACTORS',
  n: 'RINGKV_N',
  r: 'RINGKV_R',
  w: 'RINGKV_W',
  password: 'RINGKV_PASSWORD',
  forceNonLoopback: 'RINGKV_FORCE_NON_LOOPBACK',
  maxClients: 'RINGKV_MAX_CLIENTS',
  sync: 'RINGKV_SYNC',
  allowFlush: 'RINGKV_ALLOW_FLUSH',
  allowFaults: 'RINGKV_ALLOW_FAULTS',
  dbsize: 'RINGKV_DBSIZE',
  maxPairBytes: 'RINGKV_MAX_PAIR_BYTES',
  join: 'RINGKV_JOIN',
  cluster: 'RINGKV_CLUSTER',
  advertise: 'RINGKV_ADVERTISE',
  clusterSecret: 'RINGKV_CLUSTER_SECRET',
  nodeName: 'RINGKV_NODE_NAME',
  etcdUser: 'RINGKV_ETCD_USER',
  etcdPassword: 'RINGKV_ETCD_PASSWORD',
};

export function fromEnv(env: NodeJS.ProcessEnv): Source {
  const out: Source = {};
  for (const [key, name] of Object.entries(ENV) as [keyof ServerConfig, string][]) if (env[name] !== undefined && env[name] !== '') out[key] = env[name];
  return out;
}

export function fromFile(path: string): Source {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new InvalidOptionError(`config file ${path}: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidOptionError(`config file ${path}: must hold a JSON object`);
  const known = new Set(Object.keys(DEFAULT_CONFIG));
  for (const k of Object.keys(parsed)) if (!known.has(k)) throw new InvalidOptionError(`config file ${path}: unknown setting '${k}' (known: ${[...known].join(', ')})`);
  return parsed as Source;
}

function port(name: string, v: unknown): number {
  const n = typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidOptionError(`${name} must be a port number 0..65535, got ${JSON.stringify(v)}`);
  return n;
}

function optionalInt(name: string, v: unknown, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw new InvalidOptionError(`${name} must be an integer ${min}..${max}, got ${JSON.stringify(v)}`);
  return n;
}

function consistency(name: string, v: unknown): number | string | undefined {
  if (v === undefined) return undefined;
  if (v === 'one' || v === 'quorum' || v === 'all') return v;
  const n = typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : v;
  // name every accepted form, as the help's <count|one|quorum|all> does
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 64) throw new InvalidOptionError(`${name} must be a count 1..64, one, quorum or all; got ${JSON.stringify(v)}`);
  return n;
}

function bool(name: string, v: unknown): boolean {
  if (v === undefined) return false;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1' || v === 'yes') return true;
  if (v === 'false' || v === '0' || v === 'no') return false;
  throw new InvalidOptionError(`${name} must be true or false, got ${JSON.stringify(v)}`);
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

function optionalString(name: string, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw new InvalidOptionError(`${name} must be a non-empty string`);
  return v;
}

/** The multi-node settings: all of join, cluster, advertise and the secret, or none (a single-machine store). */
function nodeSettings(merged: Source): Pick<ServerConfig, 'join' | 'cluster' | 'advertise' | 'clusterSecret' | 'nodeName' | 'etcdUser' | 'etcdPassword'> {
  const out = {
    join: optionalString('join', merged.join),
    cluster: optionalString('cluster', merged.cluster),
    advertise: optionalString('advertise', merged.advertise),
    clusterSecret: optionalString('cluster-secret', merged.clusterSecret),
    nodeName: optionalString('node-name', merged.nodeName),
    etcdUser: optionalString('etcd-user', merged.etcdUser),
    etcdPassword: optionalString('etcd-password', merged.etcdPassword),
  };
  if (out.join === undefined) {
    // credentials (the secret, etcd's) often sit in the environment of every process: ignored without --join
    const stray = (['cluster', 'advertise', 'nodeName'] as const).filter((k) => out[k] !== undefined);
    if (stray.length > 0) throw new InvalidOptionError(`${stray.join(', ')} only mean something with --join etcd://host:port`);
    return out;
  }
  const missing = (['cluster', 'advertise', 'clusterSecret'] as const).filter((k) => out[k] === undefined);
  if (missing.length > 0) throw new InvalidOptionError(`--join needs ${missing.map((k) => (k === 'clusterSecret' ? '--cluster-secret (or RINGKV_CLUSTER_SECRET)' : `--${k}`)).join(', ')}`);
  return out;
}

/** Merge sources (later ones win) and validate; throws InvalidOptionError with a message that names the setting. */
export function resolveServerConfig(...sources: Source[]): ServerConfig {
  const merged: Source = {};
  for (const s of sources) for (const [k, v] of Object.entries(s)) if (v !== undefined) merged[k as keyof ServerConfig] = v;
  const host = merged.host ?? DEFAULT_CONFIG.host;
  if (typeof host !== 'string' || (isIP(host) === 0 && host !== 'localhost')) throw new InvalidOptionError(`host must be an IP address or localhost, got ${JSON.stringify(host)}`);
  const password = merged.password === undefined || merged.password === null ? null : String(merged.password);
  if (password !== null && (password.length === 0 || password.length > 512)) throw new InvalidOptionError('password must be 1..512 characters');
  const sync = merged.sync;
  if (sync !== undefined && sync !== 'always' && sync !== 'periodic') throw new InvalidOptionError(`sync must be always or periodic, got ${JSON.stringify(sync)}`);
  const dbsize = merged.dbsize ?? DEFAULT_CONFIG.dbsize;
  if (dbsize !== 'estimate' && dbsize !== 'exact') throw new InvalidOptionError(`dbsize must be estimate or exact, got ${JSON.stringify(dbsize)}`);
  const config: ServerConfig = {
    dataDir: typeof merged.dataDir === 'string' && merged.dataDir !== '' ? merged.dataDir : DEFAULT_CONFIG.dataDir,
    host,
    port: port('port', merged.port ?? DEFAULT_CONFIG.port),
    httpPort: port('http-port', merged.httpPort ?? DEFAULT_CONFIG.httpPort),
    actors: optionalInt('actors', merged.actors, 1, 1024),
    n: optionalInt('n', merged.n, 1, 64),
    r: consistency('r', merged.r),
    w: consistency('w', merged.w),
    password,
    forceNonLoopback: bool('force-non-loopback', merged.forceNonLoopback),
    maxClients: optionalInt('max-clients', merged.maxClients, 1, 1_000_000) ?? DEFAULT_CONFIG.maxClients,
    sync,
    allowFlush: bool('allow-flush', merged.allowFlush),
    allowFaults: bool('allow-faults', merged.allowFaults),
    dbsize,
    maxPairBytes: optionalInt('max-pair-bytes', merged.maxPairBytes, 16, 64 * 1024 * 1024),
    ...nodeSettings(merged),
  };
  if (!isLoopback(config.host) && config.password === null && !config.forceNonLoopback) {
    throw new InvalidOptionError(`refusing to listen on non-loopback address ${config.host} without a password: set --password, or --force-non-loopback if you really mean it`);
  }
  return config;
}
