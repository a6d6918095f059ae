// Thread entry of a partition-owner actor: build the container, start the
// actor, expose its control plane over comlink. Nothing more lives here.
import 'reflect-metadata';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { workerData, type MessagePort } from 'node:worker_threads';
import { PartitionActor, type ActorConfig } from '../src/actor/actor.js';
import { buildActorContainer } from '../src/actor/container.js';

const { config, controlPort } = workerData as { config: ActorConfig; controlPort: MessagePort };
try {
  const actor = buildActorContainer(config).resolve(PartitionActor);
  Comlink.expose(actor, nodeEndpoint(controlPort as never));
} catch (err) {
  // Report start-up failures (wrong layout, env owned by another actor) on the control port.
  Comlink.expose({ ping: () => Promise.reject(err) }, nodeEndpoint(controlPort as never));
}
