// Issue 5, restart of a worker primary with real agents (3 groups x 2, stand-in Citus): an
// application writing through the coordinator sees no error while `shardherd restart --group 1`
// restarts group 1's primary; the primary keeps its leader key, the coordinator's pause is opened
// by before_demote and ended by after_promote (not by its deadline).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { readLeaderKey, useHarness, waitFor, type TestMember } from '../../harness/index.ts';
import {
  connectWriter,
  finishCitusCluster,
  groupLeader,
  memberAddress,
  setupApp,
  startCitusCluster,
  waitForGroupPrimaries,
  type CitusApp,
  type RunningCitusCluster,
} from './clusterSteps.ts';

useHarness();

const run = promisify(execFile);
const GROUPS = [0, 1, 2];

let running: RunningCitusCluster;
let app: CitusApp;

const leaderOf = (group: number): TestMember => groupLeader(running, group);

before(
  async () => {
    running = await startCitusCluster({ groups: GROUPS });
    await waitForGroupPrimaries(running, GROUPS);
    // The application's table: real Citus distributes it over the registered groups.
    app = await setupApp(running, 1);
  },
  { timeout: 180_000 },
);

after(async () => {
  if (running !== undefined) await finishCitusCluster(running);
});

async function pauseCounters(coordinator: TestMember): Promise<{ committed: number; rolledBack: number }> {
  const res = await fetch(`${coordinator.apiUrl}/citus`, { signal: AbortSignal.timeout(2000) });
  assert.equal(res.status, 200, 'the coordinator leader runs the Citus manager');
  return ((await res.json()) as { pauses: { committed: number; rolledBack: number } }).pauses;
}

test(
  'shardherd restart of a worker primary under routed writes: no client error, every acknowledged row kept, ' +
    'the leader key stays, the pause ends by after_promote',
  { timeout: 180_000 },
  async (t) => {
    const primary = leaderOf(1);
    const coordinator = leaderOf(0);
    const startedAt = (await primary.query<{ t: string }>('select pg_postmaster_start_time()::text as t')).rows[0]!.t;
    const before = await pauseCounters(coordinator);
    const writer = await connectWriter(running, app, 'restart-test-app');
    writer.start();
    await waitFor(() => writer.acked.length >= 20, { timeout: 10_000, message: 'the application writes' });

    const began = performance.now();
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'restart',
        '-c',
        primary.configPath,
        '--group',
        '1',
        primary.name,
        '--force',
      ],
      { timeout: 120_000 },
    );
    const restartMs = performance.now() - began;
    assert.equal(stdout, `Success: restart on member ${primary.name}\n`);
    const now = (await primary.query<{ t: string }>('select pg_postmaster_start_time()::text as t')).rows[0]!.t;
    assert.notEqual(now, startedAt, 'PostgreSQL was restarted');

    const acked = writer.acked.length;
    await waitFor(() => writer.acked.length >= acked + 20, {
      timeout: 15_000,
      message: 'writes go on after the restart',
    });
    await writer.stop();
    t.diagnostic(
      `restart (CLI) ${Math.round(restartMs)} ms, longest write wait ${Math.round(writer.longest())} ms, ` +
        `${writer.acked.length} rows`,
    );
    assert.deepEqual(writer.errors, [], 'no client errors');
    assert.equal(
      await readLeaderKey(running.cluster.etcd, running.cluster.scope, 1),
      primary.name,
      'the leader key stayed',
    );
    const have = new Set(await app.rowsOn(1, memberAddress(primary)));
    assert.deepEqual(
      writer.acked.filter((id) => !have.has(id)),
      [],
      'every acknowledged row is on the primary',
    );
    const after_ = await pauseCounters(coordinator);
    assert.equal(after_.rolledBack, before.rolledBack, 'no pause ran into its deadline');
    assert.equal(after_.committed, before.committed + 1, 'one pause, ended by after_promote');
  },
);
