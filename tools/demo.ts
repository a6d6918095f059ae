// `npm run demo`: start ringkv on a data directory of its own (./data-demo,
// or RINGKV_DATA_DIR), show the ring, write and read a few keys, show what
// siblings look like, and shut down cleanly. The network server (RESP/HTTP)
// builds on this same Cluster API. Not ./data: that is the server's, and
// the demo writes keys such as user:1 that a user may have there.
import { Cluster } from '../src/index.js';

const dataDir = process.env.RINGKV_DATA_DIR ?? './data-demo';
const cluster = await Cluster.start({ dataDir, n: 3, r: 2, w: 2 });
try {
  console.log(`ringkv demo: data in ${dataDir}${process.env.RINGKV_DATA_DIR ? ' (RINGKV_DATA_DIR)' : ' (its own directory; RINGKV_DATA_DIR picks another)'}`);
  console.log(`started with ${cluster.members().length} actors (n=${cluster.n})`);
  console.table(cluster.members().map((m) => ({ ...m, replicaShare: `${(m.replicaShare * 100).toFixed(1)}%` })));

  const { context } = await cluster.put('user:1', { name: 'ada' }, { w: 2 });
  const read = await cluster.get('user:1', { r: 2 });
  console.log('get user:1 →', read.values, 'context', read.context);
  await cluster.put('user:1', { name: 'ada l.' }, { context });

  // Two writers from the same old context: both survive as siblings.
  const base = await cluster.put('counter', 0);
  await cluster.put('counter', 1, { context: base.context });
  await cluster.put('counter', 2, { context: base.context });
  const siblings = await cluster.get('counter');
  console.log('siblings of counter →', siblings.values);
  await cluster.put('counter', Math.max(...(siblings.values as number[])), { context: siblings.context });
  console.log('after resolving →', (await cluster.get('counter')).values);

  const visits = await cluster.get('demo:runs');
  const runs = ((visits.values[0] as number | undefined) ?? 0) + 1;
  await cluster.put('demo:runs', runs, { context: visits.context });
  console.log(`this data directory has been started by the demo ${runs} time(s)`);
} finally {
  await cluster.close();
  console.log('closed: every actor flushed and closed its LMDB environment');
}
