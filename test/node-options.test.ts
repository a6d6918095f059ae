import test from 'ava';
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
});
