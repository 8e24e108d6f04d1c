// A single-member etcd 3.4 on loopback ports with its own data directory, for tests.

import { join } from 'node:path';
import { waitFor } from './poll.ts';
import { freePort } from './ports.ts';
import { spawnManaged, type ManagedProcess } from './processes.ts';
import { tempDir } from './tempDir.ts';

export const ETCD_BIN = '/usr/bin/etcd';

let counter = 0;

export class EtcdServer {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  #process: ManagedProcess | undefined;

  constructor(name: string, clientPort: number, peerPort: number, dataDir: string) {
    this.name = name;
    this.clientPort = clientPort;
    this.peerPort = peerPort;
    this.dataDir = dataDir;
  }

  /** The client URL, e.g. for etcd3 `hosts` or `etcdctl --endpoints`. */
  get endpoint(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  /** The running etcd process, if any. */
  get process(): ManagedProcess | undefined {
    return this.#process;
  }

  /** Starts etcd (again, on the same ports and data) and waits until it reports healthy. */
  async start(): Promise<void> {
    if (this.#process?.running === true) throw new Error(`${this.name} is already running`);
    const peerUrl = `http://127.0.0.1:${this.peerPort}`;
    const proc = spawnManaged(
      ETCD_BIN,
      [
        `--name=${this.name}`,
        `--data-dir=${this.dataDir}`,
        `--listen-client-urls=${this.endpoint}`,
        `--advertise-client-urls=${this.endpoint}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=${this.name}=${peerUrl}`,
        `--initial-cluster-token=${this.name}`,
        '--initial-cluster-state=new',
        // Loopback has no latency: short timings make elections (and restarts) quick.
        '--heartbeat-interval=50',
        '--election-timeout=500',
        '--logger=zap',
        '--log-level=warn',
      ],
      { name: this.name, asUnprivileged: true },
    );
    this.#process = proc;
    await waitFor(
      async () => {
        if (!proc.running) throw new Error(`etcd exited: ${proc.output().slice(-2000)}`);
        const res = await fetch(`${this.endpoint}/health`);
        const body = (await res.json()) as { health?: string };
        return body.health === 'true';
      },
      { timeout: 20_000, interval: 100, message: `${this.name} on ${this.endpoint} becomes healthy` },
    );
  }

  /** Stops etcd gracefully; start() brings it back with its data. */
  async stop(): Promise<void> {
    await this.#process?.stop();
  }

  /** Kills etcd with SIGKILL (a crash); start() brings it back with its data. */
  async kill(): Promise<void> {
    const proc = this.#process;
    if (proc === undefined) return;
    proc.kill('SIGKILL');
    await proc.exited;
  }

  /** etcd's log output of the current run. */
  output(): string {
    return this.#process?.output() ?? '';
  }
}

/** Starts a fresh single-member etcd; cleanup() stops it and removes its data. */
export async function startEtcd(): Promise<EtcdServer> {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const dir = await tempDir('shardherd-etcd');
  const server = new EtcdServer(`etcd-${process.pid}-${++counter}`, clientPort, peerPort, join(dir, 'data'));
  await server.start();
  return server;
}
