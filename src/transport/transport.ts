import { ByteWriter } from '../encoding/bytes.js';
import type { Random, Timers } from '../runtime/services.js';
import { decide, isEmpty, NO_FAULTS, type LinkFaults } from './faults.js';
import { decodeBatch, encodeMessage, type Message } from './protocol.js';

/** Link id of the main thread (actors are 0, 1, 2, ...). */
export const MAIN_THREAD = -1;

export interface TransportOptions {
  /** A link's pending batch is posted as soon as it reaches this size, without waiting for the tick. */
  readonly maxBatchBytes: number;
  /** Messages held back by an injected delay at once; beyond it they are dropped (and counted). */
  readonly maxDelayedMessages?: number;
}

export interface TransportMetrics {
  messagesSent: number;
  messagesReceived: number;
  batchesSent: number;
  batchesReceived: number;
  bytesSent: number;
  /** Messages addressed to a peer with no link (unknown, or not connected). */
  undeliverable: number;
  /** Messages lost to injected faults (partition, drop, delay overflow). */
  dropped: number;
  /** Messages delivered late by an injected delay. */
  delayed: number;
}

/**
 * What a link needs of its port: a worker_threads MessagePort in the real
 * runtime, a simulated one in the simulator (src/sim/ports.ts).
 */
export interface LinkPort {
  on(event: 'message', listener: (batch: Uint8Array) => void): unknown;
  postMessage(batch: Uint8Array, transfer: ArrayBuffer[]): void;
  removeAllListeners(event: 'message'): unknown;
  close(): void;
}

interface Link {
  readonly port: LinkPort;
  readonly writer: ByteWriter;
  count: number;
}

/**
 * The one message path. Every message between actors (and between the main
 * thread and actors) goes through a Transport: it coalesces the messages for
 * each peer during one event-loop turn into one binary batch, posts it with
 * its buffer transferred (no structured clone of each value), decodes
 * incoming batches and counts everything. Fault injection belongs here too.
 */
export class Transport {
  private readonly links = new Map<number, Link>();
  private readonly dirty = new Set<number>();
  private flushScheduled = false;
  private handler: (from: number, m: Message) => void = () => {
    throw new Error('transport: no message handler installed');
  };
  readonly metrics: TransportMetrics = { messagesSent: 0, messagesReceived: 0, batchesSent: 0, batchesReceived: 0, bytesSent: 0, undeliverable: 0, dropped: 0, delayed: 0 };
  private faults: LinkFaults = NO_FAULTS;
  private delayedNow = 0;

  constructor(
    readonly selfId: number,
    private readonly timers: Timers,
    private readonly options: TransportOptions,
    private readonly random: Random = { next: () => Math.random() },
  ) {}

  /**
   * Install fault rules for this endpoint's outgoing actor links (the main
   * thread's client link is never faulted). Fault injection lives here and
   * nowhere else: coordinators, gossip and repair see only lost or late messages.
   */
  setFaults(faults: LinkFaults): void {
    this.faults = faults;
  }

  onMessage(handler: (from: number, m: Message) => void): void {
    this.handler = handler;
  }

  connect(peer: number, port: LinkPort): void {
    this.disconnect(peer);
    const link: Link = { port, writer: new ByteWriter(4096), count: 0 };
    this.links.set(peer, link);
    port.on('message', (batch: Uint8Array) => this.receive(peer, batch));
  }

  disconnect(peer: number): void {
    const link = this.links.get(peer);
    if (link === undefined) return;
    this.links.delete(peer);
    this.dirty.delete(peer);
    link.port.removeAllListeners('message');
    link.port.close();
  }

  peers(): number[] {
    return [...this.links.keys()];
  }

  isConnected(peer: number): boolean {
    return this.links.has(peer);
  }

  /** An injected partition cuts the link to `peer`: evidence (not suspicion) that nothing sent reaches it. */
  isBlocked(peer: number): boolean {
    return this.faults.blocked.length > 0 && this.faults.blocked.includes(peer);
  }

  /** Queue a message for `peer`; false when there is no link to it. A message lost to a fault still returns true, as on a network. */
  send(peer: number, m: Message): boolean {
    if (peer >= 0 && this.faults !== NO_FAULTS && !isEmpty(this.faults)) {
      const d = decide(this.faults, peer, () => this.random.next());
      if (d.kind === 'drop') {
        this.metrics.dropped++;
        return this.links.has(peer);
      }
      if (d.kind === 'delay') {
        if (this.delayedNow >= (this.options.maxDelayedMessages ?? 100_000)) {
          this.metrics.dropped++;
          return this.links.has(peer);
        }
        this.delayedNow++;
        this.metrics.delayed++;
        this.timers.setTimeout(() => {
          this.delayedNow--;
          this.deliver(peer, m);
        }, d.ms);
        return this.links.has(peer);
      }
    }
    return this.deliver(peer, m);
  }

  private deliver(peer: number, m: Message): boolean {
    const link = this.links.get(peer);
    if (link === undefined) {
      this.metrics.undeliverable++;
      return false;
    }
    encodeMessage(link.writer, m);
    link.count++;
    this.metrics.messagesSent++;
    if (link.writer.length >= this.options.maxBatchBytes) {
      this.post(peer, link);
    } else {
      this.dirty.add(peer);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        this.timers.setImmediate(() => this.flush());
      }
    }
    return true;
  }

  /** Post every pending batch now. */
  flush(): void {
    this.flushScheduled = false;
    for (const peer of this.dirty) {
      const link = this.links.get(peer);
      if (link !== undefined) this.post(peer, link);
    }
    this.dirty.clear();
  }

  close(): void {
    this.flush();
    for (const peer of [...this.links.keys()]) this.disconnect(peer);
  }

  private post(peer: number, link: Link): void {
    if (link.count === 0) return;
    const batch = link.writer.finish();
    link.writer.reset();
    link.count = 0;
    this.dirty.delete(peer);
    this.metrics.batchesSent++;
    this.metrics.bytesSent += batch.length;
    link.port.postMessage(batch, [batch.buffer as ArrayBuffer]);
  }

  private receive(from: number, batch: Uint8Array): void {
    this.metrics.batchesReceived++;
    this.metrics.messagesReceived += decodeBatch(batch, (m) => this.handler(from, m));
  }
}
