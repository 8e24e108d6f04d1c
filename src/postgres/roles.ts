// Roles created once, on the freshly initialised primary: the superuser's password, the
// replication role, and a least-privilege rewind role (pg_rewind needs only a few functions).
import { escapeIdentifier, escapeLiteral } from 'pg';
import type { UserAuth } from '../config/types.ts';
import type { Db } from './queries.ts';

export interface BootstrapAuth {
  superuser: UserAuth;
  replication: UserAuth;
  rewind?: UserAuth;
}

/** What pg_rewind calls on its source (PostgreSQL 11+), plus CHECKPOINT through pg_checkpoint (15+). */
const REWIND_GRANTS = [
  'GRANT EXECUTE ON function pg_catalog.pg_ls_dir(text, boolean, boolean) TO %I',
  'GRANT EXECUTE ON function pg_catalog.pg_stat_file(text, boolean) TO %I',
  'GRANT EXECUTE ON function pg_catalog.pg_read_binary_file(text) TO %I',
  'GRANT EXECUTE ON function pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) TO %I',
];

/** Statements that create (or update) a login role idempotently. */
export function roleStatements(user: UserAuth, attributes: string): string[] {
  const name = escapeIdentifier(user.username);
  const options = ['LOGIN', attributes, user.password === undefined ? '' : `PASSWORD ${escapeLiteral(user.password)}`];
  return [
    `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = ${escapeLiteral(user.username)}) ` +
      `THEN CREATE ROLE ${name}; END IF; END $$`,
    `ALTER ROLE ${name} WITH ${options.filter((o) => o !== '').join(' ')}`,
  ];
}

export function bootstrapStatements(auth: BootstrapAuth, serverVersionNum: number): string[] {
  const statements: string[] = [];
  statements.push(...roleStatements(auth.superuser, 'SUPERUSER'));
  statements.push(...roleStatements(auth.replication, 'REPLICATION'));
  const rewind = auth.rewind;
  if (rewind !== undefined && rewind.username !== auth.superuser.username) {
    statements.push(...roleStatements(rewind, ''));
    const name = escapeIdentifier(rewind.username);
    statements.push(...REWIND_GRANTS.map((g) => g.replace('%I', name)));
    if (serverVersionNum >= 150000) statements.push(`GRANT pg_checkpoint TO ${name}`);
  }
  return statements;
}

/** Runs on the new primary right after initdb, as the superuser. */
export async function bootstrapRoles(db: Db, auth: BootstrapAuth): Promise<void> {
  // Keep passwords out of the server log whatever the user's logging settings are.
  await db.query("SET log_statement TO 'none'");
  await db.query('SET log_min_duration_statement TO -1');
  await db.query("SET log_min_error_statement TO 'log'");
  const { rows } = await db.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
  for (const statement of bootstrapStatements(auth, Number(rows[0]!.v))) await db.query(statement);
}
