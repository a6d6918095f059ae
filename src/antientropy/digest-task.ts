import { createHash } from 'node:crypto';
import { openReadOnlyData } from '../storage/store.js';
import type { DigestTask, RangeDigest } from './digests.js';

/** Runs in a piscina thread: one pass over each group of ranges, hashing keys and values in ring order. */
export async function digestRanges(task: DigestTask): Promise<RangeDigest[]> {
  const env = openReadOnlyData(task.path, task.compressionThresholdBytes);
  try {
    env.resetReadTxn(); // an idle pool thread would otherwise read an old snapshot
    return task.groups.map((ranges) => {
      const h = createHash('sha256');
      let keys = 0;
      let bytes = 0;
      for (const r of ranges) {
        const options: { start: Buffer; end?: Buffer } = { start: bound(r.from) };
        if (r.to < 2 ** 32) options.end = bound(r.to);
        for (const { key, value } of env.data.getRange(options)) {
          const k = key as Buffer;
          const v = value as Buffer;
          h.update(lengthPrefix(k.length)).update(k).update(lengthPrefix(v.length)).update(v);
          keys++;
          bytes += k.length + v.length;
        }
      }
      return { keys, bytes, sha256: h.digest('hex') };
    });
  } finally {
    await env.close();
  }
}

function bound(position: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(position, 0);
  return b;
}

function lengthPrefix(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
}
