// A real PgBouncer (Debian's) beside a test member's PostgreSQL, as users run one in front of
// every Citus node: TLS towards clients (Citus connects with sslmode=require), session pooling,
// the cluster's superuser in its auth file, and its admin console for SHOW STATS.

import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { waitFor } from './poll.ts';
import { spawnManaged, type ManagedProcess } from './processes.ts';
import { unprivilegedUser } from './user.ts';

export const PGBOUNCER_BIN = '/usr/sbin/pgbouncer';

export interface PgBouncerOptions {
  name: string;
  /** Its own directory: ini, auth file, certificate, unix socket. */
  dir: string;
  listenPort: number;
  /** The PostgreSQL it forwards to, on 127.0.0.1. */
  serverPort: number;
  user: string;
  password: string;
}

/** One statistics row of `SHOW STATS` for a database. */
export interface PgBouncerStats {
  database: string;
  /** Transactions pooled since start (`total_xact_count`). */
  transactions: number;
}

export class TestPgBouncer {
  #process: ManagedProcess | undefined;

  constructor(readonly opts: PgBouncerOptions) {}

  get port(): number {
    return this.opts.listenPort;
  }

  get running(): boolean {
    return this.#process?.running === true;
  }

  /** Writes its files (once) and starts it; resolves once it accepts connections. */
  async start(): Promise<void> {
    if (this.running) return;
    const ini = this.#writeFiles();
    this.#process = spawnManaged(PGBOUNCER_BIN, [ini], {
      name: `pgbouncer ${this.opts.name}`,
      asUnprivileged: true,
      cwd: this.opts.dir,
      logFile: join(this.opts.dir, 'pgbouncer.log'),
    });
    await waitFor(async () => (await this.#tryAdmin('SHOW VERSION')) !== null, {
      timeout: 15_000,
      interval: 50,
      message: `pgbouncer ${this.opts.name} accepts connections on ${this.opts.listenPort}`,
    });
  }

  /** SIGKILL (part of a node death). */
  async kill(): Promise<void> {
    const p = this.#process;
    if (p === undefined || !p.running) return;
    p.kill('SIGKILL', 'tree');
    await p.exited;
  }

  /** Transactions per database from the admin console's SHOW STATS. */
  async stats(): Promise<PgBouncerStats[]> {
    const rows = await this.#tryAdmin('SHOW STATS');
    if (rows === null) throw new Error(`pgbouncer ${this.opts.name}: the admin console does not answer`);
    return rows.map((r) => ({ database: String(r.database), transactions: Number(r.total_xact_count) }));
  }

  async #tryAdmin(sql: string): Promise<Record<string, unknown>[] | null> {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: this.opts.listenPort,
      user: this.opts.user,
      password: this.opts.password,
      database: 'pgbouncer',
      connectionTimeoutMillis: 2000,
    });
    client.on('error', () => {});
    try {
      await client.connect();
      // The admin console speaks the simple query protocol only: no parameters.
      return (await client.query(sql)).rows as Record<string, unknown>[];
    } catch {
      return null;
    } finally {
      await client.end().catch(() => {});
    }
  }

  #writeFiles(): string {
    const { dir, listenPort, serverPort, user, password } = this.opts;
    const ini = join(dir, 'pgbouncer.ini');
    if (existsSync(ini)) return ini;
    mkdirSync(dir, { recursive: true });
    const key = join(dir, 'server.key');
    const crt = join(dir, 'server.crt');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '30',
        '-subj',
        '/CN=127.0.0.1',
        '-keyout',
        key,
        '-out',
        crt,
      ],
      {
        stdio: 'ignore',
      },
    );
    writeFileSync(join(dir, 'userlist.txt'), `"${user}" "${password}"\n`, { mode: 0o600 });
    writeFileSync(
      ini,
      [
        '[databases]',
        `* = host=127.0.0.1 port=${serverPort}`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${listenPort}`,
        `unix_socket_dir = ${dir}`,
        'auth_type = md5',
        `auth_file = ${join(dir, 'userlist.txt')}`,
        `admin_users = ${user}`,
        `stats_users = ${user}`,
        'pool_mode = session',
        'default_pool_size = 20',
        'max_client_conn = 200',
        'ignore_startup_parameters = extra_float_digits,options',
        'client_tls_sslmode = allow',
        `client_tls_key_file = ${key}`,
        `client_tls_cert_file = ${crt}`,
        `pidfile = ${join(dir, 'pgbouncer.pid')}`,
        '',
      ].join('\n'),
    );
    const owner = unprivilegedUser();
    if (owner !== null) {
      for (const f of [dir, ini, key, crt, join(dir, 'userlist.txt')]) chownSync(f, owner.uid, owner.gid);
    }
    return ini;
  }
}
