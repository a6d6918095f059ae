import test from 'ava';
import * as fc from 'fast-check';
import {
  RespParser,
  RESP_ERRORS,
  expectedDollarError,
  splitArgs,
  string2ll,
  type FeedResult,
  type RespLimits,
} from '../src/server/resp/parser.js';
import { mulberry32 } from './random.js';

// ---------------------------------------------------------------------------
// helpers

/** Redis' own defaults (proto-max-bulk-len 512 MiB, client-query-buffer-limit 1 GiB). */
const REDIS: RespLimits = { maxBulkBytes: 512 * 1024 * 1024, maxArgs: 1024 * 1024, maxInlineBytes: 64 * 1024, maxQueryBufferBytes: 1024 * 1024 * 1024 };
/** What ringkv's server passes. */
const RINGKV: RespLimits = { maxBulkBytes: 64 * 1024, maxArgs: 1024 * 1024, maxInlineBytes: 64 * 1024, maxQueryBufferBytes: 1024 * 1024 };

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
/** Commands as latin1 strings: easy to compare and to read in a failure. */
const strs = (cmds: Buffer[][]): string[][] => cmds.map((c) => c.map((a) => a.toString('latin1')));

/** RESP multibulk encoding of one command. */
function encode(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [b(`*${args.length}\r\n`)];
  for (const a of args) {
    const x = typeof a === 'string' ? Buffer.from(a, 'utf8') : a;
    parts.push(b(`$${x.length}\r\n`), x, b('\r\n'));
  }
  return Buffer.concat(parts);
}

interface Outcome {
  commands: string[][];
  error?: string;
  buffered: number;
}

/** Feed `input` split at the given offsets (sorted, within range) and collect everything. */
function feedSplit(input: Buffer, cuts: number[], limits: RespLimits = RINGKV): Outcome {
  const p = new RespParser(limits);
  const commands: Buffer[][] = [];
  let error: string | undefined;
  let prev = 0;
  for (const c of [...cuts, input.length]) {
    const r = p.feed(input.subarray(prev, c));
    commands.push(...r.commands);
    prev = c;
    if (r.error !== undefined) {
      error = r.error;
      break;
    }
  }
  return error === undefined ? { commands: strs(commands), buffered: p.bufferedBytes } : { commands: strs(commands), error, buffered: 0 };
}

const whole = (input: Buffer | string, limits: RespLimits = RINGKV): Outcome =>
  feedSplit(typeof input === 'string' ? b(input) : input, [], limits);

function feedChunks(p: RespParser, input: Buffer, sizes: number[]): { commands: Buffer[][]; error?: string } {
  const commands: Buffer[][] = [];
  let off = 0;
  let i = 0;
  while (off < input.length) {
    const n = Math.max(1, sizes.length ? sizes[i++ % sizes.length]! : input.length);
    const r = p.feed(input.subarray(off, off + n));
    for (const c of r.commands) commands.push(c);
    off += n;
    if (r.error !== undefined) return { commands, error: r.error };
  }
  return { commands };
}


/** The same outcome whole, byte at a time, and split at every single offset. */
function assertChunkingInvariant(t: import('ava').ExecutionContext, input: Buffer, limits: RespLimits = RINGKV): Outcome {
  const ref = feedSplit(input, [], limits);
  t.deepEqual(feedSplit(input, Array.from({ length: Math.max(0, input.length - 1) }, (_, i) => i + 1), limits), ref, 'byte at a time');
  for (let i = 0; i <= input.length; i++) {
    const got = feedSplit(input, [i], limits);
    if (JSON.stringify(got) !== JSON.stringify(ref)) {
      t.deepEqual(got, ref, `split at ${i}`);
      return ref;
    }
  }
  t.pass();
  return ref;
}

// ---------------------------------------------------------------------------
// Redis tests/unit/protocol.tcl, same inputs, same expectations

test('protocol.tcl: Handle an empty query', (t) => {
  t.deepEqual(whole('\r\n*1\r\n$4\r\nPING\r\n'), { commands: [['PING']], buffered: 0 });
});

test('protocol.tcl: Negative multibulk length', (t) => {
  t.deepEqual(whole('*-10\r\n*1\r\n$4\r\nPING\r\n'), { commands: [['PING']], buffered: 0 });
});

test('protocol.tcl: Out of range multibulk length', (t) => {
  // Redis 7 sends *3000000000 (over INT_MAX); older versions *20000000 (over 1024*1024).
  t.is(whole('*3000000000\r\n', REDIS).error, 'Protocol error: invalid multibulk length');
  t.is(whole('*20000000\r\n', REDIS).error, 'Protocol error: invalid multibulk length');
});

test("protocol.tcl: Wrong multibulk payload header", (t) => {
  t.is(whole('*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n', REDIS).error, "Protocol error: expected '$', got 'f'");
});

test('protocol.tcl: Negative multibulk payload length', (t) => {
  t.is(whole('*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n', REDIS).error, 'Protocol error: invalid bulk length');
});

test('protocol.tcl: Out of range multibulk payload length', (t) => {
  t.is(whole('*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n', REDIS).error, 'Protocol error: invalid bulk length');
});

test('protocol.tcl: Non-number multibulk payload length', (t) => {
  t.is(whole('*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n', REDIS).error, 'Protocol error: invalid bulk length');
});

test('protocol.tcl: Multi bulk request not followed by bulk arguments', (t) => {
  t.is(whole('*1\r\nfoo\r\n', REDIS).error, "Protocol error: expected '$', got 'f'");
});

test('protocol.tcl: Unbalanced number of quotes', (t) => {
  t.is(whole('set """test-key""" test-value\r\nping\r\n', REDIS).error, 'Protocol error: unbalanced quotes in request');
});

