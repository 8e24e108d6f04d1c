// Puts the managed PgBouncer's files in place: its directory, the ini and auth file (written only
// when their content changes, so an unchanged reload is no reload), and a self-signed certificate
// generated once when none is configured.
import { execFile } from 'node:child_process';
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { PoolerError, errorText } from '../errors.ts';
import { pathExists, readTextOrNull } from '../postgres/fileRead.ts';
import { renderAuthFile, renderPgbouncerIni, type PgbouncerSettings } from './render.ts';

const run = promisify(execFile);
const OPENSSL_TIMEOUT_MS = 60_000;

/** Writes `content` through a temporary file and a rename; returns false when it was already there. */
async function writeIfChanged(file: string, content: string, mode: number): Promise<boolean> {
  if ((await readTextOrNull(file)) === content) {
    await chmod(file, mode);
    return false;
  }
  const temp = `${file}.tmp`;
  await writeFile(temp, content, { mode });
  await chmod(temp, mode);
  await rename(temp, file);
  return true;
}

/**
 * Debian's `openssl req -x509` once, for the CN the pooler is reached at; kept across restarts so
 * clients that pinned it keep working. A configured pair is PgBouncer's to read, not ours to make.
 */
export async function ensureCertificate(settings: PgbouncerSettings): Promise<boolean> {
  const { certFile, keyFile } = settings.paths;
  if (!settings.generateCertificate || ((await pathExists(certFile)) && (await pathExists(keyFile)))) return false;
  await mkdir(settings.paths.dir, { recursive: true, mode: 0o700 });
  const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3650'];
  args.push('-subj', `/CN=${settings.listen.host}`, '-keyout', keyFile, '-out', certFile);
  try {
    await run('openssl', args, { timeout: OPENSSL_TIMEOUT_MS });
  } catch (err) {
    // openssl draws its key generation progress on stderr; the reason is the last line.
    const said = (err as { stderr?: string }).stderr?.trim().split('\n').at(-1);
    const detail = said || errorText(err);
    const message = `cannot generate a certificate in ${settings.paths.dir}: ${detail}`;
    throw new PoolerError('openssl', message, { cause: err });
  }
  await chmod(keyFile, 0o600);
  return true;
}

/** Writes the directory, ini and auth file (0600: it holds the superuser's password); true when either changed. */
export async function writePgbouncerFiles(settings: PgbouncerSettings): Promise<boolean> {
  await mkdir(settings.paths.dir, { recursive: true, mode: 0o700 });
  const authChanged = await writeIfChanged(settings.paths.authFile, renderAuthFile(settings.superuser), 0o600);
  const iniChanged = await writeIfChanged(settings.paths.ini, renderPgbouncerIni(settings), 0o600);
  return authChanged || iniChanged;
}
