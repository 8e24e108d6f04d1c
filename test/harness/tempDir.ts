// Temporary directories for tests, usable by the unprivileged user and removed at cleanup.

import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from './cleanup.ts';
import { unprivilegedUser } from './user.ts';

/** A fresh directory under os.tmpdir(), mode 0755, owned by the unprivileged user if any. */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), /[-_.]$/.test(prefix) ? prefix : `${prefix}-`));
  onCleanup(`remove ${dir}`, () => rm(dir, { recursive: true, force: true }), {
    phase: 'files',
    runSync: () => rmSync(dir, { recursive: true, force: true }),
  });
  const user = unprivilegedUser();
  if (user !== null) await chown(dir, user.uid, user.gid);
  // mkdtemp creates 0700; others (e.g. root reading logs) need to look inside.
  await chmod(dir, 0o755);
  return dir;
}
