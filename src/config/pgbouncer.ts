// The `pgbouncer` section (Shardherd's own; Patroni has none): the PgBouncer the agent runs beside
// its PostgreSQL, listening on `citus.pooler`. Read with every problem collected, each naming its path.
import path from 'node:path';
import { Findings, join, readInt, readString } from './findings.ts';
import * as K from './keys.ts';
import type { CitusConfig, PgbouncerConfig, PoolMode, PostgresqlConfig } from './types.ts';

/** Debian's pgbouncer package. */
export const DEFAULT_PGBOUNCER_BIN = '/usr/sbin/pgbouncer';
const POOL_MODES: readonly PoolMode[] = ['session', 'transaction', 'statement'];

/** Where the files live when `dir` is not set: beside the data directory, never inside it. */
export function defaultPgbouncerDir(dataDir: string): string {
  return `${path.resolve(dataDir).replace(/\/+$/, '')}.pgbouncer`;
}

/**
 * null: no managed PgBouncer; undefined: invalid (a problem was recorded). `citus` and
 * `postgresql` are the already-read sections, undefined when those were invalid themselves
 * (their problems are recorded; the cross-checks that need them are skipped).
 */
export function readPgbouncer(
  value: unknown,
  citus: CitusConfig | null | undefined,
  postgresql: PostgresqlConfig | undefined,
  f: Findings,
): PgbouncerConfig | null | undefined {
  if (value === undefined || value === null) return null;
  const p = 'pgbouncer';
  const map = K.readSection(value, p, K.PGBOUNCER, f);
  if (!map) return undefined;
  const present = (key: string): boolean => map[key] !== undefined && map[key] !== null;
  let ok = true;

  // citus === undefined: the citus section itself is wrong and already reported.
  if (citus !== undefined && citus?.pooler === undefined) {
    ok = false;
    f.problem(p, 'needs citus.pooler (host:port): the address PgBouncer listens on and other nodes connect to');
  }
  if (postgresql !== undefined && postgresql.authentication.superuser.password === undefined) {
    ok = false;
    f.problem(p, 'needs postgresql.authentication.superuser.password: PgBouncer logs in to PostgreSQL with it');
  }

  const bin = present('bin') ? readString(map.bin, join(p, 'bin'), f, { nonEmpty: true }) : DEFAULT_PGBOUNCER_BIN;
  let pool_mode: PoolMode | undefined = 'session';
  if (present('pool_mode')) {
    const s = readString(map.pool_mode, join(p, 'pool_mode'), f);
    pool_mode = POOL_MODES.find((m) => m === s);
    if (s !== undefined && pool_mode === undefined) {
      f.problem(join(p, 'pool_mode'), `expected one of ${POOL_MODES.join(', ')}, got ${JSON.stringify(s)}`);
    }
  }
  const size = (key: string, dflt: number): number | undefined =>
    present(key) ? readInt(map[key], join(p, key), f, { min: 1 }) : dflt;
  const default_pool_size = size('default_pool_size', 20);
  const max_client_conn = size('max_client_conn', 200);

  let dir: string | undefined;
  if (present('dir')) {
    const s = readString(map.dir, join(p, 'dir'), f, { nonEmpty: true });
    if (s !== undefined) dir = path.resolve(s);
  } else if (postgresql !== undefined) dir = defaultPgbouncerDir(postgresql.data_dir);

  let tls: PgbouncerConfig['tls'];
  if (present('tls')) {
    const tp = join(p, 'tls');
    const tmap = K.readSection(map.tls, tp, K.PGBOUNCER_TLS, f);
    if (!tmap) ok = false;
    else {
      const file = (key: string): string | undefined => {
        if (tmap[key] === undefined || tmap[key] === null) {
          return f.problem(join(tp, key), `required: ${tp}.cert_file and ${tp}.key_file go together`);
        }
        const s = readString(tmap[key], join(tp, key), f, { nonEmpty: true });
        return s === undefined ? undefined : path.resolve(s);
      };
      const cert_file = file('cert_file');
      const key_file = file('key_file');
      if (cert_file !== undefined && key_file !== undefined) tls = { cert_file, key_file };
      else ok = false;
    }
  }

  if (!ok || bin === undefined || pool_mode === undefined || default_pool_size === undefined) return undefined;
  if (max_client_conn === undefined || dir === undefined) return undefined;
  const out: PgbouncerConfig = { bin, pool_mode, default_pool_size, max_client_conn, dir };
  if (tls !== undefined) out.tls = tls;
  return out;
}