for (const [i, seq, expected] of [
  [1, '\x00', RESP_ERRORS.tooBigInline],
  [2, '*\x00', RESP_ERRORS.tooBigMbulkCount],
  [3, '$\x00', RESP_ERRORS.tooBigInline],
] as const) {
  test(`protocol.tcl: Protocol desync regression test #${i}`, (t) => {
    // The client keeps sending 1 KiB lines after a NUL; Redis' strchr() never looks past the
    // NUL, so the request can only grow until it hits the 64 KiB line limit.
    const p = new RespParser(REDIS);
    let r = p.feed(b(seq));
    t.is(r.error, undefined);
    const payload = b('A'.repeat(1024) + '\n');
    let sent = seq.length;
    while (r.error === undefined && sent < 1024 * 1024) {
      r = p.feed(payload);
      t.deepEqual(r.commands, []);
      sent += payload.length;
      if (r.error === undefined) t.true(p.bufferedBytes <= REDIS.maxInlineBytes);
    }
    t.is(r.error, expected);
    t.true(r.error!.startsWith('Protocol error'));
    t.true(sent <= REDIS.maxInlineBytes + 2 * payload.length);
  });
}

test('protocol.tcl: large number of args (MSET with 20002 args)', (t) => {
  const args = ['mset'];
  for (let i = 0; i < 10000; i++) args.push('k', 'v');
  args.push('{k}2', 'v2');
  const r = whole(encode(args), REDIS);
  t.is(r.error, undefined);
  t.is(r.commands.length, 1);
  t.is(r.commands[0]!.length, 20003); // MSET + 20002 args
  t.deepEqual(r.commands[0]!.slice(-2), ['{k}2', 'v2']);
});

test('regression: request split after the multibulk count (cron release of args)', (t) => {
  const p = new RespParser(REDIS);
  t.deepEqual(p.feed(b('*3\r\n')), { commands: [] });
  t.is(p.bufferedBytes, 4);
  t.deepEqual(strs(p.feed(b('$3\r\nSET\r\n$3\r\nkey\r\n$1\r\n0\r\n')).commands), [['SET', 'key', '0']]);
  t.is(p.bufferedBytes, 0);
});

// ---------------------------------------------------------------------------
// every error text, exactly as Redis words it

test('error texts are exactly the Redis 7 ones', (t) => {
  t.deepEqual(
    { ...RESP_ERRORS },
    {
      invalidMultibulkLength: 'Protocol error: invalid multibulk length',
      invalidBulkLength: 'Protocol error: invalid bulk length',
      tooBigMbulkCount: 'Protocol error: too big mbulk count string',
      tooBigBulkCount: 'Protocol error: too big bulk count string',
      tooBigInline: 'Protocol error: too big inline request',
      unauthenticatedMultibulkLength: 'Protocol error: unauthenticated multibulk length',
      unauthenticatedBulkLength: 'Protocol error: unauthenticated bulk length',
      unbalancedQuotes: 'Protocol error: unbalanced quotes in request',
      queryBufferLimit: 'Closing client that reached max query buffer length',
    },
  );
  t.is(expectedDollarError(120), "Protocol error: expected '$', got 'x'");
});

test("expected '$': the offending byte, with CR/LF shown as a space like Redis' sdsmapchars", (t) => {
  t.is(whole('*1\r\nx\r\n').error, "Protocol error: expected '$', got 'x'");
  t.is(whole('*1\r\n\r\n').error, "Protocol error: expected '$', got ' '"); // line is empty: Redis prints the '\r'
  t.is(whole('*1\r\n\n\r\n').error, "Protocol error: expected '$', got ' '");
  t.is(whole('*1\r\n*1\r\n').error, "Protocol error: expected '$', got '*'");
  t.is(whole('*1\r\n\xff\r\n').error, "Protocol error: expected '$', got '\xff'");
  // Redis only looks at the byte once the whole line (to '\r' + 1 byte) is in.
  t.deepEqual(whole('*1\r\nfoo'), { commands: [], buffered: 7 });
  t.deepEqual(whole('*1\r\nfoo\r'), { commands: [], buffered: 8 });
});

test('invalid multibulk length: every way string2ll or the limit refuses a count', (t) => {
  for (const count of ['', ' 1', '1 ', '+1', '01', '-0', '0x10', '1.0', 'abc', '1a', '-', '--1', '99999999999999999999', '9223372036854775808', '-9223372036854775809', '123456789012345678901']) {
    t.is(whole(`*${count}\r\n`, REDIS).error, RESP_ERRORS.invalidMultibulkLength, JSON.stringify(count));
  }
  t.is(whole(`*${REDIS.maxArgs + 1}\r\n`, REDIS).error, RESP_ERRORS.invalidMultibulkLength);
  t.is(whole('*9223372036854775807\r\n', REDIS).error, RESP_ERRORS.invalidMultibulkLength);
});

test('zero and negative multibulk counts are ignored, down to INT64_MIN', (t) => {
  for (const count of ['0', '-1', '-10', '-2147483649', '-9223372036854775808']) {
    t.deepEqual(whole(`*${count}\r\n*1\r\n$4\r\nPING\r\n`, REDIS), { commands: [['PING']], buffered: 0 }, count);
  }
});

test('invalid bulk length: every way string2ll or the limit refuses a length', (t) => {
  for (const len of ['', '-1', '-0', '01', '+1', ' 1', '1 ', 'x', '9223372036854775808', '99999999999999999999', String(RINGKV.maxBulkBytes + 1)]) {
    t.is(whole(`*1\r\n$${len}\r\n`).error, RESP_ERRORS.invalidBulkLength, JSON.stringify(len));
  }
});

