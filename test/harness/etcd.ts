// A single-member etcd 3.4 on loopback ports with its own data directory, for tests; optionally
// with TLS on its client URL (and client certificates required) or extra flags.

import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { waitFor } from './poll.ts';
import { freePort } from './ports.ts';
import { spawnManaged, type ManagedProcess } from './processes.ts';
import { tempDir } from './tempDir.ts';

export const ETCD_BIN = '/usr/bin/etcd';

let counter = 0;

export interface EtcdOptions {
  /**
   * Serve clients over TLS with this certificate; with `clientCa`, require client certificates it
   * signed (`client` is the one the harness's own health checks present).
   */
  tls?: { certFile: string; keyFile: string; clientCa?: string; client?: { certFile: string; keyFile: string } };
  /** More etcd flags, e.g. `--auth-token-ttl=1`. */
  extraArgs?: string[];
}

export class EtcdServer {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  #process: ManagedProcess | undefined;

  readonly options: EtcdOptions;

  constructor(name: string, clientPort: number, peerPort: number, dataDir: string, options: EtcdOptions = {}) {
    this.name = name;
    this.clientPort = clientPort;
    this.peerPort = peerPort;
    this.dataDir = dataDir;
    this.options = options;
  }

  /** The client URL, e.g. for etcd3 `hosts` or `etcdctl --endpoints`. */
  get endpoint(): string {
    return `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${this.clientPort}`;
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
        ...this.tlsArgs(),
        ...(this.options.extraArgs ?? []),
      ],
      { name: this.name, asUnprivileged: true },
    );
    this.#process = proc;
    await waitFor(
      async () => {
        if (!proc.running) throw new Error(`etcd exited: ${proc.output().slice(-2000)}`);
        return (await this.health()).health === 'true';
      },
      { timeout: 20_000, interval: 100, message: `${this.name} on ${this.endpoint} becomes healthy` },
    );
  }

  private tlsArgs(): string[] {
    const { tls } = this.options;
    if (tls === undefined) return [];
    const args = [`--cert-file=${tls.certFile}`, `--key-file=${tls.keyFile}`];
    if (tls.clientCa !== undefined) args.push('--client-cert-auth', `--trusted-ca-file=${tls.clientCa}`);
    return args;
  }

  /** GET /health: over TLS trusting the server's certificate as given (its own issuer is the test's CA). */
  private async health(): Promise<{ health?: string }> {
    const { tls } = this.options;
    if (tls === undefined) return (await fetch(`${this.endpoint}/health`)).json() as { health?: string };
    const client =
      tls.client === undefined
        ? {}
        : { cert: readFileSync(tls.client.certFile), key: readFileSync(tls.client.keyFile) };
    return new Promise((resolve, reject) => {
      const req = request(`${this.endpoint}/health`, { rejectUnauthorized: false, ...client }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve(JSON.parse(text) as { health?: string }));
      });
      req.on('error', reject);
      req.end();
    });
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
export async function startEtcd(options: EtcdOptions = {}): Promise<EtcdServer> {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const dir = await tempDir('shardherd-etcd');
  const name = `etcd-${process.pid}-${++counter}`;
  const server = new EtcdServer(name, clientPort, peerPort, join(dir, 'data'), options);
  await server.start();
  return server;
}
