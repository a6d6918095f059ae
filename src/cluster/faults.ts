/** Fault injection (cluster.faults): kill, restart, pause, partition, drop, delay, heal, wipe. */
import { rmSync } from 'node:fs';
import { InvalidOptionError } from '../errors.js';
import { actorDataPath } from '../supervisor/metadata.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import type { LinkFaults } from '../transport/faults.js';
import type { Liveness } from './liveness.js';
import type { RepairDriver } from './repair-driver.js';

/**
 * Fault injection. Every fault acts in the one transport all actor
 * messages pass through (or on an actor's thread as a whole): coordinators,
 * gossip and repair only ever see lost, late or unanswered messages.
 */
export interface Faults {
  /** End actor `id`'s thread abruptly; its data stays on disk. */
  kill(id: number): Promise<void>;
  /** Bring a killed actor back from its data directory. */
  restart(id: number): Promise<void>;
  /** Freeze actor `id` for `ms` (no messages, no timers, no gossip); it is not told. */
  pause(id: number, ms: number): void;
  /** Cut every link between the two groups, both ways. */
  partition(groupA: readonly number[], groupB: readonly number[]): Promise<void>;
  /** Lose `fraction` (0..1) of the messages `from` sends to `to`. */
  drop(from: number, to: number, fraction: number): Promise<void>;
  /** Deliver the messages `from` sends to `to` `ms` late. */
  delay(from: number, to: number, ms: number): Promise<void>;
  /** Restore every link and wake every paused actor (killed actors stay down until restarted). */
  heal(): Promise<void>;
  /** A permanent disk loss: the actor restarts with an empty data directory. */
  wipe(id: number): Promise<void>;
}

/** What fault injection needs of the cluster. */
export interface FaultDeps {
  readonly dataDir: string;
  readonly supervisor: Supervisor;
  readonly liveness: Liveness;
  readonly repair: RepairDriver;
  /** Throws ClusterClosedError once the cluster is closed. */
  assertOpen(): void;
  /** Throws UnknownActorError unless `id` is a member of the ring. */
  assertActor(id: unknown): void;
}

/** The cluster's fault injection (its `faults`), each call checked before it acts. */
export function faultInjection(deps: FaultDeps): Faults {
  const { supervisor, liveness, repair } = deps;
  const actors = (...ids: unknown[]): void => {
    deps.assertOpen();
    for (const id of ids) deps.assertActor(id);
  };
  /** Change the faults on the links `from` sends over. */
  const linkFaults = (from: number, change: (f: LinkFaults) => LinkFaults): Promise<void> => supervisor.setFaults(from, change(supervisor.faultsOf(from)));
  /** End a thread: its gossip reports go with it. */
  const end = async (id: number): Promise<void> => {
    liveness.forget(id);
    await supervisor.kill(id);
  };
  /** A thread started again: the others' stale down votes are dropped, and a lost disk is refilled soon. */
  const restart = async (id: number): Promise<void> => {
    await supervisor.restart(id);
    liveness.forgetDownVotes(id);
    repair.repairSoonIfRecovering();
  };
  return {
    kill: async (id) => {
      actors(id);
      await end(id);
      liveness.recompute();
    },
    restart: async (id) => {
      actors(id);
      await restart(id);
    },
    pause: (id, ms) => {
      actors(id);
      if (!Number.isInteger(ms) || ms < 1 || ms > 3_600_000) throw new InvalidOptionError(`pause ms must be an integer in 1..3600000, got ${String(ms)}`);
      supervisor.pause(id, ms);
    },
    partition: async (groupA, groupB) => {
      actors(...groupA, ...groupB);
      if (groupA.some((id) => groupB.includes(id))) throw new InvalidOptionError('partition groups must not overlap');
      const cut = (from: number, others: readonly number[]): Promise<void> => linkFaults(from, (f) => ({ ...f, blocked: [...new Set([...f.blocked, ...others])] }));
      for (const a of groupA) await cut(a, groupB);
      for (const b of groupB) await cut(b, groupA);
    },
    drop: async (from, to, fraction) => {
      actors(from, to);
      if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1)) throw new InvalidOptionError(`drop fraction must be in 0..1, got ${String(fraction)}`);
      await linkFaults(from, (f) => ({ ...f, drop: [...f.drop.filter(([p]) => p !== to), [to, fraction]] }));
    },
    delay: async (from, to, ms) => {
      actors(from, to);
      if (!Number.isInteger(ms) || ms < 0 || ms > 600_000) throw new InvalidOptionError(`delay ms must be an integer in 0..600000, got ${String(ms)}`);
      await linkFaults(from, (f) => ({ ...f, delayMs: [...f.delayMs.filter(([p]) => p !== to), [to, ms]] }));
    },
    heal: async () => {
      deps.assertOpen();
      await supervisor.heal();
    },
    wipe: async (id) => {
      actors(id);
      await end(id);
      rmSync(actorDataPath(deps.dataDir, id), { recursive: true, force: true });
      await restart(id);
    },
  };
}
