// Reads the coordinator's pg_dist_node and pg_dist_poolinfo rows and runs a plan against them in
// one transaction. Knows nothing of etcd or planning; the same SQL serves Citus and the stand-in.
// queryAs(), one query whose failure names the command it was part of, serves other modules too.
import type pg from 'pg';
import { PostgresError, errorText } from '../errors.ts';
import type { NodeRole, PgDistNodeRow, PoolinfoRow, Statement } from './types.ts';

/** What the planner needs from the coordinator. */
export interface MetadataRows {
  nodes: PgDistNodeRow[];
  poolinfo: PoolinfoRow[];
}

/** The part of a pg client the store uses. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<pg.QueryResult>;
}

/** A statement of a plan failed; the transaction was rolled back (or the connection is gone). */
export class PlanStatementError extends PostgresError {
  /** Position of the failed statement in the plan, from 0. */
  readonly index: number;
  readonly statement: Statement;
  constructor(index: number, statement: Statement, cause: unknown) {
    super(statement.sql, `statement ${index + 1} failed (${statement.why}): ${errorText(cause)}`, { cause });
    this.index = index;
    this.statement = statement;
  }
}

// Enum and name columns come back as text so the rows are plain strings whatever the type's oid.
const NODES_SQL = `SELECT nodeid, groupid, nodename, nodeport, noderack, hasmetadata, isactive,
  noderole::text AS noderole, nodecluster::text AS nodecluster, metadatasynced, shouldhaveshards
  FROM pg_catalog.pg_dist_node ORDER BY nodeid`;
const POOLINFO_SQL = 'SELECT nodeid, poolinfo FROM pg_catalog.pg_dist_poolinfo ORDER BY nodeid';

export async function readMetadata(client: Queryable): Promise<MetadataRows> {
  const nodes = await queryAs(client, 'read pg_dist_node', NODES_SQL);
  const pool = await queryAs(client, 'read pg_dist_node', POOLINFO_SQL);
  return {
    nodes: nodes.rows.map((r) => ({
      nodeid: Number(r.nodeid),
      groupid: Number(r.groupid),
      nodename: String(r.nodename),
      nodeport: Number(r.nodeport),
      noderack: String(r.noderack),
      hasmetadata: Boolean(r.hasmetadata),
      isactive: Boolean(r.isactive),
      noderole: String(r.noderole) as NodeRole,
      nodecluster: String(r.nodecluster),
      metadatasynced: Boolean(r.metadatasynced),
      shouldhaveshards: Boolean(r.shouldhaveshards),
    })),
    poolinfo: pool.rows.map((r) => ({ nodeid: Number(r.nodeid), poolinfo: String(r.poolinfo) })),
  };
}

/**
 * Runs `statements` in one transaction and returns the rows as they are just before COMMIT
 * (new nodeids included), which become the caller's cache; with `readBack: false` it skips that
 * read and returns null (a caller applying many changes in a row reads once, after the last).
 * On any failure the transaction is rolled back and the error thrown: a PlanStatementError for a
 * statement, a PostgresError for BEGIN, the read or COMMIT. `before` is called ahead of each
 * statement (for logging).
 */
export async function applyPlan(
  client: Queryable,
  statements: readonly Statement[],
  before: (statement: Statement, index: number) => void = () => undefined,
  options: { readBack?: boolean } = {},
): Promise<MetadataRows | null> {
  await queryAs(client, 'BEGIN', 'BEGIN');
  try {
    await runStatements(client, statements, before);
    const rows = options.readBack === false ? null : await readMetadata(client);
    await queryAs(client, 'COMMIT', 'COMMIT');
    return rows;
  } catch (err) {
    // A failed ROLLBACK means the connection is gone, and the server rolls back by itself.
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * Runs statements in order in the caller's open transaction (the reconcile's own, or a pause's);
 * throws a PlanStatementError for the first that fails.
 */
export async function runStatements(
  client: Queryable,
  statements: readonly Statement[],
  before: (statement: Statement, index: number) => void = () => undefined,
): Promise<void> {
  for (const [i, s] of statements.entries()) {
    before(s, i);
    try {
      await client.query(s.sql, s.params);
    } catch (err) {
      throw new PlanStatementError(i, s, err);
    }
  }
}

/** Runs `sql`; a failure is thrown as a PostgresError that names `command`. */
export async function queryAs(
  client: Queryable,
  command: string,
  sql: string,
  values?: unknown[],
): Promise<pg.QueryResult> {
  try {
    return await client.query(sql, values);
  } catch (err) {
    throw new PostgresError(command, errorText(err), { cause: err });
  }
}
