import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { Cluster } from '../../cluster/cluster.js';
import { commandKeys, dispatch, type ClientState, type Reply, type ServerContext } from './commands.js';
import { RESP_ERRORS, RespParser, type FeedResult, type RespLimits } from './parser.js';

const EMPTY = Buffer.alloc(0);
import { ReplyWriter } from './reply.js';

export interface RespServerOptions {
  readonly host: string;
  readonly port: number;
  /** null: no password; every client is authenticated. */
  readonly password: string | null;
  readonly maxClients: number;
  /** Replies a client may have pending before its socket stops being read. */
  readonly maxPipelineDepth: number;
  readonly limits: RespLimits;
}

interface Slot {
  reply: Reply | null;
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
  /**
   * Per key, this connection's latest command still running on it. A later
   * command on the same key starts only once it is done, so a pipeline's
   * `SET k v` then `GET k` reads its own write, as in Redis; commands on
   * different keys still run at once. At most maxPipelineDepth entries.
   */
  private readonly runningByKey = new Map<string, Promise<Reply>>();
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
      if (args.length === 0) continue;
      const name = args[0]!.toString('latin1').toLowerCase();
      // Redis: a request that looks like HTTP on the RESP port is a cross-protocol attack.
      if (name === 'post' || name === 'host:') {
        console.error(`ringkv: possible security attack: ${name.toUpperCase()} on the Redis port from ${this.state.remote}; connection closed`);
        this.closing = true;
        this.flush();
        this.socket.destroy();
        return;
      }
      const wasAuthenticated = this.state.authenticated;
      this.enqueue(this.run(args));
      if (!wasAuthenticated && this.state.authenticated) this.parser.setLimits(this.limitsFor(true));
      if (this.state.closeAfterReply) {
        this.closing = true;
        break;
      }
    }
    if (error !== undefined && !this.closing) {
      this.ctx.counters.protocolErrors++;
      // Redis closes a client over its query buffer limit without a reply; every other protocol error is answered first.
      if (error !== RESP_ERRORS.queryBufferLimit) this.enqueue((w) => w.error(`ERR ${error}`));
      else console.error(`ringkv: ${error} (${this.state.remote})`);
      this.closing = true;
    }
  }

  private run(args: Buffer[]): Reply | Promise<Reply> {
    const keys = commandKeys(args);
    if (keys.length === 0) return dispatch(this.ctx, this.state, args);
    const names = keys.map((k) => k.toString('latin1'));
    const before: Promise<Reply>[] = [];
    for (const name of names) {
      const running = this.runningByKey.get(name);
      if (running !== undefined) before.push(running);
    }
    // dispatch's promises never reject (errors become error replies), so neither does this chain
    const result = before.length === 0 ? dispatch(this.ctx, this.state, args) : Promise.all(before).then(() => dispatch(this.ctx, this.state, args));
    if (typeof result === 'function') return result;
    for (const name of names) this.runningByKey.set(name, result);
    void result.then(() => {
      for (const name of names) if (this.runningByKey.get(name) === result) this.runningByKey.delete(name);
    });
    return result;
  }

  private enqueue(r: Reply | Promise<Reply>): void {
    if (typeof r === 'function') {
      this.slots.push({ reply: r });
      return;
    }
    const slot: Slot = { reply: null };
    this.slots.push(slot);
    r.then((reply) => {
      slot.reply = reply;
      this.scheduleFlush();
    });
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
    if (this.closing && this.slots.length === 0 && !this.socket.destroyed) this.socket.end();
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
    counters: { commands: 0, getsWithSiblings: 0, rejectedConnections: 0, protocolErrors: 0 },
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
