// Whether the running PostgreSQL has a setting changed in its files that only a restart applies
// (pg_settings.pending_restart), published as the member's `pending_restart`.
import type { PostgresNode } from './node.ts';

/**
 * Settings that only matter while a server recovers. After a promotion the agent renders the
 * configuration of a primary, which drops them, and PostgreSQL reports them as pending a
 * restart; a primary would never use them, so a restart would change nothing.
 */
export const RECOVERY_ONLY_SETTINGS: readonly string[] = [
  'recovery_target',
  'recovery_target_action',
  'recovery_target_inclusive',
  'recovery_target_lsn',
  'recovery_target_name',
  'recovery_target_time',
  'recovery_target_timeline',
  'recovery_target_xid',
];

/** The settings whose change waits for a restart, leaving out those a promotion made moot. */
export function pendingRestartSettings(pending: readonly string[], inRecovery: boolean): string[] {
  return pending.filter((name) => inRecovery || !RECOVERY_ONLY_SETTINGS.includes(name));
}

export async function readPendingRestart(node: PostgresNode): Promise<boolean> {
  const result = await node.query<{ name: string; in_recovery: boolean }>(
    'SELECT name, pg_catalog.pg_is_in_recovery() AS in_recovery FROM pg_catalog.pg_settings WHERE pending_restart',
  );
  const names = result.rows.map((r) => r.name);
  return pendingRestartSettings(names, result.rows[0]?.in_recovery === true).length > 0;
}
