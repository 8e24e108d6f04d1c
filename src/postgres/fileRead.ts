// Two questions about a file that the data directory's managed configuration and the managed
// PgBouncer's files both ask before writing: is it there, and what does it hold now.
import { access, readFile } from 'node:fs/promises';

/** True when `path` exists (any kind of file) and can be reached. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** The file's text, or null when it cannot be read (absent, most often). */
export async function readTextOrNull(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return null;
  }
}
