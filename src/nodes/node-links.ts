/**
 * The connections between nodes: one long-lived TCP connection per node
 * pair (the node whose name sorts first dials; the other accepts), each
 * authenticated by the handshake in handshake.ts before a single frame of
 * data is taken from it, with reconnection (exponential backoff, jittered)
 * and a bounded send buffer per peer. What does not fit the buffer is
 * dropped and counted, as a network drops it: the actors' timeouts, hints
 * and anti-entropy already deal with lost messages, and no sender ever
 * waits on a slow node. The socket's own backpressure (write() returning
 * false) holds frames in that buffer until it drains.
 */
import net from 'node:net';
import { encodeJsonFrame, FrameKind, FrameReader, NodeWireError, type Frame } from './frames.js';
import { acceptProof, checkHello, dialProof, HANDSHAKE_VERSION, newNonce, proofMatches, type Hello } from './handshake.js';

export interface NodeLinksOptions {
  /** This node's name (unique in the cluster). */
  readonly node: string;
  readonly cluster: string;
  /** Shared by every node of the cluster; proves membership in the handshake. Never logged. */
  readonly secret: string;
  /** Where the inter-node listener binds (and what peers dial): only there. */
  readonly host: string;
  readonly port: number;
  /** Largest frame accepted from an authenticated peer. */
  readonly maxFrameBytes: number;
  /** Frames held per peer while it is unreachable or slow; beyond it frames are dropped. */
  readonly maxSendBufferBytes: number;
  /** A connection that has not completed its handshake within this is closed. */
  readonly handshakeTimeoutMs: number;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  readonly log: (line: string) => void;
}

export const NODE_LINK_DEFAULTS = {
  maxFrameBytes: 64 * 1024 * 1024,
  maxSendBufferBytes: 16 * 1024 * 1024,
  handshakeTimeoutMs: 5_000,
  reconnectMinMs: 50,
  reconnectMaxMs: 2_000,
} as const;

/** Frames before authentication are small (a Hello is ~300 bytes): nothing larger is buffered from a stranger. */
const HANDSHAKE_MAX_FRAME_BYTES = 4096;

export interface NodeLinkMetrics {
  framesSent: number;
  bytesSent: number;
  framesReceived: number;
  /** Frames dropped: the peer's send buffer was full, or it is not a known peer. */
  dropped: number;
  /** Connections refused in the handshake (wrong secret or cluster, malformed, timed out). */
  refused: number;
  /** Connections established (first and re-connections). */
  connects: number;
}

interface Peer {
  readonly name: string;
  address: { host: string; port: number } | null;
  socket: net.Socket | null;
  /** Frames waiting for the connection or for the socket to drain. */
  queue: Buffer[];
  queuedBytes: number;
  /** write() returned false: wait for 'drain'. */
  blocked: boolean;
  reconnectTimer: NodeJS.Timeout | null;
  attempts: number;
  /** Dial this peer (our name sorts first) rather than wait for it. */
  readonly dials: boolean;
}

export class NodeLinks {
  private readonly peers = new Map<string, Peer>();
  private server: net.Server | null = null;
  private closed = false;
  private readonly sockets = new Set<net.Socket>();
  private frameHandler: (node: string, frame: Frame) => void = () => undefined;
  private stateHandler: (node: string, up: boolean) => void = () => undefined;
  readonly metrics: NodeLinkMetrics = { framesSent: 0, bytesSent: 0, framesReceived: 0, dropped: 0, refused: 0, connects: 0 };

  constructor(private readonly o: NodeLinksOptions) {
    if (o.secret.length === 0) throw new Error('node links need a cluster secret');
  }

  /** Authenticated Batch and Control frames from peers. */
  onFrame(handler: (node: string, frame: Frame) => void): void {
    this.frameHandler = handler;
  }

  /** A peer's connection came up (authenticated) or went down. */
  onPeerState(handler: (node: string, up: boolean) => void): void {
    this.stateHandler = handler;
  }

