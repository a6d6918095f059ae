/** SCAN over the ring (Cluster.scan): each arc read from one live replica, a page at a time. */
import { QuorumError } from '../errors.js';
import { RING_SIZE, type Ring } from '../ring/ring.js';
import { MsgType } from '../transport/protocol.js';
import type { Liveness } from './liveness.js';
import type { Router } from './router.js';

/** Up to `count` keys from ring position `cursor` on, and the cursor to go on from (0: done). */
export async function scanKeys(ring: Ring, liveness: Liveness, router: Router, cursor: number, count: number, timeoutMs: number): Promise<{ cursor: number; keys: Buffer[] }> {
  const keys: Buffer[] = [];
  let position = cursor;
  while (keys.length < count && position < RING_SIZE) {
    const index = ring.arcIndex(position);
    const arc = ring.arc(index);
    // arc 0 wraps: above the last token it runs to the end of the ring
    const end = index === 0 && position > arc.end ? RING_SIZE - 1 : arc.end;
    const owner = arc.preference.find((id) => liveness.isUp(id)) ?? arc.preference.find((id) => liveness.isRunning(id));
    if (owner === undefined) throw new QuorumError('get', 0, 1, arc.preference.length, 'no replica of this ring range is up');
    const from = position;
    const reply = await router.sendTo(owner, 'scan', 1, arc.preference.length, timeoutMs, (req) => ({ type: MsgType.ClientScan, req, fromPosition: from, toPosition: end, limit: count - keys.length }));
    if (reply.type !== MsgType.ScanOk) throw new Error('internal: unexpected reply');
    for (const k of reply.keys) keys.push(Buffer.from(k));
    if (reply.nextPosition <= position) throw new Error(`internal: scan did not advance at position ${position}`);
    position = reply.nextPosition;
  }
  return { cursor: position >= RING_SIZE ? 0 : position, keys };
}
