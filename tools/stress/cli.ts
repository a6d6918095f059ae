/**
 * `ringkv stress` (and `npm run stress`): flags → StressConfig, a progress
 * bar while it runs, a summary table at the end, result.json and
 * report.html in --out. Exits non-zero when a checker found a violation.
 * Only commander is loaded up front; the runner and its threads load when
 * the command actually runs.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomInt } from 'node:crypto';
import { Command, InvalidArgumentError, Option } from 'commander';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from '../../src/cli/exit.js';
import type { StressConfig } from './runner.js';
import type { StressResult } from './result.js';

function integer(min: number, max: number) {
  return (text: string): number => {
    const v = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(v) || v < min || v > max) throw new InvalidArgumentError(`must be an integer in ${min}..${max}`);
    return v;
  };
}

function seconds(text: string): number {
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0 || v > 86_400) throw new InvalidArgumentError('must be a number of seconds in (0, 86400]');
  return v;
}

interface StressFlags {
  target: string;
  workload: string;
  distribution?: string;
  records: number;
  duration: number;
  operations: number;
  clients: number;
  threads?: number;
  rate: number;
  valueSize: number;
  setKeys: number;
  nemesis: string;
  seed?: number;
  actors: number;
  n: number;
  r: number;
  w: number;
  strict: boolean;
  lww: boolean;
  dataDir?: string;
  timeout: number;
  convergeTimeout: number;
  window: number;
  maxHistory: number;
  out?: string;
  progress: boolean;
}

export function stressCommand(): Command {
  return new Command('stress')
    .description('drive a cluster or a Redis-protocol server with a YCSB, set or counter workload, inject faults, check nothing was lost, and write result.json and report.html')
    .option('--target <target>', "'local' (an in-process cluster through the API) or redis://host:port[,redis://host:port...] (a ringkv server or the nodes of a multi-node cluster, clients spread over them; or any Redis-protocol server for comparison)", 'local')
    .addOption(new Option('--workload <name>', 'YCSB core workload a-f, set (Jepsen-style read-modify-write adds), or counter (INCRBY of PN-counters; checks final = sum of acknowledged increments, plus at most the unknown ones)').default('a'))
    .addOption(new Option('--distribution <name>', "key distribution (default: the workload's own)").choices(['uniform', 'zipfian', 'latest']))
    .option('--records <n>', 'records written in the load phase', integer(0, 100_000_000), 10_000)
    .option('--duration <seconds>', 'length of the run phase', seconds, 30)
    .option('--operations <n>', 'stop the run phase after this many operations (0: only --duration)', integer(0, 1_000_000_000), 0)
    .option('--clients <n>', 'concurrent clients, each with one request outstanding', integer(1, 10_000), 16)
    .option('--threads <n>', 'load-generator threads in the piscina pool (default: min(2, clients))', integer(1, 64))
    .option('--rate <ops/s>', 'target throughput over all clients, open loop (0: as fast as they go)', integer(0, 10_000_000), 0)
    .option('--value-size <bytes>', 'value size for YCSB writes', integer(8, 1_000_000), 100)
    .option('--set-keys <n>', 'keys the set and counter workloads write to', integer(1, 1000), 4)
    .option('--nemesis <kinds|file>', "faults: 'none', 'all', a comma list of kill,pause,partition,isolate,ring-partition,loss,delay,wipe, or a schedule file (.json)", 'none')
    .option('--seed <n>', 'seed for operations and faults (default: random, printed)', integer(0, 2 ** 31 - 1))
    .option('--actors <n>', 'local target: actors', integer(1, 256), 5)
    .option('--n <n>', 'replicas per key', integer(1, 16), 3)
    .option('--r <n>', 'read quorum', integer(1, 16), 2)
    .option('--w <n>', 'write quorum', integer(1, 16), 2)
    .option('--strict', 'strict quorums: no sloppy substitutes (then R+W>N reads are checked for staleness)', false)
    .option('--lww', 'local target: last-write-wins instead of siblings', false)
    .option('--data-dir <dir>', 'local target: data directory (default: a temporary one, deleted after)')
    .option('--timeout <ms>', 'per-request timeout', integer(1, 600_000), 2000)
    .option('--converge-timeout <seconds>', 'how long to wait for replicas to converge after heal', seconds, 60)
    .option('--window <ms>', 'timeline resolution', integer(100, 60_000), 1000)
    .option('--max-history <ops>', 'bound on recorded operations (the run stops issuing when reached)', integer(1000, 100_000_000), 2_000_000)
    .option('--out <dir>', 'directory for result.json and report.html (default: stress-results/<time>)')
    .option('--no-progress', 'no progress bar')
    .action(async (flags: StressFlags) => {
      const code = await runFromFlags(flags);
      process.exitCode = code;
    });
}

async function runFromFlags(flags: StressFlags): Promise<number> {
  const [{ runStress }, { renderReport }, { parseNemesisFlag }, { StressConfigError }, cliProgress, { default: Table }] = await Promise.all([
    import('./runner.js'),
    import('./report.js'),
    import('./nemesis.js'),
    import('./workloads.js'),
    import('cli-progress'),
    import('cli-table3'),
  ]);
  const seed = flags.seed ?? randomInt(0, 2 ** 31 - 1);
  let config: StressConfig;
  try {
    let nemesis: StressConfig['nemesis'] = { kind: 'none' };
    if (flags.nemesis.endsWith('.json') || existsSync(flags.nemesis)) {
      const path = resolve(flags.nemesis);
      let schedule: unknown;
      try {
        schedule = JSON.parse(readFileSync(path, 'utf8'));
      } catch (e) {
        throw new StressConfigError(`cannot read the schedule file ${path}: ${(e as Error).message}`);
      }
      nemesis = { kind: 'file', path, schedule };
    } else {
      const kinds = parseNemesisFlag(flags.nemesis);
      if (kinds.length > 0) nemesis = { kind: 'random', kinds };
    }
    config = {
      target: flags.target,
      workload: flags.workload,
      distribution: flags.distribution,
      records: flags.records,
      durationMs: Math.round(flags.duration * 1000),
      operations: flags.operations,
      clients: flags.clients,
      threads: flags.threads ?? Math.min(2, flags.clients),
      ratePerSec: flags.rate,
      valueBytes: flags.valueSize,
      setKeys: flags.setKeys,
      seed,
      nemesis,
      actors: flags.actors,
      n: flags.n,
      r: flags.r,
      w: flags.w,
      strict: flags.strict,
      lww: flags.lww,
      dataDir: flags.dataDir,
      timeoutMs: flags.timeout,
      convergeTimeoutMs: Math.round(flags.convergeTimeout * 1000),
      windowMs: flags.window,
      maxHistoryOps: flags.maxHistory,
      maxInspectKeys: 100_000,
    };
  } catch (e) {
    console.error(`ringkv stress: ${(e as Error).message}`);
    return EXIT_USAGE;
  }
  console.log(`ringkv stress: workload ${config.workload} against ${config.target}, seed ${seed} (pass --seed ${seed} to repeat)`);

  const bar = new cliProgress.SingleBar(
    { format: ' {phase} |{bar}| {elapsed}s  {ops} ops  {rate} ops/s  {errors} errors  {event}', hideCursor: true, noTTYOutput: false, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let phase = '';
  let ops = 0;
  let errors = 0;
  let phaseStartMs = 0;
  let barStarted = false;
  let event = ''; // the latest nemesis line, shown in the bar while it runs
  const totalFor = (p: string): number => (p === 'load' ? config.records : p === 'run' ? (config.operations > 0 ? config.operations : Math.round(config.durationMs / 1000)) : 1);
  const update = (): void => {
    if (!barStarted) return;
    const elapsedS = (performance.now() - phaseStartMs) / 1000;
    const value = phase === 'run' && config.operations === 0 ? Math.min(totalFor('run'), Math.floor(elapsedS)) : ops;
    bar.update(value, { phase: phase.padEnd(8), ops, errors, rate: Math.round(ops / Math.max(elapsedS, 0.001)), elapsed: elapsedS.toFixed(0), event });
  };
  const ticker = flags.progress ? setInterval(update, 250) : null;
  let result: StressResult;
  try {
    result = await runStress(config, {
      onPhase: (p) => {
        if (barStarted) {
          update();
          bar.stop();
          barStarted = false;
        }
        phase = p;
        ops = 0;
        errors = 0;
        phaseStartMs = performance.now();
        if (flags.progress && (p === 'load' || p === 'run')) {
          event = '';
          bar.start(totalFor(p), 0, { phase: p.padEnd(8), ops: 0, errors: 0, rate: 0, elapsed: '0', event });
          barStarted = true;
        } else if (p !== 'load' && p !== 'run') {
          console.log(` ${p}…`);
        }
      },
      onProgress: (o, e) => {
        ops += o;
        errors += e;
      },
      log: (line) => {
        if (!barStarted) console.log(` ${line}`);
        else event = line.replace(/^nemesis: /, '');
      },
    });
  } catch (e) {
    if (barStarted) bar.stop();
    if (ticker) clearInterval(ticker);
    if (e instanceof StressConfigError) {
      console.error(`ringkv stress: ${e.message}`);
      return EXIT_USAGE;
    }
    throw e;
  }
  if (barStarted) bar.stop();
  if (ticker) clearInterval(ticker);

  const out = resolve(flags.out ?? join('stress-results', new Date().toISOString().replace(/[:.]/g, '-')));
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'result.json'), JSON.stringify(result, null, 2));
  writeFileSync(join(out, 'report.html'), renderReport(result));
  console.log(summaryTables(result, Table, useColour(process.stdout, process.env)));
  console.log(`\n${result.valid ? 'VALID' : 'INVALID'}: result.json and report.html in ${out}`);
  return result.valid ? EXIT_OK : EXIT_FAILED;
}

/**
 * Colour only for a person at a terminal, and never with NO_COLOR set
 * (no-color.org). cli-table3's colours library does not check the stream
 * itself, so a file or pipe would get escape codes.
 */
