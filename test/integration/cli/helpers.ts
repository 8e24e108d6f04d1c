// Running the command line as a user does: `shardherd` from the repository's sources and Debian's
// patronictl 3.0.2, with a configuration that names only the cluster and etcd.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, type TestCluster } from '../../harness/index.ts';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const PATRONICTL = '/usr/bin/patronictl';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command from the repository root; `input` is written to its stdin (then closed). */
export function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((done) => {
    const env = { ...process.env, SHARDHERD_CONFIG: '', PATRONICTL_CONFIG_FILE: '' };
    const child = execFile(cmd, args, { cwd: REPO, env, timeout: opts.timeoutMs ?? 120_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      done({ code, stdout, stderr });
    });
    child.stdin?.end(opts.input ?? '');
  });
}

export function shardherd(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], opts);
}

/** A configuration with scope, namespace, etcd and (for a Citus cluster) `citus`, as an operator keeps one. */
export async function ctlConfigFor(cluster: TestCluster): Promise<string> {
  const path = join(await tempDir('cli-ctl-'), 'ctl.yml');
  const lines = [
    `scope: ${cluster.scope}`,
    'namespace: /service/',
    'etcd3:',
    `  hosts: 127.0.0.1:${cluster.etcd.clientPort}`,
    ...(cluster.citus ? ['citus:', '  group: 0', '  database: citus'] : []),
    '',
  ];
  await writeFile(path, lines.join('\n'));
  return path;
}

/** `Run` as one text for assertion messages. */
export function shown(r: Run): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}
