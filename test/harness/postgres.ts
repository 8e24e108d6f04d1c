// A standalone PostgreSQL 15 for tests: initdb with trust auth, run as the unprivileged user
// on a free loopback port, with its unix socket in its own temp dir.

import { existsSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import type { QueryResult, QueryResultRow } from 'pg';
import { onCleanup } from './cleanup.ts';
import { waitFor } from './poll.ts';
import { freePort } from './ports.ts';
import { spawnManaged, type ManagedProcess } from './processes.ts';
import { tempDir } from './tempDir.ts';

export const DEFAULT_PG_BIN_DIR = '/usr/lib/postgresql/15/bin';

/** The PostgreSQL bin dir: $SHARDHERD_PG_BIN_DIR if set, otherwise PostgreSQL 15's Debian path. */
export function resolvePgBinDir(): string {
  const dir = process.env.SHARDHERD_PG_BIN_DIR ?? DEFAULT_PG_BIN_DIR;
  if (!existsSync(join(dir, 'postgres'))) throw new Error(`no PostgreSQL binaries in ${dir}`);
  return dir;
}

export interface CreatePostgresOptions {
  /** Written to postgresql.conf after the harness defaults, so they win. */
  parameters?: Record<string, string>;
  /** Extra initdb arguments, after the defaults (trust auth, superuser postgres, UTF8). */
  initdbArgs?: string[];
}

let counter = 0;

export class PgServer {
  readonly name: string;
  readonly host = '127.0.0.1';
  readonly port: number;
  readonly dataDir: string;
  /** The unix socket directory (the server's temp dir, parent of dataDir). */
  readonly socketDir: string;
  readonly binDir: string;
  #process: ManagedProcess | undefined;
  #pool: pg.Pool | undefined;
  #forgetPool: (() => void) | undefined;

  constructor(name: string, port: number, dir: string, binDir: string) {
    this.name = name;
    this.port = port;
    this.socketDir = dir;
    this.dataDir = join(dir, 'data');
    this.binDir = binDir;
  }

  /** The running postmaster, if any. */
  get process(): ManagedProcess | undefined {
    return this.#process;
  }

  /** A URL connecting as superuser postgres over TCP. */
  connectionString(db = 'postgres'): string {
    return `postgresql://postgres@${this.host}:${this.port}/${encodeURIComponent(db)}`;
  }

  /** Runs one statement on database postgres through a small pool, as superuser postgres. */
  query<R extends QueryResultRow = QueryResultRow>(sql: string, params?: unknown[]): Promise<QueryResult<R>> {
    return this.#getPool().query<R>(sql, params);
  }

  /** Starts the postmaster (again, same data) and waits until it accepts connections. */
  async start(): Promise<void> {
    if (this.#process?.running === true) throw new Error(`${this.name} is already running`);
    const proc = spawnManaged(join(this.binDir, 'postgres'), ['-D', this.dataDir], {
      name: this.name,
      asUnprivileged: true,
      // SIGINT is PostgreSQL's fast shutdown; SIGTERM (smart) would wait for every client.
      stopSignal: 'SIGINT',
    });
    this.#process = proc;
    await waitFor(
      async () => {
        if (!proc.running) throw new Error(`postgres exited: ${proc.output().slice(-2000)}`);
        const client = new pg.Client({ connectionString: this.connectionString() });
        client.on('error', () => {});
        try {
          await client.connect();
          await client.query('select 1');
          return true;
        } finally {
          await client.end().catch(() => {});
        }
      },
      { timeout: 30_000, interval: 100, message: `${this.name} on port ${this.port} accepts connections` },
    );
  }

  /** Fast shutdown; start() brings the same cluster back. */
  async stop(): Promise<void> {
    await this.#endPool();
    await this.#process?.stop();
  }

  /** SIGKILL to the postmaster and its backends (a crash); start() runs crash recovery. */
  async kill(): Promise<void> {
    await this.#endPool();
    const proc = this.#process;
    if (proc === undefined) return;
    proc.kill('SIGKILL');
    await proc.exited;
  }

  /** The server log of the current run (stderr: logging_collector is off). */
  output(): string {
    return this.#process?.output() ?? '';
  }

  #getPool(): pg.Pool {
    if (this.#pool === undefined) {
      const pool = new pg.Pool({ connectionString: this.connectionString(), max: 3 });
      // Idle clients get errors when the server stops; without a listener they crash the run.
      pool.on('error', () => {});
      this.#pool = pool;
      this.#forgetPool = onCleanup(`close pool of ${this.name}`, () => this.#endPool());
    }
    return this.#pool;
  }

  async #endPool(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    this.#forgetPool?.();
    this.#forgetPool = undefined;
    await pool?.end();
  }
}

function quoteConfValue(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

/** initdb and start a fresh PostgreSQL; cleanup() stops it and removes its files. */
export async function createPostgres(opts: CreatePostgresOptions = {}): Promise<PgServer> {
  const binDir = resolvePgBinDir();
  const dir = await tempDir('shardherd-pg');
  const server = new PgServer(`postgres-${process.pid}-${++counter}`, await freePort(), dir, binDir);

  const initdb = spawnManaged(
    join(binDir, 'initdb'),
    [
      '-D',
      server.dataDir,
      '--username=postgres',
      '--auth=trust',
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync',
      ...(opts.initdbArgs ?? []),
    ],
    { name: `initdb ${server.name}`, asUnprivileged: true },
  );
  const status = await initdb.exited;
  if (status.code !== 0) throw new Error(`initdb failed (${JSON.stringify(status)}): ${initdb.output()}`);

  const parameters: Record<string, string> = {
    listen_addresses: server.host,
    port: String(server.port),
    unix_socket_directories: server.socketDir,
    // Only an operating system crash loses data with fsync off, and tests do not survive one.
    fsync: 'off',
    ...opts.parameters,
  };
  const lines = Object.entries(parameters).map(([key, value]) => `${key} = ${quoteConfValue(value)}`);
  await appendFile(join(server.dataDir, 'postgresql.conf'), `\n# test harness\n${lines.join('\n')}\n`);

  await server.start();
  return server;
}
