import test from 'ava';
import { ReplyWriter, d2string, type RespVersion } from '../src/server/resp/reply.js';

/** Run `fn` on a fresh writer of each version and return what it wrote, as latin1. */
function enc(version: RespVersion, fn: (w: ReplyWriter) => void): string {
  const w = new ReplyWriter(version);
  fn(w);
  const n = w.length;
  const out = w.take();
  if (out.length !== n) throw new Error('length disagrees with take()');
  return out.toString('latin1');
}

/** Byte-exact expectation for RESP2 and RESP3. */
function both(t: import('ava').ExecutionContext, fn: (w: ReplyWriter) => void, resp2: string, resp3: string): void {
  t.is(enc(2, fn), resp2, 'RESP2');
  t.is(enc(3, fn), resp3, 'RESP3');
}

test('simple string', (t) => {
  both(t, (w) => w.simple('OK'), '+OK\r\n', '+OK\r\n');
  both(t, (w) => w.simple(''), '+\r\n', '+\r\n');
  both(t, (w) => w.simple('a\r\nb'), '+a  b\r\n', '+a  b\r\n');
});

test('error: -<message>, CR/LF replaced by spaces', (t) => {
  both(t, (w) => w.error('ERR unknown command'), '-ERR unknown command\r\n', '-ERR unknown command\r\n');
  both(t, (w) => w.error('ERR bad\r\nthing\n'), '-ERR bad  thing \r\n', '-ERR bad  thing \r\n');
  both(t, (w) => w.error('WRONGTYPE Operation against a key holding the wrong kind of value'), '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n', '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n');
  // UTF-8 in messages is sent as UTF-8.
  t.deepEqual([...new ReplyWriter(2).take()], []);
  const w = new ReplyWriter(2);
  w.error('ERR é');
  t.true(w.take().equals(Buffer.from('-ERR é\r\n', 'utf8')));
});

test('integer: numbers and bigints', (t) => {
  both(t, (w) => w.integer(0), ':0\r\n', ':0\r\n');
  both(t, (w) => w.integer(-0), ':0\r\n', ':0\r\n');
  both(t, (w) => w.integer(42), ':42\r\n', ':42\r\n');
  both(t, (w) => w.integer(-1), ':-1\r\n', ':-1\r\n');
  both(t, (w) => w.integer(Number.MAX_SAFE_INTEGER), ':9007199254740991\r\n', ':9007199254740991\r\n');
  both(t, (w) => w.integer(9223372036854775807n), ':9223372036854775807\r\n', ':9223372036854775807\r\n');
  both(t, (w) => w.integer(-9223372036854775808n), ':-9223372036854775808\r\n', ':-9223372036854775808\r\n');
  // Past int64: RESP3 big number, RESP2 bulk string (Redis addReplyBigNum).
  both(t, (w) => w.integer(9223372036854775808n), '$19\r\n9223372036854775808\r\n', '(9223372036854775808\r\n');
  t.throws(() => new ReplyWriter(2).integer(1.5), { instanceOf: RangeError });
  t.throws(() => new ReplyWriter(2).integer(NaN), { instanceOf: RangeError });
});

test('bulk: Buffer, string (UTF-8), null', (t) => {
  both(t, (w) => w.bulk('foo'), '$3\r\nfoo\r\n', '$3\r\nfoo\r\n');
  both(t, (w) => w.bulk(''), '$0\r\n\r\n', '$0\r\n\r\n');
  both(t, (w) => w.bulk(Buffer.from([0, 13, 10, 255])), '$4\r\n\x00\r\n\xff\r\n', '$4\r\n\x00\r\n\xff\r\n');
  both(t, (w) => w.bulk(null), '$-1\r\n', '_\r\n');
  const w = new ReplyWriter(2);
  w.bulk('€');
  t.true(w.take().equals(Buffer.from('$3\r\n€\r\n', 'utf8')));
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const x = new ReplyWriter(3);
  x.bulk(all);
  t.true(x.take().equals(Buffer.concat([Buffer.from('$256\r\n'), all, Buffer.from('\r\n')])));
});

test('nullValue and nullArray', (t) => {
  both(t, (w) => w.nullValue(), '$-1\r\n', '_\r\n');
  both(t, (w) => w.nullArray(), '*-1\r\n', '_\r\n');
});

test('arrays', (t) => {
  both(t, (w) => w.arrayHeader(0), '*0\r\n', '*0\r\n');
  both(t, (w) => w.arrayHeader(3), '*3\r\n', '*3\r\n');
  both(t, (w) => w.array(['a', Buffer.from('bc'), null]), '*3\r\n$1\r\na\r\n$2\r\nbc\r\n$-1\r\n', '*3\r\n$1\r\na\r\n$2\r\nbc\r\n_\r\n');
  both(t, (w) => w.array([]), '*0\r\n', '*0\r\n');
});

test('maps: RESP3 %, RESP2 flat array of 2n', (t) => {
  both(t, (w) => w.mapHeader(2), '*4\r\n', '%2\r\n');
  both(t, (w) => w.mapHeader(0), '*0\r\n', '%0\r\n');
  both(
    t,
    (w) => w.map([['server', 'ringkv'], ['proto', 3], ['share', 0.25], ['raw', Buffer.from('x')], ['none', null]]),
    '*10\r\n$6\r\nserver\r\n$6\r\nringkv\r\n$5\r\nproto\r\n:3\r\n$5\r\nshare\r\n$4\r\n0.25\r\n$3\r\nraw\r\n$1\r\nx\r\n$4\r\nnone\r\n$-1\r\n',
    '%5\r\n$6\r\nserver\r\n$6\r\nringkv\r\n$5\r\nproto\r\n:3\r\n$5\r\nshare\r\n,0.25\r\n$3\r\nraw\r\n$1\r\nx\r\n$4\r\nnone\r\n_\r\n',
  );
});

