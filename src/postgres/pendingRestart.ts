// Whether the running PostgreSQL has a setting changed in its files that only a restart applies
// (pg_settings.pending_restart), published as the member's `pending_restart`.
import type { PostgresNode } from './node.ts';

export async function readPendingRestart(node: PostgresNode): Promise<boolean> {
  const result = await node.query<{ pending: boolean }>('SELECT coalesce(bool_or(pending_restart), false) AS pending FROM pg_catalog.pg_settings');
  return result.rows[0]?.pending === true;
}
