/** A real etcd for tests: one member on loopback ports, its data in a temp directory; stopped and removed on teardown. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface EtcdServer {
  readonly endpoint: string;
  readonly clientPort: number;
  stop(): Promise<void>;
  /** Start it again on the same ports and data (after stop()). */
  start(): Promise<void>;
  /** Stop it and remove its data. */
  destroy(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function healthy(port: number, deadlineMs: number): Promise<void> {
  while (Date.now() < deadlineMs) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      if (r.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('etcd did not become healthy in time');
}

export async function startEtcd(): Promise<EtcdServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ringkv-etcd-'));
  const clientPort = await freePort();
  const peerPort = await freePort();
  let child: ChildProcess | null = null;
  const start = async (): Promise<void> => {
    const c = spawn(
      'etcd',
      [
        '--name', 'test',
        '--data-dir', join(dir, 'data'),
        '--listen-client-urls', `http://127.0.0.1:${clientPort}`,
        '--advertise-client-urls', `http://127.0.0.1:${clientPort}`,
        '--listen-peer-urls', `http://127.0.0.1:${peerPort}`,
        '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
        '--initial-cluster', `test=http://127.0.0.1:${peerPort}`,
        '--log-level', 'error',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    c.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child = c;
    const exited = new Promise<never>((_, reject) => c.once('exit', (code) => reject(new Error(`etcd exited (${code}): ${stderr}`))));
    exited.catch(() => undefined);
    await Promise.race([healthy(clientPort, Date.now() + 20_000), exited]);
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = null;
    if (c === null || c.exitCode !== null) return;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await gone;
  };
  await start();
  return {
    endpoint: `http://127.0.0.1:${clientPort}`,
    clientPort,
    start,
    stop,
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
