import test from 'ava';
import { ReadQuorum, WriteQuorum } from '../src/coordinator/quorum.js';
import { GetRequest, PutRequest, sparesFor } from '../src/actor/requests.js';
import { encodeClock, ValueKind, type Clock } from '../src/versioning/sibling.js';

const EMPTY = new Uint8Array(0);
const SELF = 0;

function put(replicas: readonly number[], w: number, startedMs = 0, timeoutMs = 100): PutRequest {
  return new PutRequest(-1, 1, new WriteQuorum(replicas, w), startedMs, startedMs + timeoutMs, EMPTY, false, EMPTY, Buffer.from('k'), EMPTY, new Map());
}

function get(replicas: readonly number[], r: number, spare: number[], startedMs = 0, timeoutMs = 100): GetRequest {
  return new GetRequest(-1, 1, Buffer.from('k'), new ReadQuorum(replicas, r), startedMs, startedMs + timeoutMs, spare);
}

function value(writer: number, counter: number, data: string): Uint8Array {
  const clock: Clock = { entries: [{ id: writer, counter, values: [{ kind: ValueKind.Bytes, timestampMs: counter, writer, data: Buffer.from(data) }] }], anonymous: [] };
  return encodeClock(clock);
}

test('a put is answered ok only once W replicas acked and the coordinator among them, and only once', (t) => {
  const p = put([SELF, 1, 2], 2);
  t.is(p.reply(SELF, -1, true), 'none');
  t.is(p.reply(SELF, 1, true), 'none');
  t.is(p.reply(SELF, 2, true), 'none', 'W peers acked, but not the coordinator');
  t.is(p.reply(SELF, SELF, true), 'ok');
  t.true(p.answered);
  t.is(p.reply(SELF, SELF, true), 'none', 'answered once');
});

test("a put fails at once when the coordinator's own write fails, and when W became impossible", (t) => {
  const own = put([SELF, 1, 2], 1);
  t.is(own.reply(SELF, 1, true), 'none');
  t.is(own.reply(SELF, SELF, false), 'own-write-failed');
  const replicas = put([SELF, 1, 2], 3);
  t.is(replicas.reply(SELF, SELF, true), 'none');
  t.is(replicas.reply(SELF, 2, false), 'replicas-failed');
  t.is(replicas.reply(SELF, 1, true), 'none');
});

test('a put is re-sent after retryMs, at most maxRetries times, and never once answered', (t) => {
  const p = put([SELF, 1, 2], 2);
  t.false(p.retryDue(9, 10, 2));
  t.true(p.retryDue(10, 10, 2));
  t.false(p.retryDue(15, 10, 2), 'retryMs counts from the last send');
  t.true(p.retryDue(20, 10, 2));
  t.false(p.retryDue(100, 10, 2), 'maxRetries reached');
  const answered = put([SELF, 1], 1);
  answered.reply(SELF, SELF, true);
  t.false(answered.retryDue(100, 10, 2));
});

test('a request past its deadline gives up once, and not if already answered', (t) => {
  const p = put([SELF, 1, 2], 2, 0, 50);
  t.false(p.overdue(49));
  t.true(p.overdue(50));
  t.true(p.giveUp());
  t.false(p.giveUp());
  const g = get([SELF, 1, 2], 1, [1, 2]);
  g.reply(SELF, true, EMPTY);
  t.is(g.answer(), 'ok');
  t.false(g.giveUp(), 'answered before the deadline: nothing more to say');
});

test('a get answers with R replies, asks a spare when a replica fails, and finishes once every asked replica replied', (t) => {
  const g = get([SELF, 1, 2], 2, [1, 2]);
  t.is(g.nextSpare(), 1);
  g.asked();
  g.reply(SELF, true, value(5, 1, 'a'));
  t.false(g.wantsSpare);
  t.is(g.answer(), 'none');
  g.reply(1, false, EMPTY);
  t.true(g.wantsSpare, 'short of R with a spare left');
  t.is(g.nextSpare(), 2);
  g.asked();
  t.false(g.wantsSpare);
  g.reply(2, true, value(5, 2, 'b'));
  t.is(g.answer(), 'ok');
  t.true(g.finished);
  t.deepEqual(g.repairs().actors, [SELF], 'the coordinator held the older version');
});

test('a get fails once R is out of reach and no spare is left', (t) => {
  const g = get([SELF, 1, 2], 2, []);
  g.reply(SELF, true, EMPTY);
  t.is(g.answer(), 'failed', 'one reply, none outstanding, no spare');
  const corrupt = get([SELF, 1], 2, [1]);
  corrupt.nextSpare();
  corrupt.asked();
  corrupt.reply(SELF, true, EMPTY);
  corrupt.reply(1, true, Uint8Array.of(0xff, 0xff, 0xff));
  t.is(corrupt.answer(), 'failed', 'a corrupt reply counts as a failure, never as an empty one');
});

test('a speculative retry is due after retryMs while unanswered with spares left', (t) => {
  const g = get([SELF, 1, 2], 2, [2], 100);
  t.false(g.speculativeDue(119, 20));
  t.true(g.speculativeDue(120, 20));
  g.nextSpare();
  t.false(g.speculativeDue(200, 20), 'no spare left');
});

test('spares: every other replica, suspected ones last, in preference order', (t) => {
  t.deepEqual(sparesFor(SELF, [3, SELF, 1, 2], new Set()), [3, 1, 2]);
  t.deepEqual(sparesFor(SELF, [3, SELF, 1, 2], new Set([3])), [1, 2, 3]);
  t.deepEqual(sparesFor(SELF, [3, SELF, 1, 2], new Set([SELF, 2, 3])), [1, 3, 2]);
});
