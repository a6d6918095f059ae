import test from 'ava';
import { MAX_SCAN_PAUSE_MS, scanPauseMs, ScanPacer, ScanRate } from '../src/antientropy/scan-pace.js';
import { LatencyWindow } from '../src/coordinator/throttle.js';

test('scanPauseMs: sleep what the scan is ahead of its rate, never more than the cap, nothing when unpaced or behind', (t) => {
  t.is(scanPauseMs(1000, 0, 10_000), 100, '1000 entries at 10 000/s are due at 100 ms');
  t.is(scanPauseMs(1000, 60, 10_000), 40);
  t.is(scanPauseMs(1000, 150, 10_000), 0, 'behind its rate: no sleep');
  t.is(scanPauseMs(1_000_000, 0, 1000), MAX_SCAN_PAUSE_MS, 'a long sleep is cut so a new rate is seen soon');
  t.is(scanPauseMs(1000, 0, 0), 0, 'rate 0: unpaced');
  t.is(scanPauseMs(0, 0, 10), 0);
});

test('ScanRate: one shared cell, seen through another view of the same buffer, clamped to a non-negative int32', (t) => {
  const r = new ScanRate();
  const other = new ScanRate(r.buffer);
  t.is(other.entriesPerSec, 0);
  r.entriesPerSec = 123_456.7;
  t.is(other.entriesPerSec, 123_456);
  r.entriesPerSec = -5;
  t.is(other.entriesPerSec, 0);
  r.entriesPerSec = 1e12;
  t.is(other.entriesPerSec, 2 ** 31 - 1);
});

test('ScanPacer: the scan rate halves while foreground requests are slower than twice their quiet baseline, and grows back', (t) => {
  const rate = new ScanRate();
  const pacer = new ScanPacer(rate, { targetP99Ms: 50, minPerSec: 1000, maxPerSec: 100_000, stepPerSec: 5000, baselineFactor: 2, floorMs: 1 });
  t.is(rate.entriesPerSec, 100_000, 'starts at the maximum');
  for (let i = 0; i < 100; i++) pacer.record(3);
  t.is(pacer.tick(false), 100_000, 'quiet: no build ran');
  t.is(pacer.baselineP99Ms, LatencyWindow.BOUNDS_MS.find((b) => b >= 3)!);
  for (let i = 0; i < 100; i++) pacer.record(30);
  t.is(pacer.tick(true), 50_000, 'a build made requests 10x slower: halved');
  t.is(rate.entriesPerSec, 50_000, 'and the build threads see it');
  for (let i = 0; i < 100; i++) pacer.record(3);
  t.is(pacer.tick(true), 55_000, 'back within 2x: grows by a step');
  t.is(pacer.tick(true), 100_000, 'no requests at all: the maximum');
});
