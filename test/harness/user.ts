// The unprivileged account that database processes run as when tests run as root
// (PostgreSQL refuses to start as root).

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface UnprivilegedUser {
  uid: number;
  gid: number;
  name: string;
  home: string;
}

const FALLBACK_NAME = 'shardherd';

let cached: UnprivilegedUser | null | undefined;

function lookup(name: string): UnprivilegedUser | null {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [user, , uid, gid, , home] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined) {
      return { name, uid: Number(uid), gid: Number(gid), home: home ?? '/' };
    }
  }
  return null;
}

/**
 * `postgres` if that system user exists, otherwise a `shardherd` user created on first use;
 * null when the tests do not run as root (then everything runs as the current user).
 */
export function unprivilegedUser(): UnprivilegedUser | null {
  if (cached !== undefined) return cached;
  if (process.getuid?.() !== 0) {
    cached = null;
    return cached;
  }
  let user = lookup('postgres') ?? lookup(FALLBACK_NAME);
  if (user === null) {
    execFileSync('useradd', ['--system', '--create-home', '--shell', '/bin/sh', FALLBACK_NAME], {
      stdio: 'pipe',
    });
    user = lookup(FALLBACK_NAME);
    if (user === null) throw new Error(`useradd ${FALLBACK_NAME} succeeded but the user is missing`);
  }
  cached = user;
  return cached;
}
