import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { Cluster } from '../../cluster/cluster.js';
import { commandKeys, commandName, dispatch, finish, LATER, type ClientState, type Pending, type Reply, type ServerContext } from './commands.js';
import { RESP_ERRORS, RespParser, type FeedResult, type RespLimits } from './parser.js';
import { ReplyWriter } from './reply.js';

const EMPTY = Buffer.alloc(0);

/** The reply to a command with an argument too large to keep (the parser read past it). */
const refusedReply =
  (why: string): Reply =>
  (w) =>
    w.error(`ERR ${why}`);

export interface RespServerOptions {
  readonly host: string;
  readonly port: number;
  /** null: no password; every client is authenticated. */
  readonly password: string | null;
  readonly maxClients: number;
  /** Replies a client may have pending before its socket stops being read. */
  readonly maxPipelineDepth: number;
  readonly limits: RespLimits;
  /** FLUSHALL/FLUSHDB allowed (default false: refused). */
  readonly allowFlush?: boolean;
  /** RINGKV.NODEFAULTS is allowed (--allow-faults). */
  readonly allowFaults?: boolean;
  /** DBSIZE estimate (default) or exact. */
  readonly dbsize?: 'estimate' | 'exact';
}

/**
 * One command in a connection's pipeline, from parsed to answered. Its
 * reply is written when every earlier one has been. A command on a key that
 * an earlier command of this connection is still running on waits for it
 * (`blockers`), so a pipeline's `SET k v` then `GET k` reads its own write,
 * as in Redis; commands on different keys run at once.
 */
class Slot implements Pending {
  reply: Reply | null = null;
  startedMs = 0;
  /** The keys it touches (latin1), while it runs. */
  keys: string[] | null = null;
  /** Later commands on its keys, waiting for it to finish. */
  waiters: Slot[] | null = null;
  /** Earlier commands on its keys still running. */
  blockers = 0;

  constructor(
    private readonly connection: Connection | null,
    readonly op: string,
    readonly args: Buffer[] | null,
  ) {}

  answer(err: unknown, reply?: Reply): void {
    this.connection!.answered(this, finish(this.op, this.startedMs, err, reply));
  }
}

/**
 * One client connection: parse what arrives, run commands (most are
 * asynchronous cluster requests), and write replies strictly in request
 * order, coalesced into one socket write per turn.
 */
class Connection {
  private readonly parser: RespParser;
  private readonly writer = new ReplyWriter(2);
  private readonly slots: Slot[] = [];
  /** Per key, this connection's latest command still running on it (at most maxPipelineDepth entries). */
  private readonly lastByKey = new Map<string, Slot>();
  private flushScheduled = false;
  private closing = false;
  private paused = false;