test('too big mbulk count / bulk count string after maxInlineBytes without a CR', (t) => {
  const L = { ...RINGKV, maxInlineBytes: 16 };
  // "*" + 15 digits = 16 bytes: still waiting; the 17th byte without '\r' trips the limit.
  t.deepEqual(whole('*' + '1'.repeat(15), L), { commands: [], buffered: 16 });
  t.is(whole('*' + '1'.repeat(16), L).error, RESP_ERRORS.tooBigMbulkCount);
  t.is(whole('*1\r\n$' + '1'.repeat(15), L).error, undefined);
  t.is(whole('*1\r\n$' + '1'.repeat(16), L).error, RESP_ERRORS.tooBigBulkCount);
  // A '\r' at byte 17 is too late (Redis tripped on byte 17 before seeing it); at 16 it is fine.
  t.is(whole('*' + '0'.repeat(16) + '\r\n', L).error, RESP_ERRORS.tooBigMbulkCount);
  t.is(whole('*' + '0'.repeat(15) + '\r\n', L).error, RESP_ERRORS.invalidMultibulkLength);
  // Junk in place of a '$' header is "too big bulk count", not "expected '$'": no '\r' yet.
  t.is(whole('*1\r\n' + 'f'.repeat(17), L).error, RESP_ERRORS.tooBigBulkCount);
});

test('too big inline request, the same wherever the chunks fall', (t) => {
  const L = { ...RINGKV, maxInlineBytes: 16 };
  t.deepEqual(whole('x'.repeat(16) + '\n', L), { commands: [['x'.repeat(16)]], buffered: 0 });
  // The '\r' of "\r\n" counts: Redis had 17 bytes without a '\n' before the '\n' came.
  t.is(whole('x'.repeat(16) + '\r\n', L).error, RESP_ERRORS.tooBigInline);
  t.deepEqual(whole('x'.repeat(15) + '\r\n', L), { commands: [['x'.repeat(15)]], buffered: 0 });
  // Stricter than Redis on one point only: Redis would accept a longer line arriving in one read.
  t.is(whole('x'.repeat(100) + '\n', L).error, RESP_ERRORS.tooBigInline);
  assertChunkingInvariant(t, b('PING\r\n' + 'x'.repeat(20) + '\n'), L);
});

test('unbalanced quotes: Redis sdssplitargs cases', (t) => {
  for (const line of ['"foo', "'foo", '"foo"bar', "'foo'bar", 'set "a\\"', 'a "b', 'x \'\\\'', '"\\x4"a']) {
    t.is(whole(line + '\r\n').error, RESP_ERRORS.unbalancedQuotes, line);
  }
});

test('commands pipelined before the bad bytes come back with the error', (t) => {
  const input = Buffer.concat([encode(['SET', 'a', '1']), b('PING\r\n'), encode(['GET', 'a']), b('*1\r\n$x\r\n'), encode(['NEVER'])]);
  const r = assertChunkingInvariant(t, input);
  t.deepEqual(r, { commands: [['SET', 'a', '1'], ['PING'], ['GET', 'a']], error: RESP_ERRORS.invalidBulkLength, buffered: 0 });
});

test('after an error the parser stays failed', (t) => {
  const p = new RespParser(RINGKV);
  t.is(p.feed(b('*x\r\n')).error, RESP_ERRORS.invalidMultibulkLength);
  t.deepEqual(p.feed(encode(['PING'])), { commands: [], error: RESP_ERRORS.invalidMultibulkLength });
  t.is(p.bufferedBytes, 0);
});

test('every error case gives the same commands and error at every split', (t) => {
  const L = { maxBulkBytes: 32, maxArgs: 4, maxInlineBytes: 16, maxQueryBufferBytes: 64 };
  const ok = encode(['SET', 'k', 'v']);
  const bad = [
    '*5\r\n',
    '*-0\r\n',
    '*1\r\n$33\r\n',
    '*1\r\n$-1\r\n',
    '*1\r\nfoo\r\n',
    '*' + '1'.repeat(20),
    '*1\r\n$' + '1'.repeat(20),
    'x'.repeat(20) + '\n',
    '\x00' + 'A'.repeat(20) + '\n',
    '*\x00\r\n' + 'A'.repeat(20),
    '*1\r\n$\x00\r\n' + 'A'.repeat(20),
    'set "a\n',
    '*4\r\n$16\r\n' + 'x'.repeat(16) + '\r\n$16\r\n' + 'y'.repeat(16) + '\r\n$16\r\n',
  ];
  for (const tail of bad) {
    const r = assertChunkingInvariant(t, Buffer.concat([ok, b('PING\n'), b(tail)]), L);
    t.deepEqual(r.commands, [['SET', 'k', 'v'], ['PING']], JSON.stringify(tail));
    t.truthy(r.error, JSON.stringify(tail));
  }
});

// ---------------------------------------------------------------------------
// limits

