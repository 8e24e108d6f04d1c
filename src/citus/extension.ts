// Puts Citus into a group primary's citus.database, or the SQL stand-in when no Citus is
// installed, and renders the server settings Citus needs (docs/design.md, "Bootstrap of a group
// primary" and "The Citus stand-in").

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { PostgresError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { queryAs } from './metadataStore.ts';

/** What `ensureCitus` found or installed; `version` is Citus's extversion or the stand-in's. */
export type CitusInstall = { kind: 'citus'; version: string } | { kind: 'stand-in'; version: string };

/** The stand-in script, shipped with the package next to `src/`. */
export const COMPAT_SQL_PATH = fileURLToPath(new URL('../../sql/citus-compat.sql', import.meta.url));

/**
 * Makes the Citus metadata API available in the connected database: `CREATE EXTENSION citus`
 * when the server has Citus, otherwise (re)installs the stand-in, which is idempotent. Needs a
 * superuser connection that is not inside a transaction (the script brings its own).
 */
export async function ensureCitus(client: pg.Client | pg.PoolClient, opts: { logger: Logger }): Promise<CitusInstall> {
  const probe = await queryAs(
    client,
    'probe citus',
    `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'citus') AS available,
            EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'citus_compat') AS stand_in`,
  );
  const { available, stand_in: standIn } = probe.rows[0] as { available: boolean; stand_in: boolean };

  if (available) {
    if (standIn) {
      // The stand-in's pg_catalog objects carry Citus's names; CREATE EXTENSION would collide.
      throw new PostgresError(
        'CREATE EXTENSION citus',
        'this database holds the Citus stand-in (schema citus_compat) but the server now has Citus; ' +
          'recreate the database or drop the stand-in before using real Citus',
      );
    }
    await queryAs(client, 'CREATE EXTENSION citus', 'CREATE EXTENSION IF NOT EXISTS citus');
    const version = await queryAs(
      client,
      'CREATE EXTENSION citus',
      `SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'citus'`,
    );
    return { kind: 'citus', version: String(version.rows[0]?.extversion) };
  }

  const script = await readFile(COMPAT_SQL_PATH, 'utf8');
  await queryAs(client, 'install Citus stand-in', script);
  const version = await queryAs(client, 'install Citus stand-in', 'SELECT citus_compat.version() AS version');
  const installed: CitusInstall = { kind: 'stand-in', version: String(version.rows[0]?.version) };
  opts.logger.warn(
    { action: 'citus-stand-in', standInVersion: installed.version, script: COMPAT_SQL_PATH },
    'CITUS IS NOT INSTALLED on this server: using the SQL stand-in for the metadata API only ' +
      '(pg_dist_node and friends, hash-distributed tables on integer keys, block-writes shard moves and the ' +
      'rebalancer, all through dblink). Install Citus for real use.',
  );
  return installed;
}

export interface CitusSettingsOptions {
  /** Whether the server has Citus (`pg_available_extensions` lists it). */
  citusAvailable: boolean;
  /** How this node reaches itself; Citus's `citus.local_hostname`. */
  localHostname: string;
  maxConnections: number;
  /** The configured `shared_preload_libraries`, kept (after citus, which must come first). */
  sharedPreloadLibraries?: string;
  /** The configured `max_prepared_transactions`; raised to 2 × max_connections when lower. */
  maxPreparedTransactions?: number;
}

/**
 * The server settings of a Citus group member (docs/design.md, "Bootstrap of a group primary").
 *
 * `citus.local_hostname` is set with and without Citus: PostgreSQL accepts a dotted name that
 * no loaded library has claimed as a placeholder setting, so the stand-in server starts with
 * it, and the stand-in reads it for the connection to itself that `force => true` uses, as
 * Citus does. `citus` itself goes into `shared_preload_libraries` only when installed: listing
 * a missing library stops the server from starting.
 */
export function citusSettings(opts: CitusSettingsOptions): Record<string, string> {
  const others = (opts.sharedPreloadLibraries ?? '')
    .split(',')
    .map((lib) => lib.trim())
    .filter((lib) => lib !== '' && lib !== 'citus');
  const libraries = opts.citusAvailable ? ['citus', ...others] : others;
  const preparedTransactions = Math.max(opts.maxPreparedTransactions ?? 0, 2 * opts.maxConnections);
  return {
    shared_preload_libraries: libraries.join(','),
    // Citus moves and splits shards with logical replication.
    wal_level: 'logical',
    // Citus commits multi-node writes with two-phase commit.
    max_prepared_transactions: String(preparedTransactions),
    'citus.local_hostname': opts.localHostname,
  };
}
