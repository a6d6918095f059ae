import { Command, InvalidArgumentError, Option } from 'commander';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from '../cli/exit.js';
import { SIM_FAULTS, type SimFault } from './nemesis.js';
import { runSeed, SIM_DEFAULTS, type SimOptions } from './run.js';

interface SimFlags {
  readonly seed?: number;
  readonly seeds?: number;
  readonly from: number;
  readonly lww: boolean;
  readonly sloppy: boolean;
  readonly ops: number;
  readonly actors: number;
  readonly n: number;
  readonly r: number;
  readonly w: number;
  readonly keys: number;
  readonly clients: number;
  readonly faults: readonly SimFault[];
  readonly verbose: boolean;
}

function integer(min: number, max: number) {
  return (text: string): number => {
    const v = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(v) || v < min || v > max) throw new InvalidArgumentError(`must be an integer in ${min}..${max}`);
    return v;
  };
}

function faultList(text: string): SimFault[] {
  if (text === 'none') return [];
  if (text === 'all') return [...SIM_FAULTS];
  const kinds = text.split(',').map((k) => k.trim());
  for (const k of kinds) if (!(SIM_FAULTS as readonly string[]).includes(k)) throw new InvalidArgumentError(`unknown fault '${k}' (none, all, or a comma list of ${SIM_FAULTS.join(',')})`);
  return kinds as SimFault[];
}

/** `ringkv sim`: the deterministic simulator (src/sim/run.ts) from the command line. */
export function simCommand(): Command {
  const d = SIM_DEFAULTS;
  return new Command('sim')
    .description('run the deterministic simulator: real actors in one thread on simulated time, network and disks, with faults; checks that no acknowledged write is lost, replicas converge and (strict, R+W>N) no read is stale')
    .option('--seed <n>', 'run this one seed and print one line ending digest=<hex>', integer(0, 2 ** 31 - 1))
    .option('--seeds <k>', 'run k seeds (from --from); stop at the first violation', integer(1, 10_000_000))
    .option('--from <s>', 'first seed of --seeds', integer(0, 2 ** 31 - 1), 1)
    .option('--lww', 'last-write-wins instead of siblings (expected to lose writes)', false)
    .option('--sloppy', 'sloppy quorums with hinted handoff (default strict: then stale reads are checked too)', false)
    .option('--ops <n>', 'operations per seed', integer(1, 1_000_000), d.ops)
    .option('--actors <n>', 'actors', integer(1, 64), d.actors)
    .option('--n <n>', 'replicas per key', integer(1, 16), d.n)
    .option('--r <n>', 'read quorum', integer(1, 16), d.r)
    .option('--w <n>', 'write quorum', integer(1, 16), d.w)
    .option('--keys <n>', 'distinct keys the workload uses', integer(1, 100_000), d.keys)
    .option('--clients <n>', 'concurrent clients', integer(1, 1000), d.processes)
    .addOption(new Option('--faults <kinds>', `'none', 'all', or a comma list of ${SIM_FAULTS.join(',')} (no wipe when w=1: its one acknowledged copy may be the wiped one)`).argParser(faultList).default([...d.faults], 'all'))
    .option('--verbose', 'with --seed: also print the faults injected and every violation', false)
    .action((flags: SimFlags, cmd: Command) => {
      process.exitCode = runFromFlags(flags, cmd);
    });
}

function runFromFlags(flags: SimFlags, cmd: Command): number {
  if ((flags.seed === undefined) === (flags.seeds === undefined)) return usage(cmd, 'give --seed N (one seed) or --seeds K (many)');
  if (flags.r > flags.n || flags.w > flags.n) return usage(cmd, `r (${flags.r}) and w (${flags.w}) must be at most n (${flags.n})`);
  if (flags.actors < flags.n) return usage(cmd, `n=${flags.n} replicas need at least ${flags.n} actors`);
  const options = (seed: number): SimOptions => ({ seed, ops: flags.ops, actors: flags.actors, n: flags.n, r: flags.r, w: flags.w, lww: flags.lww, strict: !flags.sloppy, faults: flags.faults, keys: flags.keys, processes: flags.clients });
  if (flags.seed !== undefined) {
    const result = runSeed(options(flags.seed));
    if (flags.verbose) for (const f of result.faults) process.stdout.write(`fault: ${f}\n`);
    for (const v of flags.verbose ? result.violations : result.violations.slice(0, 10)) process.stdout.write(`violation: ${v}\n`);
    process.stdout.write(`${result.line}\n`);
    return result.violations.length === 0 ? EXIT_OK : EXIT_FAILED;
  }
  const startedMs = Date.now();
  for (let seed = flags.from; seed < flags.from + flags.seeds!; seed++) {
    const result = runSeed(options(seed));
    if (result.violations.length === 0) continue;
    process.stdout.write(`seed ${seed}: ${result.violations.length} violation(s)\n`);
    for (const v of result.violations.slice(0, 10)) process.stdout.write(`  ${v}\n`);
    process.stdout.write(`reproduce: ringkv sim --seed ${seed}${sameShape(flags)}\n`);
    return EXIT_FAILED;
  }
  process.stdout.write(`${flags.seeds} seeds (${flags.from}..${flags.from + flags.seeds! - 1}) passed in ${((Date.now() - startedMs) / 1000).toFixed(1)} s\n`);
  return EXIT_OK;
}

/** The flags that shape a run, to repeat after --seed. */
function sameShape(f: SimFlags): string {
  const d = SIM_DEFAULTS;
  const parts: string[] = [];
  if (f.lww) parts.push('--lww');
  if (f.sloppy) parts.push('--sloppy');
  if (f.ops !== d.ops) parts.push(`--ops ${f.ops}`);
  if (f.actors !== d.actors) parts.push(`--actors ${f.actors}`);
  if (f.n !== d.n) parts.push(`--n ${f.n}`);
  if (f.r !== d.r) parts.push(`--r ${f.r}`);
  if (f.w !== d.w) parts.push(`--w ${f.w}`);
  if (f.keys !== d.keys) parts.push(`--keys ${f.keys}`);
  if (f.clients !== d.processes) parts.push(`--clients ${f.clients}`);
  if (f.faults.join(',') !== d.faults.join(',')) parts.push(`--faults ${f.faults.length === 0 ? 'none' : f.faults.join(',')}`);
  return parts.length === 0 ? '' : ` ${parts.join(' ')}`;
}

function usage(cmd: Command, message: string): number {
  process.stderr.write(`error: ${message}\n${cmd.helpInformation()}`);
  return EXIT_USAGE;
}