  constructor(
    private readonly socket: Socket,
    readonly state: ClientState,
    private readonly ctx: ServerContext,
    private readonly options: RespServerOptions,
    private readonly onClose: () => void,
  ) {
    this.parser = new RespParser(this.limitsFor(state.authenticated));
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined); // a reset connection only ends itself
    socket.on('close', () => {
      this.closing = true;
      this.onClose();
    });
    socket.on('drain', () => this.maybeResume());
  }

  /** Unauthenticated clients get Redis's tight caps (10 arguments, 16 KiB bulks, 1 MiB buffered). */
  private limitsFor(authenticated: boolean): RespLimits {
    return authenticated ? this.options.limits : { ...this.options.limits, authRequired: true };
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    if (this.state.authenticated) {
      this.handle(this.parser.feed(chunk));
    } else {
      // One command at a time until AUTH succeeds, so that the commands after a
      // pipelined AUTH are parsed under the authenticated limits (as Redis does).
      let result = this.parser.feed(chunk, 1);
      for (;;) {
        this.handle(result);
        if (this.closing || (result.commands.length === 0 && this.parser.unparsedBytes === 0) || result.error !== undefined) break;
        result = this.parser.feed(EMPTY, this.state.authenticated ? Infinity : 1);
      }
    }
    if (this.slots.length >= this.options.maxPipelineDepth && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
    this.scheduleFlush();
  }

  private handle({ commands, error }: FeedResult): void {
    for (const args of commands) {
      if (this.closing) break;
      if (args.refused !== undefined) {
        this.ctx.counters.refusedCommands++;
        this.push(refusedReply(args.refused));
        continue;
      }
      if (args.length === 0) continue;
      const op = commandName(args[0]!);
      // Redis: a request that looks like HTTP on the RESP port is a cross-protocol attack.
      if (op === 'post' || op === 'host:') {
        console.error(`ringkv: possible security attack: ${op.toUpperCase()} on the Redis port from ${this.state.remote}; connection closed`);
        this.closing = true;
        this.flush();
        this.socket.destroy();
        return;
      }
      const wasAuthenticated = this.state.authenticated;
      this.run(new Slot(this, op, args));
      if (!wasAuthenticated && this.state.authenticated) this.parser.setLimits(this.limitsFor(true));
      if (this.state.closeAfterReply) {
        this.closing = true;
        break;
      }
    }
    if (error !== undefined && !this.closing) {
      this.ctx.counters.protocolErrors++;
      // Redis closes a client over its query buffer limit without a reply; every other protocol error is answered first.
      if (error !== RESP_ERRORS.queryBufferLimit) this.push((w) => w.error(`ERR ${error}`));
      else console.error(`ringkv: ${error} (${this.state.remote})`);
      this.closing = true;
    }
  }

  /** Queue a command and start it, unless an earlier command on one of its keys is still running. */
  private run(slot: Slot): void {
    this.slots.push(slot);
    const keys = commandKeys(slot.op, slot.args!);
    if (keys.length > 0) {
      slot.keys = [];
      for (const key of keys) {
        const name = key.toString('latin1');
        const earlier = this.lastByKey.get(name);
        if (earlier === slot) continue; // a key named twice (MSET k 1 k 2)
        if (earlier !== undefined) {
          (earlier.waiters ??= []).push(slot);
          slot.blockers++;
        }
        this.lastByKey.set(name, slot);
        slot.keys.push(name);
      }
    }
    if (slot.blockers === 0) this.start(slot);
  }

  private start(slot: Slot): void {
    const reply = dispatch(this.ctx, this.state, slot.op, slot.args!, slot);
    if (reply !== LATER) this.answered(slot, reply);
  }

  /** A command's reply is ready: let the commands waiting on its keys start, and write when its turn comes. */
  answered(slot: Slot, reply: Reply): void {
    slot.reply = reply;
    if (slot.keys !== null) {
      for (const name of slot.keys) if (this.lastByKey.get(name) === slot) this.lastByKey.delete(name);
      slot.keys = null;
    }
    const waiters = slot.waiters;
    slot.waiters = null;
    if (waiters !== null) for (const w of waiters) if (--w.blockers === 0) this.start(w);
    this.scheduleFlush();
  }

  /** A reply the connection itself makes (a protocol error), in order after the commands before it. */
  private push(reply: Reply): void {
    const slot = new Slot(null, '', null);
    slot.reply = reply;
    this.slots.push(slot);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Write every reply whose turn has come; end the connection after the last one when closing. */
  private flush(): void {
    let n = 0;
    while (n < this.slots.length && this.slots[n]!.reply !== null) {
      this.slots[n]!.reply!(this.writer);
      n++;
    }
    if (n > 0) {
      this.slots.splice(0, n);
      if (!this.socket.destroyed) this.socket.write(this.writer.take());
    }
    // As Redis does: close (not just half-close) once the last reply is out, so a client still
    // sending after a protocol error or QUIT finds the connection gone rather than read and dropped.
    if (this.closing && this.slots.length === 0 && !this.socket.destroyed) this.socket.destroySoon();
    this.maybeResume();
  }

  private maybeResume(): void {
    if (this.paused && this.slots.length < this.options.maxPipelineDepth / 2 && this.socket.writableLength < 1024 * 1024) {
      this.paused = false;
      this.socket.resume();
    }
  }
}

export interface RespServer {
  readonly port: number;
  /** Stop accepting, let in-flight commands answer, close every connection. */
  close(): Promise<void>;
}

export async function startRespServer(cluster: Cluster, options: RespServerOptions): Promise<RespServer> {
  const clients = new Map<number, ClientState>();
  const sockets = new Set<Socket>();
  let nextId = 1;
  let port = options.port;
  const ctx: ServerContext = {
    cluster,
    passwordDigest: options.password === null ? null : createHash('sha256').update(options.password).digest(),
    startedAtMs: Date.now(),
    port: () => port,
    clients: () => clients,
    allowFlush: options.allowFlush ?? false,
    allowFaults: options.allowFaults ?? false,
    exactDbsize: options.dbsize === 'exact',
    counters: { commands: 0, getsWithSiblings: 0, rejectedConnections: 0, protocolErrors: 0, refusedCommands: 0 },
  };
  const server: Server = createServer((socket) => {
    if (clients.size >= options.maxClients) {
      ctx.counters.rejectedConnections++;
      socket.end('-ERR max number of clients reached\r\n');
      return;
    }
    const state: ClientState = {
      id: nextId++,
      remote: `${socket.remoteAddress}:${socket.remotePort}`,
      connectedAtMs: Date.now(),
      name: null,
      authenticated: options.password === null,
      protocol: 2,
      r: undefined,
      w: undefined,
      strict: undefined,
      siblingsAttr: false,
      closeAfterReply: false,
    };
    clients.set(state.id, state);
    sockets.add(socket);
    new Connection(socket, state, ctx, options, () => {
      clients.delete(state.id);
      sockets.delete(socket);
    });
  });
  server.maxConnections = options.maxClients + 16; // room to send the "max clients" error
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address !== null && typeof address === 'object') port = address.port;
  return {
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Give in-flight replies a moment, then end every connection.
      await new Promise((r) => setTimeout(r, 50));
      for (const s of sockets) s.end();
      await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
      for (const s of sockets) s.destroy();
    },
  };
}