  /** Bind the listener where `host:port` say; resolves with the port bound (for port 0). */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = net.createServer((socket) => this.accept(socket));
      server.once('error', reject);
      server.listen({ host: this.o.host, port: this.o.port }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.o.log(`ringkv node ${this.o.node}: inter-node listener: ${err.message}`));
        this.server = server;
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  }

  /** The peers to keep connections with and where they listen; others are disconnected. */
  setPeers(addresses: ReadonlyMap<string, { host: string; port: number }>): void {
    for (const [name, address] of addresses) {
      if (name === this.o.node) continue;
      const p = this.peer(name);
      const moved = p.address !== null && (p.address.host !== address.host || p.address.port !== address.port);
      p.address = address;
      if (moved) p.socket?.destroy();
      if (p.dials && p.socket === null && p.reconnectTimer === null) this.dial(p);
    }
    for (const [name, p] of this.peers) {
      if (addresses.has(name)) continue;
      this.peers.delete(name);
      if (p.reconnectTimer !== null) clearTimeout(p.reconnectTimer);
      p.socket?.destroy();
    }
  }

  isConnected(node: string): boolean {
    return this.peers.get(node)?.socket != null;
  }

  /** Queue one encoded frame for `node`; false (and counted) when it had to be dropped. */
  send(node: string, frame: Buffer): boolean {
    const p = this.peers.get(node);
    if (p === undefined || this.closed) {
      this.metrics.dropped++;
      return false;
    }
    if (p.socket !== null && !p.blocked && p.queue.length === 0) {
      this.write(p, frame);
      return true;
    }
    if (p.queuedBytes + frame.length > this.o.maxSendBufferBytes) {
      this.metrics.dropped++;
      return false;
    }
    p.queue.push(frame);
    p.queuedBytes += frame.length;
    return true;
  }

  /** Bytes waiting for `node` (its connection down or slow). */
  queuedBytes(node: string): number {
    return this.peers.get(node)?.queuedBytes ?? 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.peers.values()) if (p.reconnectTimer !== null) clearTimeout(p.reconnectTimer);
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = null;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- connections ----

  private peer(name: string): Peer {
    let p = this.peers.get(name);
    if (p === undefined) {
      p = { name, address: null, socket: null, queue: [], queuedBytes: 0, blocked: false, reconnectTimer: null, attempts: 0, dials: this.o.node < name };
      this.peers.set(name, p);
    }
    return p;
  }

  private write(p: Peer, frame: Buffer): void {
    this.metrics.framesSent++;
    this.metrics.bytesSent += frame.length;
    if (!p.socket!.write(frame)) p.blocked = true;
  }

  private flush(p: Peer): void {
    while (p.socket !== null && !p.blocked && p.queue.length > 0) {
      const frame = p.queue.shift()!;
      p.queuedBytes -= frame.length;
      this.write(p, frame);
    }
  }

  private dial(p: Peer): void {
    if (this.closed || p.address === null) return;
    const socket = net.connect({ host: p.address.host, port: p.address.port });
    this.track(socket);
    socket.setNoDelay(true);
    const reader = new FrameReader(HANDSHAKE_MAX_FRAME_BYTES);
    const nonce = newNonce();
    let state: 'hello' | 'welcome' | 'open' = 'hello';
    let listenerHello: Hello | null = null;
    const timer = setTimeout(() => socket.destroy(new Error('handshake timed out')), this.o.handshakeTimeoutMs);
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk, (f) => {
          if (state === 'open') return this.received(p.name, f);
          if (f.kind === FrameKind.Refuse) throw new NodeWireError(`refused by ${p.name}: ${String((f.body as { reason?: unknown })?.reason)}`);
          if (state === 'hello' && f.kind === FrameKind.Hello) {
            const hello = checkHello(f.body, this.o.cluster, false);
            if (typeof hello === 'string') throw new NodeWireError(hello);
            if (hello.node !== p.name) throw new NodeWireError(`dialled ${p.name}, answered by ${hello.node}`);
            listenerHello = hello;
            socket.write(encodeJsonFrame(FrameKind.Hello, { version: HANDSHAKE_VERSION, cluster: this.o.cluster, node: this.o.node, nonce, proof: dialProof(this.o.secret, this.o.cluster, this.o.node, p.name, hello.nonce, nonce) }));
            state = 'welcome';
            return;
          }
          if (state === 'welcome' && f.kind === FrameKind.Welcome) {
            const expected = acceptProof(this.o.secret, this.o.cluster, p.name, this.o.node, nonce, listenerHello!.nonce);
            if (!proofMatches(expected, (f.body as { proof?: unknown })?.proof)) throw new NodeWireError(`${p.name} did not prove the cluster secret`);
            clearTimeout(timer);
            state = 'open';
            reader.setMaxFrameBytes(this.o.maxFrameBytes);
            this.opened(p, socket);
            return;
          }
          throw new NodeWireError(`unexpected frame kind ${f.kind} in the handshake`);
        });
      } catch (err) {
        this.o.log(`ringkv node ${this.o.node}: connection to ${p.name}: ${(err as Error).message}`);
        socket.destroy();
      }
    });
    socket.on('error', () => undefined); // 'close' follows and reconnects
    socket.on('close', () => {
      clearTimeout(timer);
      this.lost(p, socket);
      if (!this.closed && this.peers.get(p.name) === p && p.dials) this.scheduleDial(p);
    });
  }

  private scheduleDial(p: Peer): void {
    if (p.reconnectTimer !== null) return;
    const base = Math.min(this.o.reconnectMaxMs, this.o.reconnectMinMs * 2 ** Math.min(p.attempts, 16));
    p.attempts++;
    p.reconnectTimer = setTimeout(
      () => {
        p.reconnectTimer = null;
        if (p.socket === null) this.dial(p);
      },
      base / 2 + Math.random() * (base / 2),
    );
    p.reconnectTimer.unref();
  }

  private accept(socket: net.Socket): void {
    this.track(socket);
    socket.setNoDelay(true);
    const where = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    const reader = new FrameReader(HANDSHAKE_MAX_FRAME_BYTES);
    const nonce = newNonce();
    let peer: Peer | null = null;
    const refuse = (reason: string): void => {
      this.metrics.refused++;
      this.o.log(`ringkv node ${this.o.node}: refused an inter-node connection from ${where}: ${reason}`);
      socket.end(encodeJsonFrame(FrameKind.Refuse, { reason }));
      socket.destroySoon();
    };
    const timer = setTimeout(() => refuse('no handshake in time'), this.o.handshakeTimeoutMs);
    socket.write(encodeJsonFrame(FrameKind.Hello, { version: HANDSHAKE_VERSION, cluster: this.o.cluster, node: this.o.node, nonce }));
    socket.on('data', (chunk: Buffer) => {
      if (socket.destroyed) return;
      try {
        reader.push(chunk, (f) => {
          if (peer !== null) return this.received(peer.name, f);
          if (f.kind !== FrameKind.Hello) throw new NodeWireError(`frame kind ${f.kind} before the handshake`);
          const hello = checkHello(f.body, this.o.cluster, true);
          if (typeof hello === 'string') throw new NodeWireError(hello);
          if (hello.node === this.o.node) throw new NodeWireError('a peer with this node\'s own name');
          const expected = dialProof(this.o.secret, this.o.cluster, hello.node, this.o.node, nonce, hello.nonce);
          if (!proofMatches(expected, hello.proof)) throw new NodeWireError(`${hello.node} did not prove the cluster secret`);
          clearTimeout(timer);
          socket.write(encodeJsonFrame(FrameKind.Welcome, { proof: acceptProof(this.o.secret, this.o.cluster, this.o.node, hello.node, hello.nonce, nonce) }));
          reader.setMaxFrameBytes(this.o.maxFrameBytes);
          const p = this.peer(hello.node);
          p.socket?.destroy(); // the peer reconnected: its old connection is dead to it
          peer = p;
          this.opened(p, socket);
        });
      } catch (err) {
        if (peer === null) refuse((err as Error).message);
        else {
          this.o.log(`ringkv node ${this.o.node}: connection from ${peer.name}: ${(err as Error).message}`);
          socket.destroy();
        }
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      if (peer !== null) this.lost(peer, socket);
    });
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private opened(p: Peer, socket: net.Socket): void {
    p.socket = socket;
    p.blocked = false;
    p.attempts = 0;
    this.metrics.connects++;
    socket.on('drain', () => {
      if (p.socket !== socket) return;
      p.blocked = false;
      this.flush(p);
    });
    this.stateHandler(p.name, true);
    this.flush(p);
  }

  private lost(p: Peer, socket: net.Socket): void {
    if (p.socket !== socket) return;
    p.socket = null;
    p.blocked = false;
    this.stateHandler(p.name, false);
  }

  private received(node: string, f: Frame): void {
    if (f.kind !== FrameKind.Batch && f.kind !== FrameKind.Control) throw new NodeWireError(`unexpected frame kind ${f.kind} after the handshake`);
    this.metrics.framesReceived++;
    this.frameHandler(node, f);
  }
}
