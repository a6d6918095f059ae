import test from 'ava';
import { WriteLanes, type LaneWrite } from '../src/storage/write-lanes.js';

interface W extends LaneWrite {
  readonly key: number;
  readonly seq: number;
}

/** Queue writes the way ActorStore does: each joins the lane laneFor gives it, given its key's latest write. */
function queue(lanes: WriteLanes<W>, latest: Map<number, W>, key: number, background: boolean, seq: number): W {
  const w: W = { key, seq, background: WriteLanes.laneFor(background, latest.get(key)), taken: false };
  latest.set(key, w);
  lanes.push(w);
  return w;
}

test('a commit takes the foreground lane first (at most maxForeground), then at most maxBackground background writes', (t) => {
  const lanes = new WriteLanes<W>(3, 2);
  const latest = new Map<number, W>();
  for (let i = 0; i < 5; i++) queue(lanes, latest, 100 + i, true, i);
  for (let i = 0; i < 4; i++) queue(lanes, latest, i, false, 10 + i);
  t.deepEqual(lanes.take().map((w) => w.seq), [10, 11, 12, 0, 1]);
  t.deepEqual(lanes.take().map((w) => w.seq), [13, 2, 3]);
  t.deepEqual(lanes.take().map((w) => w.seq), [4]);
  t.true(lanes.empty);
  t.throws(() => lanes.take(), { message: /at least one write/ });
  t.throws(() => new WriteLanes<W>(1, 0), { message: /maxBackgroundWritesPerCommit/ });
});

test('property: whatever the mix, each key\'s writes are taken in the order they were made, and every commit respects both caps', (t) => {
  let seed = 7;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let round = 0; round < 200; round++) {
    const maxFg = 1 + Math.floor(random() * 4);
    const maxBg = 1 + Math.floor(random() * 4);
    const lanes = new WriteLanes<W>(maxFg, maxBg);
    const latest = new Map<number, W>();
    const taken: W[] = [];
    let seq = 0;
    for (let step = 0; step < 60; step++) {
      if (random() < 0.7) queue(lanes, latest, Math.floor(random() * 4), random() < 0.5, seq++);
      else if (!lanes.empty) {
        const batch = lanes.take();
        t.true(batch.filter((w) => !w.background).length <= maxFg && batch.filter((w) => w.background).length <= maxBg);
        taken.push(...batch);
      }
    }
    while (!lanes.empty) taken.push(...lanes.take());
    t.is(taken.length, seq, 'every write is taken once');
    for (let key = 0; key < 4; key++) {
      const order = taken.filter((w) => w.key === key).map((w) => w.seq);
      t.deepEqual(order, [...order].sort((a, b) => a - b), `key ${key} in round ${round}`);
    }
  }
});
