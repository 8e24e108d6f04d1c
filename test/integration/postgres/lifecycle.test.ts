// The PostgreSQL control layer against real PostgreSQL 15: the driver runs the sequence as the
// unprivileged user (the product refuses root) and reports JSON, which is asserted on here.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { freePort, spawnManaged, tempDir, unprivilegedUser, useHarness } from '../../harness/index.ts';

useHarness();

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const driver = fileURLToPath(new URL('./driver.ts', import.meta.url));

// The driver's results are read field by field at any depth, as loosely as JSON allows.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function lastJsonLine(output: string): Record<string, any> {
  const line = output
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  assert.ok(line, `driver printed no JSON; output:\n${output}`);
  return JSON.parse(line);
}

test('clone, crash, promote, rewind and rejoin work end to end on real PostgreSQL', async () => {
  const baseDir = await tempDir('pg-control');
  const ports = [await freePort(), await freePort()];
  const run = spawnManaged(process.execPath, ['--import', 'tsx', driver, JSON.stringify({ baseDir, ports })], {
    name: 'postgres control driver',
    asUnprivileged: true,
    cwd: repoRoot,
  });
  const status = await run.exited;
  assert.equal(status.code, 0, `driver failed:\n${run.output()}`);
  const r = lastJsonLine(run.output());

  // Data directories: 0700 and owned by the user the agent runs as.
  assert.equal(r.dataDirMode, '700');
  assert.equal(r.dataDirUid, r.agentUid);
  const user = unprivilegedUser();
  if (user !== null) assert.equal(r.agentUid, user.uid);

  // Bootstrap and clone: the row reaches the replica, which streams through its slot.
  assert.equal(r.primaryStart, 'ready');
  assert.deepEqual(r.slotsOnA, { created: ['member_b'], dropped: [], failed: [] });
  assert.deepEqual(r.basebackup, { kind: 'done' });
  assert.deepEqual(r.rowsOnReplica, [1]);
  assert.equal(r.replicasOfA.length, 1);
  assert.equal(r.replicasOfA[0].applicationName, 'member-b');
  assert.equal(r.replicasOfA[0].state, 'streaming');
  assert.equal(r.statusA.role, 'primary');
  assert.equal(r.statusA.timeline, 1);
  assert.ok(r.statusA.walLsn > 0);
  assert.equal(r.statusB.role, 'replica');
  assert.equal(r.statusB.receiver.upstreamPort, ports[0]);
  assert.equal(r.statusB.receiver.slotName, 'member_b');
  assert.ok(r.statusB.receivedLsn > 0 && r.statusB.replayedLsn > 0);
  assert.equal(r.statusB.replayPaused, false);
  // The REST API's report: the same status, with start time, version and walsenders, in one query.
  assert.deepEqual(
    { role: r.reportA.status.role, timeline: r.reportA.status.timeline },
    { role: 'primary', timeline: 1 },
  );
  assert.ok(r.reportA.status.walLsn >= r.statusA.walLsn);
  assert.deepEqual(
    r.reportA.replicas.map((x: { applicationName: string; state: string }) => [x.applicationName, x.state]),
    [['member-b', 'streaming']],
  );
  assert.equal(r.reportA.replicas[0].clientAddr, '127.0.0.1');
  assert.ok(r.reportA.replicas[0].sentLsn > 0, JSON.stringify(r.reportA.replicas));
  assert.match(r.reportA.postmasterStart, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} [+-]\d\d:\d\d$/);
  assert.ok(r.reportA.serverVersion >= 150000, String(r.reportA.serverVersion));
  assert.equal(r.reportB.status.role, 'replica');
  assert.equal(r.reportB.status.receiver.slotName, 'member_b');
  assert.deepEqual(r.reportB.replicas, []);
  assert.equal(r.replicationOfA.standbys.length, 1);
  assert.ok(r.replicationOfA.flushLsn > 0);
  assert.equal(r.pausedB.replayPaused, true);
  assert.equal(r.systemIdA, r.systemIdB);
  assert.match(r.systemIdA, /^\d+$/);

  // Crash: the exit is an unexpected event; the data directory was not shut down cleanly.
  assert.deepEqual(
    { signal: r.crashExit.signal, expected: r.crashExit.expected },
    { signal: 'SIGKILL', expected: false },
  );
  assert.deepEqual(r.stateAfterCrash, { kind: 'stopped' });
  assert.deepEqual(r.crashedControl, { state: 'in production', timeline: 1, cleanShutdown: false });

  // Promotion moves the replica to timeline 2.
  assert.equal(r.statusAfterPromote.role, 'primary');
  assert.equal(r.statusAfterPromote.timeline, 2);

  // Rewind really rewinds (the crash recovery diverged the old primary) and it rejoins.
  assert.equal(r.rewind.kind, 'rewound');
  assert.match(r.rewind.output, /Done!/);
  assert.deepEqual(r.slotsOnB, { created: ['member_a'], dropped: [], failed: [] });
  assert.deepEqual(r.rowsOnRejoined, [1, 2, 3]);
  assert.equal(r.statusRejoined.role, 'replica');
  assert.equal(r.statusRejoined.timeline, 2);
  assert.equal(r.statusRejoined.receiver.upstreamPort, ports[1]);
  assert.equal(r.statusRejoined.receiver.slotName, 'member_a');
  assert.deepEqual(
    r.replicasOfB.map((x: { applicationName: string; state: string }) => [x.applicationName, x.state]),
    [['member-a', 'streaming']],
  );
  assert.equal(r.systemIdRejoined, r.systemIdA);

  // Clean stops are expected exits, and pg_controldata reads the stopped directory.
  assert.equal(r.stopA.kind, 'stopped');
  assert.deepEqual({ code: r.stopA.exit.code, expected: r.stopA.exit.expected }, { code: 0, expected: true });
  assert.equal(r.stopB.kind, 'stopped');
  assert.deepEqual(r.stoppedControl, { state: 'shut down in recovery', timeline: 2, systemIdentifier: r.systemIdA });

  // A postmaster started by someone else is refused by start(), adopted, and its stop seen.
  assert.match(r.startOverRunning, /^start: postmaster \d+ not started by this agent runs on /);
  assert.equal(r.adoptedPid, r.runningPid);
  assert.deepEqual(r.adoptedState, { kind: 'running', pid: r.runningPid, owner: 'adopted' });
  assert.match(r.removeWhileRunning, /postmaster \d+ is running/);
  assert.equal(r.adoptedStop.kind, 'stopped');
  assert.equal(r.adoptedStop.exit.expected, true);
  assert.equal(r.adoptedExitEvents, 1);

  // A stale postmaster.pid does not block a start.
  assert.equal(r.startOverStalePid, 'ready');
  assert.deepEqual(r.restart, { kind: 'ready', newPid: true });
  assert.equal(r.stopImmediate.kind, 'stopped');

  // A failed clone is cleaned up; removing a data directory empties it and keeps it private.
  assert.equal(r.failedBasebackup.kind, 'failed');
  assert.match(r.failedBasebackup.reason, /connection|connect/i);
  assert.deepEqual(r.afterFailedBasebackup, { kind: 'empty' });
  assert.deepEqual(r.afterRemove, { kind: 'empty' });
  assert.equal(r.removedDirMode, '700');
});

test(
  'running as root is refused with a clear message',
  { skip: process.getuid?.() !== 0 && 'needs root' },
  async () => {
    const run = spawnManaged(process.execPath, ['--import', 'tsx', driver, '{}'], {
      name: 'driver as root',
      cwd: repoRoot,
    });
    const status = await run.exited;
    assert.equal(status.code, 1);
    assert.match(run.output(), /PostgresError: startup: refusing to run as root/);
  },
);
