import type { LinkPort } from '../transport/transport.js';
import type { SimNetwork } from './network.js';

/**
 * One simulated node's ends of its links: each peer gets a LinkPort whose
 * batches travel through the SimNetwork (so the real Transport, with its
 * batching and codec, runs unchanged in the simulator, and network faults
 * hit whole batches as they would hit packets).
 */
export class SimEndpoint {
  private readonly listeners = new Map<number, (batch: Uint8Array) => void>();
  private readonly receive = (from: number, batch: Uint8Array): void => this.gate(() => this.listeners.get(from)?.(batch));

  /** `gate`: how an arriving batch is handed over (a frozen node takes it when it thaws). */
  constructor(
    private readonly net: SimNetwork<Uint8Array>,
    readonly id: number,
    private readonly gate: (deliver: () => void) => void = (deliver) => deliver(),
  ) {
    net.attach(id, this.receive);
  }

  /** The port of this node's link to `peer`. */
  portTo(peer: number): LinkPort {
    const listeners = this.listeners;
    const net = this.net;
    const self = this.id;
    let open = true;
    return {
      on(_event, listener) {
        listeners.set(peer, listener);
        return this;
      },
      postMessage(batch) {
        // the receiver decodes views into the batch: it gets its own copy, as a transfer would give it
        if (open) net.send(self, peer, batch.slice());
      },
      removeAllListeners() {
        listeners.delete(peer);
        return this;
      },
      close() {
        open = false;
      },
    };
  }

  /** The node crashed: what arrives for it is lost until up(). */
  down(): void {
    this.net.detach(this.id);
  }

  up(): void {
    this.net.attach(this.id, this.receive);
  }
}
