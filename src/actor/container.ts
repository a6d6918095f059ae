import 'reflect-metadata';
import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import { TOKENS, systemClock, systemRandom, systemTimers } from '../runtime/services.js';
import { ActorStore } from '../storage/store.js';
import { Transport } from '../transport/transport.js';
import { PartitionActor, type ActorConfig } from './actor.js';

/**
 * Build one thread's services: clock, timers, randomness, the actor's LMDB
 * store and its transport, then the actor itself. Tests (and a future
 * simulation) register their own clock/timers/transport in a child container
 * before calling this.
 */
export function buildActorContainer(config: ActorConfig, parent: DependencyContainer = rootContainer): DependencyContainer {
  const c = parent.createChildContainer();
  c.register(TOKENS.actorConfig, { useValue: config });
  if (!c.isRegistered(TOKENS.clock, true)) c.register(TOKENS.clock, { useValue: systemClock });
  if (!c.isRegistered(TOKENS.timers, true)) c.register(TOKENS.timers, { useValue: systemTimers });
  if (!c.isRegistered(TOKENS.random, true)) c.register(TOKENS.random, { useValue: systemRandom });
  if (!c.isRegistered(TOKENS.store, true)) {
    c.register(TOKENS.store, { useValue: ActorStore.open(config.storage) });
  }
  if (!c.isRegistered(TOKENS.transport, true)) {
    c.register(TOKENS.transport, { useValue: new Transport(config.id, c.resolve(TOKENS.timers), { maxBatchBytes: config.maxBatchBytes }, c.resolve(TOKENS.random)) });
  }
  c.registerSingleton(PartitionActor);
  return c;
}
