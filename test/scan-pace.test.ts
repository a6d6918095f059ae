import test from 'ava';
import { MAX_SCAN_PAUSE_MS, scanPauseMs } from '../src/antientropy/scan-pace.js';

test('scanPauseMs: sleep what the scan is ahead of its rate, never more than the cap, nothing when unpaced or behind', (t) => {
  t.is(scanPauseMs(1000, 0, 10_000), 100, '1000 entries at 10 000/s are due at 100 ms');
  t.is(scanPauseMs(1000, 60, 10_000), 40);
  t.is(scanPauseMs(1000, 150, 10_000), 0, 'behind its rate: no sleep');
  t.is(scanPauseMs(1_000_000, 0, 1000), MAX_SCAN_PAUSE_MS, 'a long sleep is cut so a new rate is seen soon');
  t.is(scanPauseMs(1000, 0, 0), 0, 'rate 0: unpaced');
  t.is(scanPauseMs(0, 0, 10), 0);
});
