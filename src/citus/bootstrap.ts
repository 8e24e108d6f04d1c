// What a freshly initialised Citus group primary needs before it serves: the Citus database, the
// extension (or the stand-in), authinfo for the superuser, and on the coordinator its own address
// in pg_dist_node (docs/design.md, "Bootstrap of a group primary").
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { CitusConfig, HostPort, UserAuth } from '../config/types.ts';
import type { Logger } from '../log.ts';
import { authinfoFor, UPSERT_AUTHINFO_SQL } from './authinfo.ts';
import { ensureCitus, type CitusInstall } from './extension.ts';
import { COORDINATOR_GROUP } from './types.ts';

/**
 * Whether the server's installation has the Citus extension: its control file next to the
 * other extensions (Debian's /usr/share/postgresql/<major>/extension, or <prefix>/share/...).
 * Decided before the server first starts, because `citus` in shared_preload_libraries must
 * only be set when the library exists.
 */
export function citusInstalled(binDir: string, major: string): boolean {
  const candidates = [
    join('/usr/share/postgresql', major, 'extension', 'citus.control'),
    join(binDir, '..', 'share', 'extension', 'citus.control'),
    join(binDir, '..', 'share', 'postgresql', 'extension', 'citus.control'),
  ];
  return candidates.some((path) => existsSync(path));
}

export interface CitusBootstrapOptions {
  citus: CitusConfig;
  superuser: UserAuth;
  /** This node's address as the other nodes reach it (the coordinator registers it). */
  connectAddress: HostPort;
  connect: (database: string) => Promise<pg.Client>;
  logger: Logger;
}

export async function bootstrapCitus(opts: CitusBootstrapOptions): Promise<CitusInstall> {
  const admin = await opts.connect('postgres');
  try {
    const exists = await admin.query('SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1', [opts.citus.database]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(opts.citus.database)}`);
  } finally {
    await admin.end().catch(() => undefined);
  }

  const db = await opts.connect(opts.citus.database);
  try {
    const install = await ensureCitus(db, { logger: opts.logger });
    // Kept equal to the configured password afterwards by the group primary (citusRole.ts).
    const password = opts.superuser.password;
    if (password !== undefined) await db.query(UPSERT_AUTHINFO_SQL, [authinfoFor(password)]);
    if (opts.citus.group === COORDINATOR_GROUP) {
      await db.query("SELECT pg_catalog.citus_set_coordinator_host($1, $2, 'primary', 'default')", [
        opts.connectAddress.host,
        opts.connectAddress.port,
      ]);
    }
    opts.logger.info(
      { action: 'citus-bootstrap', kind: install.kind, version: install.version, group: opts.citus.group },
      'Citus ready',
    );
    return install;
  } finally {
    await db.end().catch(() => undefined);
  }
}