export function useColour(stream: { isTTY?: boolean; hasColors?: () => boolean }, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stream.isTTY === true && (stream.hasColors?.() ?? false);
}

type TableCtor = typeof import('cli-table3');

export function summaryTables(r: StressResult, Table: TableCtor, colour: boolean): string {
  // cli-table3's default style is a red head and grey borders; empty lists mean plain text
  const style = colour ? {} : { style: { head: [] as string[], border: [] as string[] } };
  const latency = new Table({ head: ['operation', 'count', 'ops/s', 'p50 ms', 'p95 ms', 'p99 ms', 'p99.9 ms', 'max ms'], ...style });
  const seconds = Math.max(r.durationMs, 1) / 1000;
  for (const [name, s] of Object.entries(r.latency)) {
    latency.push([name, s.count, Math.round(s.count / seconds), s.p50Ms, s.p95Ms, s.p99Ms, s.p999Ms, s.maxMs]);
  }
  latency.push(['all', r.throughput.operations, r.throughput.opsPerSec, '', '', '', '', '']);
  const errors = new Table({ head: ['error', 'count'], ...style });
  for (const [type, count] of Object.entries(r.errors)) errors.push([type, count]);
  if (Object.keys(r.errors).length === 0) errors.push(['(none)', 0]);
  const checks = new Table({ head: ['checker', 'verdict', 'checked', 'violations', 'note'], ...style });
  const c = r.checkers;
  const note = (v: { skipped?: string }, extra = ''): string => v.skipped ?? extra;
  checks.push(['no acknowledged write lost', c.lostWrites.valid ? 'ok' : 'FAIL', c.lostWrites.checked, c.lostWrites.violationCount, note(c.lostWrites)]);
  checks.push(['no stale read (strict R+W>N)', c.staleReads.skipped ? 'skipped' : c.staleReads.valid ? 'ok' : 'FAIL', c.staleReads.checked, c.staleReads.violationCount, note(c.staleReads)]);
  checks.push([
    'replicas converge',
    c.convergence.skipped ? 'skipped' : c.convergence.valid ? 'ok' : 'FAIL',
    c.convergence.checked,
    c.convergence.violationCount,
    note(c.convergence, c.convergence.timeToConvergeMs === null ? 'never converged' : `${c.convergence.timeToConvergeMs} ms after heal, ${c.convergence.repairPasses} repair passes`),
  ]);
  const lines = [`\n${r.throughput.opsPerSec} ops/s over ${seconds.toFixed(1)} s; load phase ${r.load.records} records at ${r.load.opsPerSec} ops/s; ${r.faults.length} faults`, latency.toString(), errors.toString(), checks.toString()];
  const stale = r.staleness.filter((b) => b.reads > 0);
  if (stale.length > 0) lines.push(`staleness (ms since write → stale/reads): ${stale.map((b) => `${b.sinceWriteMs}: ${b.stale}/${b.reads}`).join('  ')}`);
  for (const v of [c.lostWrites, c.staleReads, c.convergence]) for (const line of v.violations.slice(0, 10)) lines.push(`  ✗ ${line}`);
  return lines.join('\n');
}
