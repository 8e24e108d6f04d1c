// Running the command line as a user does: `shardherd` from the repository's sources and Debian's
// patronictl 3.0.2, with a configuration that names only the cluster and etcd; and the running
// Citus cluster the CLI tests share.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Dcs } from '../../../src/dcs/dcs.ts';
import type { GroupView } from '../../../src/dcs/types.ts';
import { groupOf } from '../../../src/dcs/view.ts';
import {
  onCleanup,
  runCommand,
  startCluster,
  startPrimaryChecker,
  tempDir,
  waitForLeader,
  waitForReplicas,
  type CommandRun,
  type PrimaryChecker,
  type StartClusterOptions,
  type TestCluster,
} from '../../harness/index.ts';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const PATRONICTL = '/usr/bin/patronictl';

export type Run = CommandRun;

/** Runs a command from the repository root; `input` is written to its stdin (then closed). */
export function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return runCommand(cmd, args, opts);
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

/** A running Citus cluster, its ctl configuration and an etcd client of the test; set once `before` has run. */
export class CliCluster {
  cluster!: TestCluster;
  /** The path of a configuration naming the cluster (ctlConfigFor). */
  ctl!: string;
  /** An etcd client of the test on the cluster's keys (group 0), closed at cleanup. */
  dcs!: Dcs;

  /** One group's keys as the etcd layer reads them. */
  async groupView(group: number): Promise<GroupView> {
    return groupOf(await this.dcs.loadCluster({ allGroups: true }), group);
  }
}

/**
 * Before the file's tests: starts the cluster under the two-primaries checker and waits for a leader
 * and streaming replicas in every group. After them: stops every agent and asserts the checker never
 * saw two writable primaries at once.
 */
export function useCliCluster(opts: StartClusterOptions & { groups: number[] }): CliCluster {
  const cli = new CliCluster();
  let checker: PrimaryChecker | undefined;
  before(async () => {
    cli.cluster = await startCluster(opts);
    checker = startPrimaryChecker(cli.cluster);
    cli.cluster.startAll();
    for (const group of opts.groups) {
      await waitForLeader(cli.cluster, group, { timeout: 90_000 });
      await waitForReplicas(cli.cluster, group, { timeout: 90_000 });
    }
    cli.ctl = await ctlConfigFor(cli.cluster);
    const dcs = new Dcs({
      hosts: [`127.0.0.1:${cli.cluster.etcd.clientPort}`],
      namespace: 'service',
      scope: cli.cluster.scope,
      group: 0,
      retryTimeout: 10,
      ttl: 30,
    });
    cli.dcs = dcs;
    onCleanup('etcd client of the test', () => dcs.close());
  });
  after(async () => {
    await cli.cluster?.stopAll();
    const report = await checker?.stop();
    assert.deepEqual(report?.violations ?? [], [], 'never two writable primaries at once');
  });
  return cli;
}
