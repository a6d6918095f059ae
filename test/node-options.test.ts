import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, LayoutMismatchError } from '../src/index.js';
import { LAYOUT_VERSION } from '../src/storage/store.js';
import { saveMetadata } from '../src/supervisor/metadata.js';
import { InvalidOptionError } from '../src/errors.js';
import { hostPort, resolveNodeOptions } from '../src/nodes/node-options.js';
import { resolveServerConfig } from '../src/server/config.js';

const good = { etcd: ['etcd://127.0.0.1:2379'], cluster: 'prod', advertise: '127.0.0.2:7000', secret: 'a-long-secret' };

test('node options: defaults, and etcd:// endpoints become http://', (t) => {
  const o = resolveNodeOptions(good);
  t.deepEqual(o.etcd, ['http://127.0.0.1:2379']);
  t.is(o.host, '127.0.0.2');
  t.is(o.port, 7000);
  t.is(o.name, '127.0.0.2:7000', 'a node is named by its advertise address unless told');
  t.is(o.leaseTtlS, 5);
  t.deepEqual(hostPort('x', '[::1]:80'), { host: '::1', port: 80 });
});

test('node options: each bad field is refused with an InvalidOptionError naming it', (t) => {
  const bad: [Partial<typeof good> & Record<string, unknown>, RegExp][] = [
    [{ etcd: [] }, /node\.etcd/],
    [{ etcd: ['127.0.0.1:2379'] }, /etcd endpoint/],
    [{ cluster: 'has space' }, /node\.cluster/],
    [{ advertise: '127.0.0.1' }, /node\.advertise/],
    [{ advertise: '127.0.0.1:70000' }, /node\.advertise/],
    [{ secret: 'short' }, /secret/],
    [{ name: 'a/b' }, /node\.name/],
    [{ leaseTtlS: 1 }, /leaseTtlS/],
  ];
  for (const [change, message] of bad) t.throws(() => resolveNodeOptions({ ...good, ...change } as never), { instanceOf: InvalidOptionError, message }, JSON.stringify(change));
});

test('server config: --join comes with --cluster, --advertise and a secret; those mean nothing without it', (t) => {
  t.throws(() => resolveServerConfig({ join: 'etcd://127.0.0.1:2379', cluster: 'c' }), { instanceOf: InvalidOptionError, message: /--join needs --advertise, --cluster-secret/ });
  t.throws(() => resolveServerConfig({ cluster: 'c' }), { instanceOf: InvalidOptionError, message: /cluster only mean something with --join/ });
  const c = resolveServerConfig({ join: 'etcd://127.0.0.1:2379', cluster: 'c', advertise: '127.0.0.1:7000' }, { clusterSecret: 'from-environment' });
  t.is(c.clusterSecret, 'from-environment');
  t.is(resolveServerConfig().join, undefined, 'no --join: a single-machine store');
  t.is(resolveServerConfig({}, { clusterSecret: 'in-every-environment' }).join, undefined, 'a secret in the environment alone starts a single-machine store');
});

test('a node\'s data directory does not start as a single-machine store (its ring names other nodes\' actors)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-nodedir-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  saveMetadata(dir, {
    layoutVersion: LAYOUT_VERSION,
    n: 3,
    vnodes: 8,
    lastWriteWins: false,
    compressionThresholdBytes: 0,
    members: [0, 1, 2, 3].map((id) => ({ id, zone: id < 3 ? 'a' : 'b', tokens: [id * 1000 + 1] })),
    nextActorId: 0,
    nextWriterId: 0,
    node: { cluster: 'prod', name: 'a', nodeNo: 0, actors: [0, 1, 2] },
  });
  await t.throwsAsync(() => Cluster.start({ dataDir: dir }), { instanceOf: LayoutMismatchError, message: /node a of multi-node cluster prod: start it with --join/ });
  t.deepEqual((await import('node:fs')).readdirSync(dir).filter((f) => f !== 'ringkv.json' && !f.startsWith('.')), [], 'no actor env was made');
});
