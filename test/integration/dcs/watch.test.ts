// The scope watch: a coordinator sees every group's changes, across an etcd restart, and is
// told to reload when the revision it would resume from was compacted.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { before, describe, test } from 'node:test';
import type { DcsEvent } from '../../../src/dcs/types.ts';
import type { WatchSignal } from '../../../src/dcs/watch.ts';
import { startEtcd, useHarness, waitFor, type EtcdServer } from '../../harness/index.ts';
import { dcsOn, memberData } from './helpers.ts';

useHarness();

interface Seen {
  signal: WatchSignal;
  revision: string;
  events: DcsEvent[];
}

function leaderChanges(seen: Seen[]): string[] {
  return seen
    .flatMap((s) => s.events)
    .filter((e) => e.name === 'leader')
    .map((e) => `${e.group}:${e.type}:${e.value ?? ''}`);
}

describe('watch', () => {
  let etcd: EtcdServer;
  before(async () => {
    etcd = await startEtcd();
  });

  test('a coordinator-mode watch delivers leader changes of every group and resumes after etcd restarts', async () => {
    const coordinator = dcsOn(etcd, { scope: 'w', group: 0 });
    const worker1 = dcsOn(etcd, { scope: 'w', group: 1 });
    const worker2 = dcsOn(etcd, { scope: 'w', group: 2 });
    const view = await coordinator.loadCluster();
    const seen: Seen[] = [];
    const watch = coordinator.watch(view.revision, (events, revision, signal) =>
      seen.push({ events, revision, signal }),
    );
    try {
      assert.equal(await coordinator.attemptToAcquireLeader('c'), true);
      assert.equal(await worker1.attemptToAcquireLeader('w1'), true);
      assert.equal(await worker2.attemptToAcquireLeader('w2'), true);
      await worker1.touchMember('w1', memberData('w1', 'primary'));
      const expected = ['0:put:c', '1:put:w1', '2:put:w2'];
      await waitFor(() => leaderChanges(seen).length >= 3, {
        timeout: 10_000,
        message: 'leader puts of groups 0, 1, 2 arrive',
      });
      assert.deepEqual(leaderChanges(seen), expected);
      await waitFor(() => seen.some((s) => s.events.some((e) => e.group === 1 && e.name === 'members/w1')), {
        timeout: 10_000,
        message: 'member put arrives',
      });

      await etcd.stop();
      await etcd.start();

      assert.equal(await worker1.deleteLeader('w1'), true);
      assert.equal(await worker2.deleteLeader('w2'), true);
      assert.equal(await worker1.attemptToAcquireLeader('w1b'), true);
      expected.push('1:delete:', '2:delete:', '1:put:w1b');
      await waitFor(() => leaderChanges(seen).length >= expected.length, {
        timeout: 20_000,
        message: 'changes after the restart arrive',
      });
      // Resumed from the last revision seen: nothing lost, nothing delivered twice.
      assert.deepEqual(leaderChanges(seen), expected);
      assert.ok(seen.every((s) => s.signal === 'events'));
      const revisions = seen.flatMap((s) => s.events.map((e) => BigInt(e.modRevision)));
      assert.deepEqual(
        revisions,
        [...revisions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
      );
      assert.ok(revisions.every((r) => r > BigInt(view.revision)));
    } finally {
      watch.close();
    }
  });

  test('a watch from a compacted revision signals resync and then delivers later changes', async () => {
    const dcs = dcsOn(etcd, { scope: 'compact', group: 0 });
    const old = await dcs.loadCluster();
    for (let i = 0; i < 3; i++) await dcs.setConfig({ round: i });
    const current = await dcs.loadCluster();
    await promisify(execFile)('/usr/bin/etcdctl', ['--endpoints', etcd.endpoint, 'compaction', current.revision], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });

    const seen: Seen[] = [];
    const watch = dcs.watch(old.revision, (events, revision, signal) => seen.push({ events, revision, signal }));
    try {
      await waitFor(() => seen.length > 0, { timeout: 10_000, message: 'the watch reports something' });
      assert.equal(seen[0].signal, 'resync');
      assert.deepEqual(seen[0].events, []);
      assert.ok(BigInt(seen[0].revision) >= BigInt(current.revision));

      await dcs.setConfig({ round: 'after' });
      await waitFor(
        () => seen.some((s) => s.events.some((e) => e.name === 'config' && e.value === '{"round":"after"}')),
        { timeout: 10_000, message: 'a change after the resync arrives' },
      );
      assert.equal(seen.filter((s) => s.signal === 'resync').length, 1);
    } finally {
      watch.close();
    }
  });

  test('a worker group watch maps keys of the whole scope and ignores other scopes', async () => {
    const worker = dcsOn(etcd, { scope: 'mine', group: 3 });
    const stranger = dcsOn(etcd, { scope: 'mine2', group: 3 });
    const view = await worker.loadCluster();
    const seen: Seen[] = [];
    const watch = worker.watch(view.revision, (events, revision, signal) => seen.push({ events, revision, signal }));
    try {
      await stranger.setConfig({ x: 1 });
      await worker.setConfig({ y: 1 });
      await waitFor(() => seen.length > 0, { timeout: 10_000, message: 'own change arrives' });
      assert.deepEqual(
        seen.flatMap((s) => s.events).map((e) => [e.group, e.name, e.value]),
        [[3, 'config', '{"y":1}']],
      );
    } finally {
      watch.close();
    }
  });
});
