// The package as a VM user installs it: `npm pack` (which compiles src/ into dist/), the tarball
// installed into a prefix of its own, and that installation's `shardherd` running compiled
// JavaScript: --help, the agent of a one-member Citus coordinator group (which finds the stand-in
// SQL inside the package), and `shardherd list` against that running cluster.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import {
  runCommand,
  startCluster,
  tempDir,
  useHarness,
  waitFor,
  waitForLeader,
  type CommandRun,
} from '../../harness/index.ts';

useHarness();

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CommandRun> {
  return runCommand(cmd, args, { ...opts, timeoutMs: 180_000 });
}

function shown(r: CommandRun): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

describe('the packed and installed package', () => {
  let tarball = '';
  let prefix = '';
  let shardherd = '';

  before(async () => {
    const dir = await tempDir('shardherd-pack');
    const pack = await run('npm', ['pack', '--silent', '--pack-destination', dir]);
    assert.equal(pack.code, 0, shown(pack));
    tarball = join(dir, pack.stdout.trim().split('\n').at(-1)!);
    prefix = join(dir, 'prefix');
    // The dependencies come from npm's cache when `npm ci` put them there.
    const install = await run('npm', [
      'install',
      '--global',
      '--prefix',
      prefix,
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      tarball,
    ]);
    assert.equal(install.code, 0, shown(install));
    shardherd = join(prefix, 'bin', 'shardherd');
  });

  test('the tarball holds the compiled program, its SQL and no sources', async () => {
    const list = await run('tar', ['-tzf', tarball]);
    assert.equal(list.code, 0, shown(list));
    const files = list.stdout.split('\n').filter(Boolean);
    for (const file of ['bin/shardherd.js', 'dist/cli/main.js', 'dist/agent/agent.js', 'sql/citus-compat.sql']) {
      assert.ok(files.includes(`package/${file}`), `${file} is in the tarball`);
    }
    assert.deepEqual(
      files.filter((f) => /^package\/(src|test|bench|scripts)\//.test(f) || f.endsWith('.ts')),
      [],
      'no TypeScript in the tarball',
    );
    const installed = join(prefix, 'lib', 'node_modules', 'shardherd');
    assert.ok(existsSync(join(installed, 'dist', 'cli', 'main.js')));
    assert.ok(!existsSync(join(installed, 'src')), 'no sources installed');
    assert.ok(!existsSync(join(installed, 'node_modules', 'tsx')), 'no TypeScript loader installed');
    assert.ok(!existsSync(join(installed, 'node_modules', 'esbuild')), 'no esbuild installed');
  });

  test('the installed shardherd --help lists the commands', async () => {
    const r = await run(shardherd, ['--help']);
    assert.equal(r.code, 0, shown(r));
    assert.match(r.stdout, /^Usage: shardherd /m);
    for (const command of ['agent', 'validate-config', 'list', 'switchover', 'edit-config']) {
      assert.match(r.stdout, new RegExp(`^ {2}${command}\\b`, 'm'), command);
    }
  });

  test('the installed agent runs a coordinator group and the installed list shows it', async () => {
    const cluster = await startCluster({
      groups: [0],
      membersPerGroup: 1,
      logLevel: 'info',
      agentCommand: (config) => [shardherd, 'agent', '-c', config],
    });
    cluster.startAll();
    const leader = await waitForLeader(cluster, 0, { timeout: 90_000 });
    // Compiled JavaScript only: node running the installed entry point, and no esbuild beside it.
    const agentPid = leader.agent!.pid;
    const cmdline = readFileSync(`/proc/${agentPid}/cmdline`, 'utf8').split('\0');
    assert.ok(cmdline.includes(shardherd), `the agent runs ${shardherd}: ${cmdline.join(' ')}`);
    assert.doesNotMatch(cmdline.join(' '), /tsx/);
    const names = leader.agent!.treePids().map((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim());
    assert.ok(!names.includes('esbuild'), `no esbuild among the agent's processes: ${names.join(', ')}`);

    // Without Citus on this machine the coordinator gets the stand-in, read from the package's sql/.
    await waitFor(
      async () => {
        const r = await leader
          .query("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'citus_compat'", [], { database: 'citus' })
          .catch(() => null);
        return r !== null && r.rowCount === 1;
      },
      { timeout: 30_000, message: "the installed agent put the package's citus-compat.sql into the coordinator" },
    );

    const ctl = join(cluster.dir, 'ctl.yml');
    const yaml = `scope: ${cluster.scope}\netcd3:\n  hosts: 127.0.0.1:${cluster.etcd.clientPort}\ncitus:\n  group: 0\n`;
    await writeFile(ctl, `${yaml}  database: citus\n`);
    const list = await run(shardherd, ['list', '-c', ctl, '-f', 'json']);
    assert.equal(list.code, 0, shown(list));
    const rows = JSON.parse(list.stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(
      rows.map((row) => [row.Group, row.Member, row.Role, row.State]),
      [[0, leader.name, 'Leader', 'running']],
    );
    await cluster.stopAll();
  });
});
