/**
 * The cluster's metadata in etcd (the records in records.ts), for one node.
 * Keys, under /ringkv/<cluster>/:
 *   settings          set once by the node that creates the cluster
 *   ring              the ring record; replaced only by compare-and-swap
 *   nodes/<name>      each live node, under its lease (gone when it expires)
 *   counters/<name>   node numbers and actor ids, allocated by CAS
 *   acks/<v>/<change>/<phase>/<node>  a node's actors hold phase <phase> of change <change> (at ring
 *                     version <v>); removed when the change ends
 * etcd credentials come from the caller (flags or environment) and are never logged.
 */
import { Etcd3, type Lease, type Namespace } from 'etcd3';
import { parseNode, parseRing, parseSettings, type ClusterSettings, type NodeRecord, type RingRecord } from './records.js';

export interface RegistryOptions {
  /** etcd endpoints, http://host:port. */
  readonly endpoints: readonly string[];
  readonly cluster: string;
  readonly username?: string;
  readonly password?: string;
  /** A node whose lease is not renewed within this is gone from nodes/. */
  readonly leaseTtlS: number;
  /** Each etcd call's deadline. */
  readonly callTimeoutMs: number;
  readonly log: (line: string) => void;
}

/** A ring record as read: the record and its exact stored text (what a compare-and-swap compares). */
export interface RingRead {
  readonly record: RingRecord;
  readonly raw: string;
}

export class Registry {
  private readonly client: Etcd3;
  private readonly ns: Namespace;
  private lease: Lease | null = null;
  private registered: NodeRecord | null = null;
  private closed = false;
  private readonly watchers: { cancel(): Promise<void> }[] = [];
  /** The last etcd call's outcome: false from a failed call until one succeeds. */
  private reachableNow = true;
  private lastError = '';

