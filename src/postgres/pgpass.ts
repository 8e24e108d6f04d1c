// The pgpass file that replication and rewind tools read their passwords from (libpq format).
import { open, rename } from 'node:fs/promises';
import type { UserAuth } from '../config/types.ts';

export interface PgpassEntry {
  /** '*' matches any host, port or database. */
  host: string;
  port: number | '*';
  database: string;
  user: UserAuth;
}

/** Escapes ':' and '\' as libpq requires inside a pgpass field. */
export function escapePgpassField(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
}

/** One line per entry with a password; entries without one are skipped (nothing to look up). */
export function renderPgpass(entries: PgpassEntry[]): string {
  return entries
    .filter((e) => e.user.password !== undefined)
    .map((e) =>
      [e.host, String(e.port), e.database, e.user.username, e.user.password ?? '']
        .map((field, i) => (field === '*' && i < 3 ? '*' : escapePgpassField(field)))
        .join(':'),
    )
    .map((line) => line + '\n')
    .join('');
}

/** Writes the file atomically with mode 0600 (libpq ignores a pgpass readable by others). */
export async function writePgpass(path: string, entries: PgpassEntry[]): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(renderPgpass(entries));
    await handle.chmod(0o600);
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}
