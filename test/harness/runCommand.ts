// One command run to its end, by default from the repository root, as a user runs it: its exit
// code and output, never a throw. SHARDHERD_CONFIG and PATRONICTL_CONFIG_FILE are blanked, so no
// configuration file of the machine is read by accident.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface CommandRun {
  /** The exit code; -1 when it could not start, was killed or ran past `timeoutMs` (stderr then says why). */
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** The whole environment instead: nothing of this process's. */
  onlyEnv?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to its stdin, which is then closed. */
  input?: string;
  timeoutMs?: number;
}

export function runCommand(cmd: string, args: string[], opts: RunOptions = {}): Promise<CommandRun> {
  const env = opts.onlyEnv ?? { ...process.env, SHARDHERD_CONFIG: '', PATRONICTL_CONFIG_FILE: '', ...opts.env };
  return new Promise((done) => {
    const child = execFile(
      cmd,
      args,
      { cwd: opts.cwd ?? REPO, env, timeout: opts.timeoutMs ?? 120_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        done({ code, stdout, stderr: code === -1 && err !== null ? `${String(err)}\n${stderr}` : stderr });
      },
    );
    child.stdin?.end(opts.input ?? '');
  });
}
