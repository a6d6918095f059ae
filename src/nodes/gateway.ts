/**
 * Where a node's threads meet the other nodes. An actor reaches a peer on
 * another node through a MessagePort like any other (its transport cannot
 * tell); the gateway, on the main thread, holds the other end of each such
 * port and carries its batches, unchanged, as Batch frames over the one
 * connection to that peer's node (node-links.ts), and hands incoming batches
 * to the addressed actor's port. The main thread's own requests to remote
 * coordinators leave through it the same way (mainLink).
 *
 * Ids: actors have cluster-wide ids (>= 0). A node's main thread is -1 to
 * its own actors and mainThreadId(nodeNo) to everyone else's.
 *
 * Node-level fault injection lives here, beside the actors' own link faults:
 * a rule on a node drops (or delays) every frame to and from it, so a
 * partition cuts a node off in both directions even when only one side
 * installed it.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { decide, isEmpty, NO_FAULTS, type LinkFaults } from '../transport/faults.js';
import type { LinkPort } from '../transport/transport.js';
import { encodeBatchFrame, FrameKind, type Frame } from './frames.js';
import type { NodeLinks } from './node-links.js';

/** The id other nodes' actors know node `nodeNo`'s main thread by. */
export function mainThreadId(nodeNo: number): number {
  if (!Number.isInteger(nodeNo) || nodeNo < 0) throw new RangeError(`node number must be a non-negative integer, got ${nodeNo}`);
  return -2 - nodeNo;
}

export interface GatewayMetrics {
  batchesOut: number;
  batchesIn: number;
  /** Batches for an id this node does not host, or from an id the sending node does not host. */
  misaddressed: number;
  /** Batches lost to node-level fault rules. */
  faultDropped: number;
  faultDelayed: number;
}

interface ActorEnd {
  /** The gateway's end of the channel whose other end the actor holds. */
  readonly port: MessagePort;
}

export class NodeGateway {
  /** Which node hosts each remote id (actors and main threads). */
  private directory = new Map<number, { node: string; nodeNo: number }>();
  /** (local actor, remote peer) -> the gateway's end of their channel. */
  private readonly ends = new Map<string, ActorEnd>();
  /** Remote actors the main thread's transport reaches through mainLink. */
  private readonly mainLinks = new Map<number, GatewayLinkPort>();
  private faults: LinkFaults = NO_FAULTS;
  private delayedNow = 0;
  readonly metrics: GatewayMetrics = { batchesOut: 0, batchesIn: 0, misaddressed: 0, faultDropped: 0, faultDelayed: 0 };

  constructor(
    private readonly links: NodeLinks,
    /** This node's main thread id as other nodes know it. */
    private readonly selfMainId: number,
    /** Actors this node runs (they receive batches here). */
    private readonly isLocalActor: (id: number) => boolean,
    private readonly maxDelayedBatches = 10_000,
  ) {}

  /** Who hosts every remote actor and main thread (replaced as membership changes). */
  setDirectory(entries: ReadonlyMap<number, { node: string; nodeNo: number }>): void {
    this.directory = new Map(entries);
  }

  nodeOf(id: number): string | undefined {
    return this.directory.get(id)?.node;
  }

  /** Node-level fault rules, keyed by node number: every frame to or from a node a rule names. */
  setFaults(faults: LinkFaults): void {
    this.faults = faults;
  }

  /** A port for local actor `actor` to reach remote `peer` through (give it to the actor's connectPeer). */
  portFor(actor: number, peer: number): MessagePort {
    this.closeEnd(actor, peer);
    const { port1, port2 } = new MessageChannel();
    port2.on('message', (batch: Uint8Array) => this.forward(peer, actor, batch));
    this.ends.set(endKey(actor, peer), { port: port2 });
    return port1;
  }

  /** Close every channel of a local actor (its thread ended or it left the ring). */
  dropActor(actor: number): void {
    for (const key of [...this.ends.keys()]) if (key.startsWith(`${actor}>`)) this.closeEnd(actor, Number(key.slice(key.indexOf('>') + 1)));
  }

