// How the benchmarks write like a well-behaved client: a refusal
// (OverloadedError: the cluster pushing back) is retried after a short,
// growing, jittered backoff; anything else is a failure for the caller.
import { OverloadedError, type Cluster, type PutOptions } from '../src/index.js';

export interface RetryCounts {
  /** Refusals seen (each one retried, until maxRetries). */
  refusals: number;
  /** Puts that needed at least one retry and then succeeded. */
  retriedPuts: number;
}

/** Put `value` under `key`, retrying refusals at most `maxRetries` times; throws the last error otherwise. */
export async function putWithRetry(cluster: Cluster, key: string, value: Buffer, maxRetries: number, counts: RetryCounts, options: PutOptions = {}): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await cluster.put(key, value, options);
      if (attempt > 0) counts.retriedPuts++;
      return;
    } catch (err) {
      if (!(err instanceof OverloadedError) || attempt >= maxRetries) throw err;
      counts.refusals++;
      // so refused callers do not come back in lockstep
      await new Promise((r) => setTimeout(r, Math.min(200, 5 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random())));
    }
  }
}
