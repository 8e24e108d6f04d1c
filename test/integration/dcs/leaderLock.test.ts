// The leader lock against a real etcd: the race, release and compare-on-mod_revision writes.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startEtcd, useHarness, type EtcdServer } from '../../harness/index.ts';
import { dcsOn } from './helpers.ts';

useHarness();

describe('leader lock', () => {
  let etcd: EtcdServer;
  before(async () => {
    etcd = await startEtcd();
  });

  test('two clients race for the leader lock 50 times and exactly one wins each time', async () => {
    const a = dcsOn(etcd, { scope: 'race' });
    const b = dcsOn(etcd, { scope: 'race' });
    const wins = { a: 0, b: 0 };
    for (let round = 0; round < 50; round++) {
      const [wonA, wonB] = await Promise.all([a.attemptToAcquireLeader('a'), b.attemptToAcquireLeader('b')]);
      assert.equal(Number(wonA) + Number(wonB), 1, `round ${round}: a=${wonA} b=${wonB}`);
      const winner = wonA ? 'a' : 'b';
      wins[winner] += 1;
      const view = await a.loadCluster();
      assert.equal(view.groups[0].leader?.name, winner, `round ${round}`);
      assert.equal(view.groups[0].leader?.lease, (wonA ? a : b).leaseId);
      assert.equal(await (wonA ? a : b).deleteLeader(winner), true);
    }
    assert.equal(wins.a + wins.b, 50);
  });

  test('a client that lost the race does not take the lock while it is held', async () => {
    const a = dcsOn(etcd, { scope: 'held' });
    const b = dcsOn(etcd, { scope: 'held' });
    assert.equal(await a.attemptToAcquireLeader('a'), true);
    assert.equal(await b.attemptToAcquireLeader('b'), false);
    assert.equal(await b.updateLeader('b'), false);
    assert.equal(await a.updateLeader('a'), true);
    assert.equal((await b.loadCluster()).groups[0].leader?.name, 'a');
  });

  test('release by a non-holder does nothing and release by the holder deletes the key', async () => {
    const holder = dcsOn(etcd, { scope: 'release' });
    const other = dcsOn(etcd, { scope: 'release' });
    assert.equal(await holder.attemptToAcquireLeader('h'), true);
    const before = (await other.loadCluster()).groups[0].leader;

    assert.equal(await other.deleteLeader('o'), false);
    const after = (await other.loadCluster()).groups[0].leader;
    assert.deepEqual(after, before, 'the key is untouched, same mod_revision');

    assert.equal(await holder.deleteLeader('h'), true);
    assert.equal((await other.loadCluster()).groups[0].leader, null);
  });

  test('a config write with a stale mod_revision is refused and one with the current succeeds', async () => {
    const dcs = dcsOn(etcd, { scope: 'config' });
    assert.equal(await dcs.setConfig({ ttl: 30, loop_wait: 10 }), true);
    const first = (await dcs.loadCluster()).groups[0].config;
    assert.ok(first);
    assert.equal(await dcs.setConfig({ ttl: 30, loop_wait: 5 }, first.modRevision), true);
    const second = (await dcs.loadCluster()).groups[0].config;
    assert.ok(second);

    assert.equal(await dcs.setConfig({ ttl: 99 }, first.modRevision), false, 'stale revision refused');
    assert.deepEqual((await dcs.loadCluster()).groups[0].config?.value, { ttl: 30, loop_wait: 5 });

    assert.equal(await dcs.setConfig({ ttl: 40 }, second.modRevision), true, 'current revision accepted');
    assert.deepEqual((await dcs.loadCluster()).groups[0].config?.value, { ttl: 40 });
  });

  test('only the first initialize wins; cancelInitialization lets a new race start', async () => {
    const a = dcsOn(etcd, { scope: 'init' });
    const b = dcsOn(etcd, { scope: 'init' });
    const results = await Promise.all([a.initialize('111'), b.initialize('222')]);
    assert.deepEqual(results.filter(Boolean).length, 1);
    const sysid = (await a.loadCluster()).groups[0].initialize;
    assert.equal(sysid, results[0] ? '111' : '222');
    await a.cancelInitialization();
    assert.equal((await a.loadCluster()).groups[0].initialize, null);
    assert.equal(await b.initialize('333'), true);
    assert.equal(await b.initialize('444', false), true, 'without create it overwrites');
    assert.equal((await a.loadCluster()).groups[0].initialize, '444');
  });

  test('sync and failover writes compare on mod_revision; failover {} clears', async () => {
    const dcs = dcsOn(etcd, { scope: 'sync' });
    assert.equal(await dcs.setSync({ leader: 'a', sync_standby: 'b' }), true);
    const sync = (await dcs.loadCluster()).groups[0].sync;
    assert.deepEqual(sync?.value, { leader: 'a', sync_standby: 'b' });
    assert.equal(await dcs.setSync({ leader: 'a', sync_standby: null }, '1'), false);
    assert.equal(await dcs.deleteSync(sync?.modRevision), true);
    assert.equal((await dcs.loadCluster()).groups[0].sync, null);

    assert.equal(await dcs.setFailover({ leader: 'a', member: 'b' }), true);
    const failover = (await dcs.loadCluster()).groups[0].failover;
    assert.equal(await dcs.setFailover({}, failover?.modRevision), true);
    assert.deepEqual((await dcs.loadCluster()).groups[0].failover?.value, {});
  });
});