  /** Close every channel to a remote peer (it left the ring). */
  dropPeer(peer: number): void {
    for (const key of [...this.ends.keys()]) if (key.endsWith(`>${peer}`)) this.closeEnd(Number(key.slice(0, key.indexOf('>'))), peer);
    this.mainLinks.get(peer)?.close();
  }

  /** The link the main thread's transport uses for remote actor `peer`. */
  mainLink(peer: number): LinkPort {
    this.mainLinks.get(peer)?.close();
    const link = new GatewayLinkPort((batch) => this.forward(peer, this.selfMainId, batch), () => this.mainLinks.delete(peer));
    this.mainLinks.set(peer, link);
    return link;
  }

  close(): void {
    for (const end of this.ends.values()) end.port.close();
    this.ends.clear();
    for (const l of [...this.mainLinks.values()]) l.close();
  }

  private closeEnd(actor: number, peer: number): void {
    const key = endKey(actor, peer);
    const end = this.ends.get(key);
    if (end === undefined) return;
    this.ends.delete(key);
    end.port.removeAllListeners('message');
    end.port.close();
  }

  private forward(to: number, from: number, batch: Uint8Array): void {
    const where = this.directory.get(to);
    if (where === undefined) {
      this.metrics.misaddressed++;
      return;
    }
    this.afterFaults(where.nodeNo, () => {
      this.metrics.batchesOut++;
      this.links.send(where.node, encodeBatchFrame(to, from, batch));
    });
  }

  /** A frame from `node` (the node wires links.onFrame here and to its control plane). */
  received(node: string, f: Frame): void {
    if (f.kind !== FrameKind.Batch) return; // control frames are the control plane's
    const sender = this.directory.get(f.from);
    if (sender === undefined || sender.node !== node) {
      this.metrics.misaddressed++; // only what a peer hosts may come from it
      return;
    }
    this.afterFaults(sender.nodeNo, () => this.deliver(f.to, f.from, f.batch));
  }

  /** Run `go` now, later (an injected delay) or never (an injected drop or partition), by the rules on node `nodeNo`. */
  private afterFaults(nodeNo: number, go: () => void): void {
    if (this.faults === NO_FAULTS || isEmpty(this.faults)) return go();
    const d = decide(this.faults, nodeNo, Math.random);
    if (d.kind === 'deliver') return go();
    if (d.kind === 'delay' && this.delayedNow < this.maxDelayedBatches) {
      this.delayedNow++;
      this.metrics.faultDelayed++;
      setTimeout(() => {
        this.delayedNow--;
        go();
      }, d.ms).unref();
      return;
    }
    this.metrics.faultDropped++;
  }

  private deliver(to: number, from: number, batch: Uint8Array): void {
    if (to === this.selfMainId) {
      const link = this.mainLinks.get(from);
      if (link === undefined) {
        this.metrics.misaddressed++;
        return;
      }
      this.metrics.batchesIn++;
      link.emit(batch);
      return;
    }
    const end = this.isLocalActor(to) ? this.ends.get(endKey(to, from)) : undefined;
    if (end === undefined) {
      this.metrics.misaddressed++;
      return;
    }
    this.metrics.batchesIn++;
    end.port.postMessage(batch, [batch.buffer as ArrayBuffer]);
  }
}

function endKey(actor: number, peer: number): string {
  return `${actor}>${peer}`;
}

/** A LinkPort whose batches leave through the gateway (the main thread's link to a remote actor). */
class GatewayLinkPort implements LinkPort {
  private listener: ((batch: Uint8Array) => void) | null = null;
  private closed = false;

  constructor(
    private readonly out: (batch: Uint8Array) => void,
    private readonly onClose: () => void,
  ) {}

  on(_event: 'message', listener: (batch: Uint8Array) => void): this {
    this.listener = listener;
    return this;
  }

  postMessage(batch: Uint8Array): void {
    if (!this.closed) this.out(batch);
  }

  removeAllListeners(): this {
    this.listener = null;
    return this;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listener = null;
    this.onClose();
  }

  emit(batch: Uint8Array): void {
    this.listener?.(batch);
  }
}
