// Issue 3, bootstrap of a three-member group: exactly one member runs initdb, the other two clone
// it, all three carry the system id of the `initialize` key, and rows replicate to both replicas.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { keyLayout, KEY } from '../../../src/dcs/keys.ts';
import { readLeaderKey, useHarness } from '../../harness/index.ts';
import { createMarkerTable, finishGroup, insertMarker, logMatches, startGroup, waitForMarker } from './helpers.ts';

useHarness();

async function readInitializeKey(endpoint: string, scope: string): Promise<string | null> {
  const client = new Etcd3({ hosts: endpoint });
  try {
    return await client.get(keyLayout({ namespace: 'service', scope, group: null }).key(KEY.initialize)).string();
  } finally {
    client.close();
  }
}

test(
  'three members bootstrap once, clone twice, share one system id and replicate a row',
  { timeout: 120_000 },
  async () => {
    const group = await startGroup();
    const { cluster, leader, replicas } = group;

    const bootstrapped = cluster.members.filter((m) => logMatches(m, /^bootstrapped a new cluster$/).length > 0);
    const cloned = cluster.members.filter((m) => logMatches(m, /^clone finished$/).length > 0);
    assert.deepEqual(
      bootstrapped.map((m) => m.name),
      [leader.name],
      'only the leader ran initdb',
    );
    assert.deepEqual(cloned.map((m) => m.name).sort(), replicas.map((m) => m.name).sort(), 'both replicas were cloned');
    assert.equal(replicas.length, 2);
    for (const m of cluster.members)
      assert.equal(logMatches(m, /^bootstrap started$/).length, m === leader ? 1 : 0, `${m.name} started initdb`);
    assert.equal(await readLeaderKey(cluster.etcd, cluster.scope, null), leader.name);

    const initialize = await readInitializeKey(cluster.etcd.endpoint, cluster.scope);
    assert.match(initialize ?? '', /^\d+$/, 'the initialize key holds a system id');
    for (const m of cluster.members) {
      const result = await m.query<{ system_identifier: string }>(
        'select system_identifier::text from pg_control_system()',
      );
      assert.equal(result.rows[0]?.system_identifier, initialize, `${m.name} has the cluster's system id`);
    }

    await createMarkerTable(leader);
    await insertMarker(leader, 1, 'written on the primary');
    for (const replica of replicas) {
      await waitForMarker(replica, 1, 'written on the primary');
      await assert.rejects(
        insertMarker(replica, 2, 'must fail'),
        /read-only transaction/,
        `${replica.name} refuses writes`,
      );
    }

    await finishGroup(group);
  },
);