test('a bulk over maxBulkBytes is refused on its header, before any payload', (t) => {
  const p = new RespParser(RINGKV);
  const r = p.feed(b(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${RINGKV.maxBulkBytes + 1}\r\n`));
  t.deepEqual(r, { commands: [], error: RESP_ERRORS.invalidBulkLength });
  // Exactly the limit is fine, and waits for the payload.
  const q = new RespParser(RINGKV);
  t.deepEqual(q.feed(b(`*1\r\n$${RINGKV.maxBulkBytes}\r\n`)), { commands: [] });
  const r2 = q.feed(Buffer.alloc(RINGKV.maxBulkBytes + 2, 0x61));
  t.is(r2.commands.length, 1);
  t.is(r2.commands[0]![0]!.length, RINGKV.maxBulkBytes);
});

test('maxDiscardBulkBytes: a bulk too large to keep is read past, its command refused, and the stream stays in sync at every chunking', (t) => {
  const limits: RespLimits = { ...RINGKV, maxBulkBytes: 1000, maxDiscardBulkBytes: 5000 };
  const show = (cmds: (Buffer[] & { refused?: string })[]): string[] => cmds.map((c) => c.refused ?? c.map((a) => a.toString('latin1')).join(' '));
  const input = Buffer.concat([
    encode(['SET', 'k', Buffer.alloc(4000, 0x78)]),
    encode(['SET', 'k2', 'small']),
    encode(['MSET', 'a', Buffer.alloc(1001, 0x79), 'b', Buffer.alloc(5000, 0x7a)]),
    b('PING\r\n'),
  ]);
  const expected = ['argument of 4000 bytes is over the limit of 1000 bytes; the command was not run', 'SET k2 small', 'argument of 1001 bytes is over the limit of 1000 bytes; the command was not run', 'PING'];
  const whole = new RespParser(limits).feed(input);
  t.is(whole.error, undefined);
  t.deepEqual(show(whole.commands), expected);
  for (const sizes of [[1], [7], [999], [4001], [1, 2, 3, 5000]]) {
    const p = new RespParser(limits);
    const got = feedChunks(p, input, sizes);
    t.is(got.error, undefined);
    t.deepEqual(show(got.commands), expected, `chunks ${sizes.join(',')}`);
    t.is(p.bufferedBytes, 0, 'nothing of a discarded payload is held');
  }
  // past the discard bound it is the protocol error it always was
  t.deepEqual(new RespParser(limits).feed(b('*2\r\n$3\r\nGET\r\n$5001\r\n')), { commands: [], error: RESP_ERRORS.invalidBulkLength });
  // a client that still has to AUTH gets no such courtesy
  t.deepEqual(new RespParser({ ...limits, authRequired: true }).feed(b('*2\r\n$3\r\nGET\r\n$1001\r\n')), { commands: [], error: RESP_ERRORS.invalidBulkLength });
  // a discarded payload does not count against the query buffer (nothing of it is kept)
  const tight: RespLimits = { ...limits, maxQueryBufferBytes: 2000 };
  t.deepEqual(show(new RespParser(tight).feed(encode(['SET', 'k', Buffer.alloc(4500)])).commands), ['argument of 4500 bytes is over the limit of 1000 bytes; the command was not run']);
});

test('too many args: over maxArgs refused on the count, maxArgs accepted', (t) => {
  const L = { ...RINGKV, maxArgs: 3 };
  t.is(whole('*4\r\n', L).error, RESP_ERRORS.invalidMultibulkLength);
  t.deepEqual(whole(encode(['a', 'b', 'c']), L), { commands: [['a', 'b', 'c']], buffered: 0 });
});

test('query buffer limit: a request may hold at most maxQueryBufferBytes', (t) => {
  const L = { ...RINGKV, maxQueryBufferBytes: 40 };
  const exact = encode(['SET', 'key', 'x'.repeat(40 - 29)]); // 29 bytes of framing
  t.is(exact.length, 40);
  t.deepEqual(assertChunkingInvariant(t, exact, L), { commands: [['SET', 'key', 'x'.repeat(11)]], buffered: 0 });
  const over = encode(['SET', 'key', 'x'.repeat(12)]);
  t.deepEqual(assertChunkingInvariant(t, over, L), { commands: [], error: RESP_ERRORS.queryBufferLimit, buffered: 0 });
  // Refused as soon as the header shows the payload cannot fit: nothing of it is buffered.
  const p = new RespParser(L);
  t.deepEqual(p.feed(b('*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$12\r\n')), { commands: [], error: RESP_ERRORS.queryBufferLimit });
  // Complete requests before it are not affected: the limit is per request, not per chunk.
  const many = Buffer.concat(Array.from({ length: 50 }, () => exact));
  t.is(whole(many, L).commands.length, 50);
  // Header lines and inline lines count too.
  t.is(whole('*1\r\n$' + '0'.repeat(40), { ...L, maxInlineBytes: 1000 }).error, RESP_ERRORS.queryBufferLimit);
  t.is(whole('y'.repeat(41), { ...L, maxInlineBytes: 1000 }).error, RESP_ERRORS.queryBufferLimit);
  t.deepEqual(whole('y'.repeat(39) + '\n', { ...L, maxInlineBytes: 1000 }).commands, [['y'.repeat(39)]]);
});

test('query buffer limit wins over the line limit on the same byte (Redis checks it on read)', (t) => {
  const L = { maxBulkBytes: 100, maxArgs: 100, maxInlineBytes: 16, maxQueryBufferBytes: 16 };
  t.is(assertChunkingInvariant(t, b('z'.repeat(17)), L).error, RESP_ERRORS.queryBufferLimit);
  t.is(assertChunkingInvariant(t, b('z'.repeat(17)), { ...L, maxQueryBufferBytes: 17 }).error, RESP_ERRORS.tooBigInline);
});

test('setLimits tightens (and loosens) the limits for what comes next', (t) => {
  const p = new RespParser(REDIS);
  t.is(p.feed(encode(['SET', 'k', 'x'.repeat(20000)])).commands.length, 1);
  const tight = { maxBulkBytes: 16384, maxArgs: 10, maxInlineBytes: 1024, maxQueryBufferBytes: 32768 };
  p.setLimits(tight);
  t.is(p.feed(encode(['SET', 'k', 'x'.repeat(16384)])).commands.length, 1);
  t.is(p.feed(b('*11\r\n')).error, RESP_ERRORS.invalidMultibulkLength);

  const q = new RespParser(tight);
  t.is(q.feed(b('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$16385\r\n')).error, RESP_ERRORS.invalidBulkLength);

  const r = new RespParser(tight);
  t.is(r.feed(b('x'.repeat(1025))).error, RESP_ERRORS.tooBigInline);

  // Loosening after AUTH: a bigger value is then fine.
  const s = new RespParser(tight);
  t.is(s.feed(encode(['AUTH', 'pw'])).commands.length, 1);
  s.setLimits(RINGKV);
  t.is(s.feed(encode(['SET', 'k', 'x'.repeat(60000)])).commands.length, 1);

  // Tightened mid-request: the query-buffer limit applies to the very next byte.
  const u = new RespParser(REDIS);
  t.deepEqual(u.feed(b('*2\r\n$3\r\nGET\r\n')), { commands: [] });
  u.setLimits({ ...REDIS, maxQueryBufferBytes: 8 });
  t.is(u.feed(b('$')).error, RESP_ERRORS.queryBufferLimit);
});

test('authRequired: newer Redis caps and texts for unauthenticated clients', (t) => {
  const L = { ...REDIS, authRequired: true };
  t.deepEqual(whole(encode(Array.from({ length: 10 }, () => 'a')), L).commands.length, 1);
  t.is(whole('*11\r\n', L).error, RESP_ERRORS.unauthenticatedMultibulkLength);
  // A count Redis finds invalid anyway keeps the "invalid" text (checked first).
  t.is(whole('*3000000000\r\n', L).error, RESP_ERRORS.invalidMultibulkLength);
  t.is(whole(encode(['SET', 'k', 'x'.repeat(16384)]), L).commands.length, 1);
  t.is(whole('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$16385\r\n', L).error, RESP_ERRORS.unauthenticatedBulkLength);
  t.is(whole('*1\r\n$-1\r\n', L).error, RESP_ERRORS.invalidBulkLength);
  // Query buffer capped at 1 MiB while unauthenticated (inline lines are still capped lower).
  t.is(whole('a'.repeat(1024 * 1024 + 1), { ...L, maxInlineBytes: 2 * 1024 * 1024 }).error, RESP_ERRORS.queryBufferLimit);
  t.is(whole('a'.repeat(1024 * 1024) + '\n', { ...L, maxInlineBytes: 2 * 1024 * 1024 }).error, RESP_ERRORS.queryBufferLimit);
  t.is(whole('a'.repeat(1024 * 1024 - 1) + '\n', { ...L, maxInlineBytes: 2 * 1024 * 1024 }).commands.length, 1);
  // After AUTH the server drops the flag.
  const p = new RespParser(L);
  t.is(p.feed(encode(['AUTH', 'pw'])).commands.length, 1);
  p.setLimits(REDIS);
  t.is(p.feed(encode(Array.from({ length: 11 }, () => 'a'))).commands.length, 1);
});

test('setLimits tightening mid-line: the next byte without a terminator trips the new line limit', (t) => {
  const p = new RespParser(RINGKV);
  t.deepEqual(p.feed(b('x'.repeat(100))), { commands: [] });
  p.setLimits({ ...RINGKV, maxInlineBytes: 10 });
  t.is(p.feed(b('y')).error, RESP_ERRORS.tooBigInline);
  const q = new RespParser(RINGKV);
  q.feed(b('x'.repeat(100)));
  q.setLimits({ ...RINGKV, maxInlineBytes: 10 });
  t.deepEqual(strs(q.feed(b('\n')).commands), [['x'.repeat(100)]]); // Redis finds the '\n' before checking the size
  const r = new RespParser(RINGKV);
  r.feed(b('*1\r\n$' + '1'.repeat(50)));
  r.setLimits({ ...RINGKV, maxInlineBytes: 10 });
  t.is(r.feed(b('1')).error, RESP_ERRORS.tooBigBulkCount);
});

test('maxCommands: run one command at a time so AUTH can loosen limits for the rest of a pipeline', (t) => {
  const tight = { ...RINGKV, maxBulkBytes: 16 };
  const p = new RespParser(tight);
  const input = Buffer.concat([encode(['AUTH', 'pw']), encode(['SET', 'k', 'x'.repeat(100)]), encode(['GET', 'k'])]);
  const r1 = p.feed(input, 1);
  t.deepEqual(strs(r1.commands), [['AUTH', 'pw']]);
  t.is(p.unparsedBytes, input.length - encode(['AUTH', 'pw']).length);
  t.is(p.bufferedBytes, p.unparsedBytes);
  p.setLimits(RINGKV); // AUTH succeeded
  const r2 = p.feed(Buffer.alloc(0), 1);
  t.deepEqual(strs(r2.commands), [['SET', 'k', 'x'.repeat(100)]]);
  // New input queues behind what is left; order is kept.
  const r3 = p.feed(encode(['PING']));
  t.deepEqual(strs(r3.commands), [['GET', 'k'], ['PING']]);
  t.is(p.unparsedBytes, 0);
  t.is(p.bufferedBytes, 0);
  // Without the AUTH, the same pipeline fails on the SET's header.
  t.is(new RespParser(tight).feed(input).error, RESP_ERRORS.invalidBulkLength);
});

test('maxCommands gives the same commands as one feed, for any chunking', (t) => {
  const input = Buffer.concat([encode(['A']), b('B\r\n\r\n'), encode(['C', 'cc']), b('*0\r\n'), encode(['D']), b('E F\n')]);
  const expected = strs(new RespParser(RINGKV).feed(input).commands);
  for (let cut = 0; cut <= input.length; cut++) {
    for (const max of [0, 1, 2]) {
      const p = new RespParser(RINGKV);
      const got: Buffer[][] = [];
      got.push(...p.feed(input.subarray(0, cut), max).commands);
      got.push(...p.feed(input.subarray(cut), max).commands);
      for (let guard = 0; p.unparsedBytes > 0 && guard < 100; guard++) got.push(...p.feed(Buffer.alloc(0), Math.max(max, 1)).commands);
      t.deepEqual(strs(got), expected, `cut ${cut} max ${max}`);
    }
  }
});

// ---------------------------------------------------------------------------
// framing details

test('split at every byte offset: a mixed pipeline parses identically', (t) => {
  const input = Buffer.concat([
    encode(['SET', 'key:1', 'x'.repeat(100)]),
    b('PING\r\n'),
    b('\r\n'),
    b('*0\r\n'),
    b('*-1\r\n'),
    encode(['MGET', 'a', '', 'c']),
    b('set "a b" \'c d\' e\n'),
    encode([Buffer.from([0, 13, 10, 255])]),
  ]);
  const r = assertChunkingInvariant(t, input);
  t.deepEqual(r.commands, [['SET', 'key:1', 'x'.repeat(100)], ['PING'], ['MGET', 'a', '', 'c'], ['set', 'a b', 'c d', 'e'], ['\x00\r\n\xff']]);
});

test('split at every pair of offsets', (t) => {
  const input = Buffer.concat([encode(['SET', 'k', 'v\r\n']), b('GET k\n'), encode(['DEL', 'k'])]);
  const ref = feedSplit(input, []);
  for (let i = 0; i <= input.length; i++) {
    for (let j = i; j <= input.length; j++) {
      const got = feedSplit(input, [i, j]);
      if (JSON.stringify(got) !== JSON.stringify(ref)) {
        t.deepEqual(got, ref, `split at ${i},${j}`);
        return;
      }
    }
  }
  t.deepEqual(ref.commands, [['SET', 'k', 'v\r\n'], ['GET', 'k'], ['DEL', 'k']]);
});

test('binary safe: all 256 byte values, embedded CRLF, in one arg and as single-byte args', (t) => {
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const crlf = b('\r\n$3\r\n*1\r\n\r\n');
  const singles = Array.from({ length: 256 }, (_, i) => Buffer.from([i]));
  const input = Buffer.concat([encode(['SET', 'k', all]), encode([crlf]), encode(singles)]);
  for (const sizes of [[], [1], [2], [3], [7], [255], [256], [257]]) {
    const r = feedChunks(new RespParser(RINGKV), input, sizes);
    t.is(r.error, undefined);
    t.is(r.commands.length, 3);
    t.true(r.commands[0]![2]!.equals(all));
    t.true(r.commands[1]![0]!.equals(crlf));
    t.deepEqual(r.commands[2]!.map((x) => x[0]), Array.from({ length: 256 }, (_, i) => i));
  }
});

test('1 MiB bulk across 1-byte chunks and random chunkings', (t) => {
  const L = { ...REDIS, maxBulkBytes: 2 * 1024 * 1024 };
  const big = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
  const input = Buffer.concat([encode(['SET', 'big', big]), encode(['PING'])]);
  const p = new RespParser(L);
  const got: Buffer[][] = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < input.length; i++) {
    const r = p.feed(input.subarray(i, i + 1));
    if (r.commands.length) got.push(...r.commands);
    t.true(r.error === undefined);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  t.is(got.length, 2);
  t.true(got[0]![2]!.equals(big));
  t.log(`1-byte chunks: ${input.length} feeds in ${ms.toFixed(0)} ms`);
  t.true(ms < 5000, 'linear, not quadratic');
  const rnd = mulberry32(42);
  for (let round = 0; round < 20; round++) {
    const sizes = Array.from({ length: 50 }, () => 1 + Math.floor(rnd() * (round % 2 ? 70000 : 300)));
    const r = feedChunks(new RespParser(L), input, sizes);
    t.is(r.commands.length, 2);
    t.true(r.commands[0]![2]!.equals(big));
  }
});

test('zero-copy: a bulk that arrives whole is a view into the chunk', (t) => {
  const input = encode(['SET', 'k', 'value']);
  const r = new RespParser(RINGKV).feed(input);
  const v = r.commands[0]![2]!;
  t.is(v.buffer, input.buffer);
  t.is(v.byteOffset, input.byteOffset + input.indexOf('value'));
});

test('Redis quirks: the byte after a header CR and the two after a payload are not checked', (t) => {
  t.deepEqual(whole('*1\rX$1\rYaZZ'), { commands: [['a']], buffered: 0 });
  t.deepEqual(whole('*2\r\n$1\r\nab\n$0\r\n\r\n'), { commands: [['a', '']], buffered: 0 });
  t.deepEqual(whole('*1\r'), { commands: [], buffered: 3 }); // waits for the byte after '\r'
});

test('bufferedBytes tracks the request in progress', (t) => {
  const p = new RespParser(RINGKV);
  const input = encode(['SET', 'k', 'x'.repeat(100)]);
  for (let i = 0; i < input.length - 1; i++) {
    p.feed(input.subarray(i, i + 1));
    t.is(p.bufferedBytes, i + 1);
  }
  t.is(p.feed(input.subarray(input.length - 1)).commands.length, 1);
  t.is(p.bufferedBytes, 0);
});

// ---------------------------------------------------------------------------
// inline commands and sdssplitargs

test('inline: Redis sdssplitargs quoting rules', (t) => {
  const cases: [string, string[]][] = [
    ['PING', ['PING']],
    ['  set   key  value  ', ['set', 'key', 'value']],
    ['a\tb', ['a', 'b']],
    ['"hello world"', ['hello world']],
    ['"\\n\\r\\t\\b\\a\\\\\\""', ['\n\r\t\b\x07\\"']],
    ['"\\x41\\x6a\\xFF\\x00"', ['Aj\xff\x00']],
    ['"\\x4g"', ['x4g']], // not two hex digits: "\x" is just an escaped 'x'
    ['"\\q"', ['q']],
    ["'single \\' quote'", ["single ' quote"]],
    ["'no \\n escapes \\x41'", ['no \\n escapes \\x41']],
    ['"" \'\'', ['', '']],
    ['foo"bar baz"', ['foobar baz']], // a quote inside a token opens a quoted part of it
    ['a "b" c', ['a', 'b', 'c']],
    ['"a"\t"b"', ['a', 'b']],
    ['\x0bleading-vt a\x0bb', ['leading-vt', 'a\x0bb']], // \v skipped between tokens, not inside one
    ['\xe2\x82\xac', ['\xe2\x82\xac']],
  ];
  for (const [line, args] of cases) {
    t.deepEqual(whole(line + '\r\n').commands, [args], JSON.stringify(line));
    t.deepEqual(strs([splitArgs(b(line), 0, line.length)!]), [args], JSON.stringify(line));
  }
});

test('inline: empty and blank lines are ignored; bare \\n, \\r\\n, and a lone \\r inside', (t) => {
  t.deepEqual(whole('\n\r\n   \r\n\t\nPING\n'), { commands: [['PING']], buffered: 0 });
  t.deepEqual(whole('a\rb\n'), { commands: [['a', 'b']], buffered: 0 });
  t.deepEqual(whole('a\r\r\n'), { commands: [['a']], buffered: 0 });
  t.deepEqual(whole('PING'), { commands: [], buffered: 4 });
});

test('inline and multibulk interleave; a request starting with "*" is always multibulk', (t) => {
  t.deepEqual(whole('PING\r\n*1\r\n$4\r\nPING\r\nECHO "*"\r\n'), { commands: [['PING'], ['PING'], ['ECHO', '*']], buffered: 0 });
  t.is(whole('*ping\r\n').error, RESP_ERRORS.invalidMultibulkLength);
});

test('string2ll matches Redis util.c', (t) => {
  const ok: [string, number][] = [['0', 0], ['1', 1], ['-1', -1], ['123', 123], ['9223372036854775807', 9223372036854775807], ['-9223372036854775808', -9223372036854775808]];
  for (const [s, v] of ok) t.is(string2ll(b(s), 0, s.length), v, s);
  for (const s of ['', '-', '-0', '00', '01', '+1', ' 1', '1 ', '1.5', '9223372036854775808', '-9223372036854775809', '18446744073709551616', '1'.repeat(21)]) {
    t.true(Number.isNaN(string2ll(b(s), 0, s.length)), s);
  }
});

// ---------------------------------------------------------------------------
// property-based

/** Independent model: Redis' processInputBuffer fed one byte at a time, written like the C. */
function reference(input: Buffer, lim: RespLimits): Outcome {
  const cmds: string[][] = [];
  let len = 0; // sdslen(querybuf)
  let pos = 0; // qb_pos
  let reqStart = 0;
  let reqtype = 0;
  let multibulklen = 0;
  let bulklen = -1;
  let argv: string[] = [];
  const strchr = (from: number, ch: number): number => {
    for (let i = from; i < len; i++) {
      if (input[i] === ch) return i;
      if (input[i] === 0) return -1;
    }
    return -1;
  };
  const ll = (from: number, to: number): bigint | null => {
    const s = input.subarray(from, to).toString('latin1');
    if (s.length >= 21 || !/^(0|-?[1-9][0-9]*)$/.test(s)) return null;
    const v = BigInt(s);
    return v > 9223372036854775807n || v < -9223372036854775808n ? null : v;
  };
  const fail = (error: string): Outcome => ({ commands: cmds, error, buffered: 0 });
  for (let k = 0; k < input.length; k++) {
    len = k + 1;
    if (len - reqStart > lim.maxQueryBufferBytes) return fail(RESP_ERRORS.queryBufferLimit);
    while (pos < len) {
      if (!reqtype) reqtype = input[pos] === 42 ? 2 : 1;
      if (reqtype === 1) {
        const nl = strchr(pos, 10);
        if (nl < 0) {
          if (len - pos > lim.maxInlineBytes) return fail(RESP_ERRORS.tooBigInline);
          break;
        }
        const end = nl !== pos && input[nl - 1] === 13 ? nl - 1 : nl;
        const args = splitArgs(input, pos, end);
        if (args === null) return fail(RESP_ERRORS.unbalancedQuotes);
        pos = nl + 1;
        if (args.length) cmds.push(args.map((a) => a.toString('latin1')));
        reqtype = 0;
        reqStart = pos;
        continue;
      }
      if (multibulklen === 0) {
        const nl = strchr(pos, 13);
        if (nl < 0) {
          if (len - pos > lim.maxInlineBytes) return fail(RESP_ERRORS.tooBigMbulkCount);
          break;
        }
        if (nl - pos > len - pos - 2) break;
        const n = ll(pos + 1, nl);
        if (n === null || n > BigInt(lim.maxArgs)) return fail(RESP_ERRORS.invalidMultibulkLength);
        if (n > 10n && lim.authRequired) return fail(RESP_ERRORS.unauthenticatedMultibulkLength);
        pos = nl + 2;
        if (n <= 0n) {
          reqtype = 0;
          reqStart = pos;
          continue;
        }
        multibulklen = Number(n);
        argv = [];
      }
      let wait = false;
      while (multibulklen) {
        if (bulklen === -1) {
          const nl = strchr(pos, 13);
          if (nl < 0) {
            if (len - pos > lim.maxInlineBytes) return fail(RESP_ERRORS.tooBigBulkCount);
            wait = true;
            break;
          }
          if (nl - pos > len - pos - 2) {
            wait = true;
            break;
          }
          if (input[pos] !== 36) {
            const c = input[pos]!;
            return fail(`Protocol error: expected '$', got '${c === 13 || c === 10 ? ' ' : String.fromCharCode(c)}'`);
          }
          const n = ll(pos + 1, nl);
          if (n === null || n < 0n || n > BigInt(lim.maxBulkBytes)) return fail(RESP_ERRORS.invalidBulkLength);
          if (n > 16384n && lim.authRequired) return fail(RESP_ERRORS.unauthenticatedBulkLength);
          pos = nl + 2;
          // ringkv refuses up front a payload that cannot fit under the query-buffer limit.
          if (pos - reqStart + Number(n) + 2 > lim.maxQueryBufferBytes) return fail(RESP_ERRORS.queryBufferLimit);
          bulklen = Number(n);
        }
        if (len - pos < bulklen + 2) {
          wait = true;
          break;
        }
        argv.push(input.subarray(pos, pos + bulklen).toString('latin1'));
        pos += bulklen + 2;
        bulklen = -1;
        multibulklen--;
      }
      if (wait) break;
      cmds.push(argv);
      reqtype = 0;
      reqStart = pos;
    }
  }
  return { commands: cmds, buffered: len - reqStart };
}

/** Bytes that steer the parser into every branch. */
const protoToken = fc.oneof(
  fc.constantFrom('*', '$', '\r', '\n', '\r\n', '\x00', '-', ' ', '"', "'", '\\', 'x', '0', '1', '2', '3', '9', 'a', 'F', '\t', '\x0b', '\xff'),
  fc.constantFrom('*11\r\n', '*1\r\n', '*2\r\n', '$0\r\n', '$1\r\n', '$3\r\n', '*0\r\n', '*-1\r\n', 'PING\r\n', '\\x4', '"a b"', '$-1\r\n', '*3\r\n$3\r\nSET\r\n'),
  fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)),
);
const garbage = fc.array(protoToken, { maxLength: 60 }).map((ts) => b(ts.join('')));
const smallLimits = fc.record({
  maxBulkBytes: fc.integer({ min: 0, max: 12 }),
  maxArgs: fc.integer({ min: 0, max: 12 }),
  maxInlineBytes: fc.integer({ min: 0, max: 24 }),
  maxQueryBufferBytes: fc.integer({ min: 0, max: 60 }),
  authRequired: fc.boolean(),
});
const chunkSizes = fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 12 });

test('property: random garbage never throws, and matches the byte-at-a-time Redis model for any chunking', (t) => {
  fc.assert(
    fc.property(garbage, smallLimits, chunkSizes, (input, limits, sizes) => {
      const p = new RespParser(limits);
      const got: Buffer[][] = [];
      let error: string | undefined;
      let off = 0;
      let i = 0;
      while (off < input.length && error === undefined) {
        const n = sizes[i++ % sizes.length]!;
        const r: FeedResult = p.feed(input.subarray(off, off + n));
        off += n;
        got.push(...r.commands);
        error = r.error;
        // Never more than the limit held between feeds (stricter than "limit + one chunk").
        if (error === undefined && p.bufferedBytes > limits.maxQueryBufferBytes) return false;
      }
      const mine: Outcome = error === undefined ? { commands: strs(got), buffered: p.bufferedBytes } : { commands: strs(got), error, buffered: 0 };
      const ref = reference(input, limits);
      if (JSON.stringify(mine) !== JSON.stringify(ref)) {
        t.log({ input: input.toString('latin1'), limits, sizes, mine, ref });
        return false;
      }
      return true;
    }),
    { numRuns: 4000, seed: 20240601 },
  );
  t.pass();
});

test('property: random garbage with big limits and any chunking never throws and never over-buffers', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }), (bytes, sizes) => {
      const limits = { maxBulkBytes: 64, maxArgs: 8, maxInlineBytes: 32, maxQueryBufferBytes: 100 };
      const input = Buffer.from(bytes);
      const p = new RespParser(limits);
      let off = 0;
      let i = 0;
      while (off < input.length) {
        const n = sizes[i++ % sizes.length]!;
        const r = p.feed(input.subarray(off, off + n));
        off += n;
        if (r.error !== undefined) return typeof r.error === 'string' && r.error.length > 0;
        if (p.bufferedBytes > limits.maxQueryBufferBytes + n) return false;
      }
      return JSON.stringify(reference(input, limits)).length > 0 && p.bufferedBytes <= limits.maxQueryBufferBytes;
    }),
    { numRuns: 3000, seed: 7 },
  );
  t.pass();
});

const argArb = fc.oneof(
  fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u)),
  fc.constantFrom('SET', 'GET', '', '\r\n', '$1\r\n', '*1\r\n', ' ').map((s) => b(s)),
  fc.uint8Array({ minLength: 1000, maxLength: 5000 }).map((u) => Buffer.from(u)),
);
const commandArb = fc.array(argArb, { minLength: 1, maxLength: 6 });

test('property: well-formed commands, RESP-encoded and randomly chunked, parse back equal', (t) => {
  fc.assert(
    fc.property(fc.array(commandArb, { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 6000 }), { minLength: 1, maxLength: 10 }), fc.boolean(), (cmds, sizes, tiny) => {
      const input = Buffer.concat(cmds.map((c) => encode(c)));
      const r = feedChunks(new RespParser(RINGKV), input, tiny ? sizes.map((s) => 1 + (s % 7)) : sizes);
      if (r.error !== undefined || r.commands.length !== cmds.length) return false;
      return r.commands.every((c, i) => c.length === cmds[i]!.length && c.every((a, j) => a.equals(cmds[i]![j]!)));
    }),
    { numRuns: 500, seed: 99 },
  );
  t.pass();
});

test('property: inline commands written with sdscatrepr-style quoting parse back equal', (t) => {
  // Quote every arg the way redis-cli/sdscatrepr would, so any bytes survive the inline form.
  const repr = (a: Buffer): string => {
    let s = '"';
    for (const c of a) {
      if (c === 0x5c) s += '\\\\';
      else if (c === 0x22) s += '\\"';
      else if (c === 10) s += '\\n';
      else if (c === 13) s += '\\r';
      else if (c === 9) s += '\\t';
      else if (c === 7) s += '\\a';
      else if (c === 8) s += '\\b';
      else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
      else s += '\\x' + c.toString(16).padStart(2, '0');
    }
    return s + '"';
  };
  fc.assert(
    fc.property(fc.array(fc.array(fc.uint8Array({ maxLength: 20 }).map((u) => Buffer.from(u)), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 5 }), chunkSizes, (cmds, sizes) => {
      const input = b(cmds.map((c) => c.map(repr).join(' ') + '\r\n').join(''));
      const r = feedChunks(new RespParser(RINGKV), input, sizes);
      return r.error === undefined && JSON.stringify(strs(r.commands)) === JSON.stringify(strs(cmds));
    }),
    { numRuns: 500, seed: 3 },
  );
  t.pass();
});
