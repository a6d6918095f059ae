/** ringkv node processes for the multi-node tests: `ringkv start --join …` on loopback ports, each stopped on teardown. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './etcd-fixture.js';

const MAIN = new URL('../src/cli/main.js', import.meta.url).pathname;
export const CLUSTER_SECRET = 'test-cluster-secret';

export interface NodeProcess {
  readonly name: string;
  readonly dataDir: string;
  readonly respPort: number;
  readonly nodePort: number;
  /** Everything it printed (stdout and stderr). */
  output(): string;
  /** Start (or start again, on the same directory and ports); resolves once it is ready. */
  start(): Promise<void>;
  kill9(): Promise<void>;
  /** SIGTERM: a graceful stop. */
  stop(): Promise<void>;
  pause(): void;
  resume(): void;
  running(): boolean;
  client(): Redis;
  /** Stop it if it runs, and remove its data directory. */
  destroy(): Promise<void>;
}

export async function nodeProcess(name: string, etcdEndpoint: string, cluster: string, actors: number, extra: readonly string[] = []): Promise<NodeProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), `ringkv-node-${name}-`));
  const respPort = await freePort();
  const httpPort = await freePort();
  const nodePort = await freePort();
  let child: ChildProcess | null = null;
  let out = '';
  const clients: Redis[] = [];
  const exited = (c: ChildProcess): Promise<void> => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', () => r())));
  const self: NodeProcess = {
    name,
    dataDir,
    respPort,
    nodePort,
    output: () => out,
    async start() {
      const c = spawn(
        process.execPath,
        [
          MAIN, 'start',
          '--data-dir', dataDir,
          '--port', String(respPort),
          '--http-port', String(httpPort),
          '--actors', String(actors),
          '--join', etcdEndpoint.replace('http://', 'etcd://'),
          '--cluster', cluster,
          '--advertise', `127.0.0.1:${nodePort}`,
          '--node-name', name,
          '--allow-faults',
          ...extra,
        ],
        { env: { ...process.env, RINGKV_CLUSTER_SECRET: CLUSTER_SECRET }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child = c;
      const from = out.length; // a restart prints "ready" again: look only at this run's output
      const ready = new Promise<void>((resolve, reject) => {
        const onData = (d: Buffer): void => {
          out += d.toString();
          if (out.slice(from).includes(`ringkv ready: node ${name} `) && !started) {
            started = true;
            resolve();
          }
        };
        let started = false;
        c.stdout!.on('data', onData);
        c.stderr!.on('data', (d: Buffer) => (out += d.toString()));
        c.once('exit', (code, signal) => {
          if (!started) reject(new Error(`node ${name} exited (${code ?? signal}) before it was ready:\n${out}`));
        });
      });
      await ready;
    },
    async kill9() {
      const c = child;
      if (c === null) return;
      c.kill('SIGKILL');
      await exited(c);
      child = null;
    },
    async stop() {
      const c = child;
      if (c === null) return;
      c.kill('SIGCONT');
      c.kill('SIGTERM');
      await exited(c);
      child = null;
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    running: () => child !== null,
    client() {
      const r = new Redis({ port: respPort, host: '127.0.0.1', lazyConnect: false, maxRetriesPerRequest: 0, enableOfflineQueue: true, commandTimeout: 4000, retryStrategy: () => 200 });
      r.on('error', () => undefined);
      clients.push(r);
      return r;
    },
    async destroy() {
      for (const r of clients) r.disconnect();
      const c = child;
      if (c !== null) {
        c.kill('SIGCONT');
        c.kill('SIGKILL');
        await exited(c);
        child = null;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return self;
}
