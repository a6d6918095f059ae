import test from 'ava';
import { open, type Database } from 'lmdb';
import { readCopy } from '../src/storage/read-copy.js';
import { tempDir } from './helpers.js';

/** Values of every size class lmdb-js returns differently: small (its shared buffer), past that buffer (a larger one), compressed. */
const SIZES = [1, 100, 4096, 70_000, 3_000_000];

async function openData(path: string, compression: boolean): Promise<{ data: Database<Buffer, Buffer>; close(): Promise<void> }> {
  const root = open({ path, maxDbs: 2 });
  const data = root.openDB<Buffer, Buffer>({ name: 'data', encoding: 'binary', keyEncoding: 'binary', compression: compression ? { threshold: 64 } : false } as never);
  return { data, close: () => root.close() };
}

for (const compression of [false, true]) {
  test(`readCopy returns each value whole, as a copy no later read overwrites (compression ${compression})`, async (t) => {
    const { data, close } = await openData(tempDir(t), compression);
    t.teardown(close);
    const values = SIZES.map((size, i) => Buffer.alloc(size, i + 1).fill(`value-${size}-`, 0, Math.min(size, 16)));
    for (let i = 0; i < SIZES.length; i++) await data.put(Buffer.from(`k${i}`), values[i]!);
    const copies = SIZES.map((_, i) => readCopy(data, Buffer.from(`k${i}`)));
    // read them all again in the other order, through lmdb-js's shared buffer, before comparing
    for (let i = SIZES.length - 1; i >= 0; i--) data.getBinaryFast(Buffer.from(`k${i}`));
    for (let i = 0; i < SIZES.length; i++) {
      t.is(copies[i]!.length, SIZES[i]!);
      t.true(copies[i]!.equals(values[i]!), `value of ${SIZES[i]} bytes`);
    }
    t.is(readCopy(data, Buffer.from('missing')), undefined);
  });
}

test('readCopy with keep gives the value memory of its own, not a slice of a shared pool', async (t) => {
  const { data, close } = await openData(tempDir(t), false);
  t.teardown(close);
  await data.put(Buffer.from('k'), Buffer.from('v'.repeat(50)));
  const kept = readCopy(data, Buffer.from('k'), true)!;
  t.is(kept.buffer.byteLength, 50, 'a standalone backing store of exactly the value');
  const pooled = readCopy(data, Buffer.from('k'))!;
  t.true(pooled.buffer.byteLength > 50, 'the transient copy comes from the pool');
  t.true(kept.equals(pooled));
});