test('attribute: RESP3 |n before the reply, nothing in RESP2', (t) => {
  both(
    t,
    (w) => {
      w.attribute([['siblings', 2]]);
      w.bulk('v');
    },
    '$1\r\nv\r\n',
    '|1\r\n$8\r\nsiblings\r\n:2\r\n$1\r\nv\r\n',
  );
});

test('verbatim: RESP3 =len txt:, RESP2 bulk', (t) => {
  both(t, (w) => w.verbatim('hello'), '$5\r\nhello\r\n', '=9\r\ntxt:hello\r\n');
  both(t, (w) => w.verbatim('a\r\nb'), '$4\r\na\r\nb\r\n', '=8\r\ntxt:a\r\nb\r\n');
  both(t, (w) => w.verbatim(''), '$0\r\n\r\n', '=4\r\ntxt:\r\n');
  const w = new ReplyWriter(3);
  w.verbatim('é');
  t.true(w.take().equals(Buffer.from('=6\r\ntxt:é\r\n', 'utf8')));
});

test('double: RESP3 ",", RESP2 bulk; Redis d2string formatting', (t) => {
  both(t, (w) => w.double(1.5), '$3\r\n1.5\r\n', ',1.5\r\n');
  both(t, (w) => w.double(3), '$1\r\n3\r\n', ',3\r\n');
  both(t, (w) => w.double(-0), '$2\r\n-0\r\n', ',-0\r\n');
  both(t, (w) => w.double(Infinity), '$3\r\ninf\r\n', ',inf\r\n');
  both(t, (w) => w.double(-Infinity), '$4\r\n-inf\r\n', ',-inf\r\n');
  both(t, (w) => w.double(NaN), '$3\r\nnan\r\n', ',nan\r\n');
  t.is(d2string(0), '0');
  t.is(d2string(0.1), '0.1');
  t.is(d2string(-2.5), '-2.5');
  t.is(d2string(1 / 3), '0.3333333333333333');
  t.is(d2string(1e-5), '1e-05');
  t.is(d2string(1.5e-7), '1.5e-07');
  t.is(d2string(0.0001), '0.0001');
  t.is(d2string(123456.789), '123456.789');
  t.is(d2string(1e17), '100000000000000000'); // integral and within LLONG_MAX/2: printed as an integer
  t.is(d2string(1e19), '1e+19');
  t.is(d2string(1.25e300), '1.25e+300');
  t.is(d2string(-4611686018427387904), '-4611686018427387904'); // -2^62: the edge of double2ll's range
  t.is(d2string(-4611686018427387904 * 2), '-9.223372036854776e+18');
  t.is(d2string(4611686018427387903), '4611686018427387904'); // rounds to 2^62, still integral in range
  t.is(d2string(12345678901234567.5), '12345678901234568');
});

test('boolean: RESP3 #t/#f, RESP2 :1/:0', (t) => {
  both(t, (w) => w.boolean(true), ':1\r\n', '#t\r\n');
  both(t, (w) => w.boolean(false), ':0\r\n', '#f\r\n');
});

test('setVersion switches encoding for what follows (HELLO)', (t) => {
  const w = new ReplyWriter(2);
  w.bulk(null);
  w.setVersion(3);
  t.is(w.version, 3);
  w.bulk(null);
  w.mapHeader(1);
  t.is(w.take().toString('latin1'), '$-1\r\n_\r\n%1\r\n');
});

test('take(): one Buffer per flush, empty after, earlier buffers never overwritten', (t) => {
  const w = new ReplyWriter(2);
  t.is(w.length, 0);
  t.is(w.take().length, 0);
  w.simple('OK');
  w.integer(1);
  t.is(w.length, 9);
  const first = w.take();
  t.is(first.toString(), '+OK\r\n:1\r\n');
  t.is(w.length, 0);
  // Later writes land after (or in a new slab), never on top of what was handed out.
  for (let i = 0; i < 1000; i++) w.bulk('x'.repeat(i % 50));
  const second = w.take();
  t.is(first.toString(), '+OK\r\n:1\r\n');
  let expected = '';
  for (let i = 0; i < 1000; i++) expected += `$${i % 50}\r\n${'x'.repeat(i % 50)}\r\n`;
  t.is(second.toString(), expected);
});

test('a pipeline of many replies and a large bulk come out as one exact Buffer', (t) => {
  const w = new ReplyWriter(3);
  const big = Buffer.alloc(1024 * 1024, 0x61);
  const parts: Buffer[] = [];
  for (let i = 0; i < 5000; i++) {
    w.simple('OK');
    parts.push(Buffer.from('+OK\r\n'));
  }
  w.bulk(big);
  parts.push(Buffer.from(`$${big.length}\r\n`), big, Buffer.from('\r\n'));
  w.integer(7);
  parts.push(Buffer.from(':7\r\n'));
  const out = w.take();
  t.true(out.equals(Buffer.concat(parts)));
  // The grown slab is not kept for the next flush.
  w.simple('OK');
  t.is(w.take().toString(), '+OK\r\n');
  t.true(out.equals(Buffer.concat(parts)));
});
