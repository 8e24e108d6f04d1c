// The agent refuses to run as root: PostgreSQL itself refuses, and a root agent would create
// data directories and files that the database user cannot use.
import { PostgresError } from '../errors.ts';

/** Throws a PostgresError when the effective user is root; call once, before any other work. */
export function assertNotRoot(uid: number | undefined = process.geteuid?.()): void {
  if (uid === 0) {
    throw new PostgresError(
      'startup',
      'refusing to run as root: PostgreSQL cannot run as root; ' +
        'start shardherd as the database owner (e.g. the postgres user)',
    );
  }
}