  constructor(private readonly o: RegistryOptions) {
    this.client = new Etcd3({
      hosts: [...o.endpoints],
      ...(o.username !== undefined ? { auth: { username: o.username, password: o.password ?? '' } } : {}),
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + o.callTimeoutMs }),
    });
    this.ns = this.client.namespace(`/ringkv/${o.cluster}/`);
  }

  /** Whether etcd answered the last call (membership changes wait for it; reads and writes do not). */
  get reachable(): boolean {
    return this.reachableNow;
  }

  get lastErrorMessage(): string {
    return this.lastError;
  }

  private async call<T>(what: string, f: () => Promise<T>): Promise<T> {
    try {
      const v = await f();
      this.reachableNow = true;
      return v;
    } catch (err) {
      this.reachableNow = false;
      this.lastError = `${what}: ${(err as Error).message}`;
      throw err;
    }
  }

  /** The cluster's settings, created from `mine` if this is the first node. */
  async settings(mine: ClusterSettings): Promise<ClusterSettings> {
    const text = JSON.stringify(mine);
    await this.call('settings', () => this.ns.if('settings', 'Create', '==', 0).then(this.ns.put('settings').value(text)).commit());
    const raw = await this.call('settings', () => this.ns.get('settings').string());
    if (raw === null) throw new Error('etcd lost the cluster settings just written');
    return parseSettings(raw);
  }

  /** Take `count` consecutive numbers from counter `name`; resolves with the first. */
  async allocate(name: 'nodeNo' | 'actorId' | 'writerId', count: number): Promise<number> {
    const key = `counters/${name}`;
    for (let attempt = 0; attempt < 100; attempt++) {
      const raw = await this.call('allocate', () => this.ns.get(key).string());
      const first = raw === null ? 0 : Number(raw);
      if (!Number.isSafeInteger(first) || first < 0) throw new Error(`counter ${name} in etcd holds ${raw}`);
      const next = String(first + count);
      const txn = raw === null ? this.ns.if(key, 'Create', '==', 0) : this.ns.if(key, 'Value', '==', raw);
      const r = await this.call('allocate', () => txn.then(this.ns.put(key).value(next)).commit());
      if (r.succeeded) return first;
    }
    throw new Error(`could not allocate from counter ${name}: 100 conflicting attempts`);
  }

  async ring(): Promise<RingRead | null> {
    const raw = await this.call('ring', () => this.ns.get('ring').string());
    return raw === null ? null : { record: parseRing(raw), raw };
  }

  /** Replace the ring if it is still exactly `expected` (null: create it if absent); false if another node changed it first. */
  async swapRing(expected: RingRead | null, next: RingRecord): Promise<boolean> {
    const txn = expected === null ? this.ns.if('ring', 'Create', '==', 0) : this.ns.if('ring', 'Value', '==', expected.raw);
    const r = await this.call('ring', () => txn.then(this.ns.put('ring').value(JSON.stringify(next))).commit());
    return r.succeeded;
  }

  /** Called with every new ring record (and once with the current one). */
  async watchRing(onRing: (r: RingRead) => void): Promise<void> {
    const watcher = await this.call('watch', () => this.ns.watch().key('ring').create());
    this.watchers.push(watcher);
    watcher.on('put', (kv) => {
      const raw = kv.value.toString('utf8');
      onRing({ record: parseRing(raw), raw });
    });
    watcher.on('error', (err: Error) => {
      this.reachableNow = false;
      this.lastError = `watch: ${err.message}`;
    });
    watcher.on('connected', () => {
      this.reachableNow = true;
    });
    const now = await this.ring();
    if (now !== null) onRing(now);
  }

  /** Called with the live nodes whenever one registers, changes or goes. */
  async watchNodes(onNodes: (nodes: NodeRecord[]) => void): Promise<void> {
    const watcher = await this.call('watch', () => this.ns.watch().prefix('nodes/').create());
    this.watchers.push(watcher);
    const refresh = (): void => {
      this.nodes().then(onNodes, () => undefined);
    };
    watcher.on('put', refresh);
    watcher.on('delete', refresh);
    watcher.on('connected', refresh);
    refresh();
  }

  async nodes(): Promise<NodeRecord[]> {
    const all = await this.call('nodes', () => this.ns.getAll().prefix('nodes/').strings());
    return Object.values(all).map(parseNode);
  }

  /** Register (or update) this node under its lease; a lost lease is granted again and the record put back. */
  async register(node: NodeRecord): Promise<void> {
    this.registered = node;
    if (this.lease === null) this.grant();
    await this.call('register', () => this.lease!.put(`nodes/${node.name}`).value(JSON.stringify(node)).exec());
  }

  private grant(): void {
    const lease = this.ns.lease(this.o.leaseTtlS, { autoKeepAlive: true });
    this.lease = lease;
    lease.on('lost', (err: Error) => {
      if (this.closed || this.lease !== lease) return;
      this.reachableNow = false;
      this.lastError = `lease lost: ${err.message}`;
      this.o.log(`ringkv: lost this node's etcd lease (${err.message}); registering again`);
      this.lease = null;
      const again = (): void => {
        if (this.closed || this.registered === null) return;
        this.register(this.registered).catch(() => setTimeout(again, 1000).unref());
      };
      again();
    });
    lease.on('keepaliveSucceeded', () => {
      this.reachableNow = true;
    });
    lease.on('keepaliveFailed', () => {
      this.reachableNow = false;
      this.lastError = "the lease's keepalive failed";
    });
  }

  async ack(version: number, change: string, phase: string, node: string): Promise<void> {
    await this.call('ack', () => this.ns.put(`acks/${version}/${change}/${phase}/${node}`).value('1').exec());
  }

  async acks(version: number, change: string, phase: string): Promise<string[]> {
    const keys = await this.call('acks', () => this.ns.getAll().prefix(`acks/${version}/${change}/${phase}/`).keys());
    return keys.map((k) => k.slice(k.lastIndexOf('/') + 1));
  }

  /** Forget a finished or abandoned change's acknowledgements (they would pile up, one set per change). */
  async clearAcks(version: number, change: string): Promise<void> {
    await this.call('acks', () => this.ns.delete().prefix(`acks/${version}/${change}/`).exec());
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.watchers) await w.cancel().catch(() => undefined);
    if (this.lease !== null) await this.lease.revoke().catch(() => undefined);
    this.client.close();
  }
}
