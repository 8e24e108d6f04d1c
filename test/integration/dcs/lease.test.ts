// The agent's lease: keys live exactly as long as the caller keeps renewing, never longer.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startEtcd, useHarness, waitFor, type EtcdServer } from '../../harness/index.ts';
import { dcsOn, memberData } from './helpers.ts';

useHarness();

const TTL = 3;

describe('lease', () => {
  let etcd: EtcdServer;
  before(async () => {
    etcd = await startEtcd();
  });

  test('a client that stops renewing loses its keys within ttl + 1 s; a renewing client keeps its own', async () => {
    // Two groups of one cluster, so each client holds a leader key and a member key.
    const stopping = dcsOn(etcd, { scope: 'expire', group: 1, ttl: TTL });
    const renewing = dcsOn(etcd, { scope: 'expire', group: 2, ttl: TTL });
    const observer = dcsOn(etcd, { scope: 'expire', group: 0 });
    for (const [dcs, name] of [
      [stopping, 's'],
      [renewing, 'r'],
    ] as const) {
      await dcs.touchMember(name, memberData(name, 'primary'));
      assert.equal(await dcs.attemptToAcquireLeader(name), true);
    }
    const renewedLease = renewing.leaseId;
    assert.equal((await observer.loadCluster()).groups.find((x) => x.group === 1)?.leader?.name, 's');

    let renewals = 0;
    let renewFailure: unknown = null;
    const timer = setInterval(() => {
      renewing.updateLeader('r').then(
        (held) => {
          if (held) renewals += 1;
          else renewFailure ??= new Error('renewing client lost its lock');
        },
        (err: unknown) => (renewFailure ??= err),
      );
    }, 500);
    try {
      assert.equal(await stopping.refreshLease(), true);
      const lastRenewal = Date.now();

      const groupOf = async (g: number) => (await observer.loadCluster()).groups.find((x) => x.group === g);
      await waitFor(
        async () => {
          // A group without any key is absent from the view.
          const g1 = await groupOf(1);
          return g1 === undefined || (g1.leader === null && g1.members.length === 0);
        },
        {
          timeout: lastRenewal + (TTL + 1) * 1000 - Date.now(),
          interval: 50,
          message: 'keys of the client that stopped renewing expire',
        },
      );

      const g2 = await groupOf(2);
      assert.equal(g2?.leader?.name, 'r');
      assert.deepEqual(
        g2?.members.map((m) => m.name),
        ['r'],
      );
      assert.equal(g2?.leader?.lease, renewedLease);
      // Keep renewing for more than another ttl (renewals come every 500 ms), to show that
      // renewal, not timing luck, keeps the keys.
      const target = renewals + 2 * (TTL + 1);
      await waitFor(() => renewals >= target || renewFailure !== null, {
        timeout: 4 * (TTL + 1) * 1000,
        interval: 100,
        message: `renewing client renews ${target} times`,
      });
      assert.equal(renewFailure, null);
      const later = await groupOf(2);
      assert.equal(later?.leader?.name, 'r');
      assert.equal(later?.leader?.lease, renewedLease);
      assert.deepEqual(
        later?.members.map((m) => m.name),
        ['r'],
      );
    } finally {
      clearInterval(timer);
    }
  });

  test('a client whose lease expired gets a new one and its member key back, and must retake the lock', async () => {
    const dcs = dcsOn(etcd, { scope: 'regrant', ttl: TTL });
    const observer = dcsOn(etcd, { scope: 'regrant' });
    await dcs.touchMember('m', memberData('m', 'primary'));
    assert.equal(await dcs.attemptToAcquireLeader('m'), true);
    const oldLease = dcs.leaseId;

    await waitFor(async () => (await observer.loadCluster()).groups[0].leader === null, {
      timeout: (TTL + 2) * 1000,
      interval: 100,
      message: 'the unrenewed lease expires',
    });

    assert.equal(await dcs.refreshLease(), false, 'the lease had to be replaced');
    assert.notEqual(dcs.leaseId, oldLease);
    const view = (await observer.loadCluster()).groups[0];
    assert.deepEqual(
      view.members.map((m) => [m.name, m.lease]),
      [['m', dcs.leaseId]],
      'member key re-attached to the new lease',
    );
    assert.equal(view.leader, null);
    assert.equal(await dcs.updateLeader('m'), false, 'an expired lock is not silently recreated');
    assert.equal(await dcs.attemptToAcquireLeader('m'), true);
    assert.equal((await observer.loadCluster()).groups[0].leader?.lease, dcs.leaseId);
  });

  test('a ttl change moves leader and member keys to a new lease on the next renewal', async () => {
    const dcs = dcsOn(etcd, { scope: 'retune', ttl: 30 });
    await dcs.touchMember('m', memberData('m', 'primary'));
    assert.equal(await dcs.attemptToAcquireLeader('m'), true);
    const oldLease = dcs.leaseId;
    dcs.reconfigure({ ttl: 20 });
    assert.equal(await dcs.updateLeader('m'), true);
    assert.notEqual(dcs.leaseId, oldLease);
    const view = (await dcs.loadCluster()).groups[0];
    assert.equal(view.leader?.lease, dcs.leaseId);
    assert.equal(view.members[0].lease, dcs.leaseId);
  });
  test('an unchanged member key or status is not written again; a change or a new lease is', async () => {
    const dcs = dcsOn(etcd, { scope: 'unchanged', ttl: 30 });
    const data = memberData('m', 'primary');
    await dcs.touchMember('m', data);
    assert.equal(await dcs.attemptToAcquireLeader('m'), true);
    await dcs.setStatus({ optime: 100 });
    const read = async () => {
      const cluster = await dcs.loadCluster();
      return { ...cluster.groups[0]!, storeRevision: cluster.revision };
    };
    const revision = (g: { members: Array<{ modRevision: string }> }) => g.members[0]!.modRevision;
    const first = await read();

    await dcs.touchMember('m', data, first);
    await dcs.setStatus({ optime: 100 }, first.status);
    const second = await read();
    assert.equal(second.storeRevision, first.storeRevision, 'same values on the same lease: nothing written');

    const stopping = { ...data, state: 'stopping' };
    await dcs.touchMember('m', stopping, second);
    await dcs.setStatus({ optime: 200 }, second.status);
    const third = await read();
    assert.notEqual(revision(third), revision(second), 'a changed member value is written');
    assert.deepEqual(third.status, { optime: 200 });

    dcs.reconfigure({ ttl: 20 });
    assert.equal(await dcs.refreshLease(), false, 'a new ttl brings a new lease');
    const regranted = await read();
    await dcs.touchMember('m', stopping, third);
    const fourth = await read();
    assert.notEqual(revision(fourth), revision(regranted), 'a key seen on another lease is written');
    assert.equal(fourth.members[0]!.lease, dcs.leaseId);
  });
});
