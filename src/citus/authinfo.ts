// The superuser's row in pg_dist_authinfo (nodeid 0: every node), which Citus uses to connect
// between nodes: written at bootstrap, kept equal to the configured password by a group primary.
import { quoteConnValue } from '../postgres/connInfo.ts';
import { queryAs, type Queryable } from './metadataStore.ts';

/** Citus opens connections between nodes as the current user; nodeid 0 means "every node". */
export const UPSERT_AUTHINFO_SQL = `INSERT INTO pg_catalog.pg_dist_authinfo (nodeid, rolename, authinfo)
  VALUES (0, pg_catalog.current_user(), $1)
  ON CONFLICT (nodeid, rolename) DO UPDATE SET authinfo = EXCLUDED.authinfo`;
const READ_AUTHINFO_SQL = `SELECT authinfo FROM pg_catalog.pg_dist_authinfo
  WHERE nodeid = 0 AND rolename = pg_catalog.current_user()`;
// Only the row as it was read: one written meanwhile by someone else stays.
const DELETE_AUTHINFO_SQL = `DELETE FROM pg_catalog.pg_dist_authinfo
  WHERE nodeid = 0 AND rolename = pg_catalog.current_user() AND authinfo = $1`;

/** The authinfo Shardherd writes for a password. */
export function authinfoFor(password: string): string {
  return `password=${quoteConnValue(password)}`;
}

/** A row of the shape authinfoFor() writes: the password alone, nothing an operator added. */
const OWN_ROW = /^password=(?:[^\s'\\]+|'(?:[^'\\]|\\.)*')$/;

export type AuthinfoAction =
  | { kind: 'upsert'; authinfo: string; reason: string }
  | { kind: 'delete'; authinfo: string; reason: string }
  | { kind: 'none' };

/**
 * What the row needs, given the configured superuser password and the row's authinfo (null: no
 * row). Without a password only a row of our own shape goes: certificates or other settings an
 * operator wrote there are not ours to remove.
 */
export function authinfoAction(password: string | undefined, row: string | null): AuthinfoAction {
  if (password !== undefined) {
    const authinfo = authinfoFor(password);
    if (row === authinfo) return { kind: 'none' };
    const reason = row === null ? 'no row for the superuser' : 'the superuser password changed';
    return { kind: 'upsert', authinfo, reason };
  }
  if (row === null || !OWN_ROW.test(row)) return { kind: 'none' };
  return { kind: 'delete', authinfo: row, reason: 'the superuser has no password configured' };
}

/** Reads the row, then upserts or deletes it as authinfoAction() says; returns what was done. */
export async function keepAuthinfo(client: Queryable, password: string | undefined): Promise<AuthinfoAction> {
  const found = await queryAs(client, 'read pg_dist_authinfo', READ_AUTHINFO_SQL);
  const row = found.rows.length === 0 ? null : String(found.rows[0].authinfo);
  const action = authinfoAction(password, row);
  if (action.kind === 'upsert') {
    await queryAs(client, 'upsert pg_dist_authinfo', UPSERT_AUTHINFO_SQL, [action.authinfo]);
  }
  if (action.kind === 'delete') {
    await queryAs(client, 'delete pg_dist_authinfo', DELETE_AUTHINFO_SQL, [action.authinfo]);
  }
  return action;
}
