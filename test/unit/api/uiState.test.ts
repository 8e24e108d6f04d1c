// GET /ui/state: every group's members as /cluster summarizes them, the recent history, and the
// coordinator leader's GET /citus fetched from the address in its member key, or why not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildUiState, coordinatorApi } from '../../../src/api/uiState.ts';
import type { ClusterView, GroupView } from '../../../src/dcs/types.ts';

function group(n: number, leader: string | null, members: Array<[string, string, number]>): GroupView {
  return {
    group: n,
    leader: leader === null ? null : { name: leader },
    members: members.map(([name, role, port]) => ({
      name,
      data: {
        conn_url: `postgres://127.0.0.1:${port}/postgres`,
        api_url: `http://127.0.0.1:${port + 1000}/patroni`,
        state: 'running',
        role,
        timeline: 2,
        xlog_location: 100,
        tags: { nofailover: true },
      },
    })),
    config: null,
    sync: null,
    failover: null,
    status: { optime: 150 },
    history: { value: [1, 2, 3, 4, 5, 6].map((tl) => [tl, tl * 10, `promoted ${tl}`]), modRevision: '1' },
  } as unknown as GroupView;
}

const CLUSTER: ClusterView = {
  revision: '9',
  groups: [
    group(0, 'c1', [
      ['c1', 'primary', 5432],
      ['c2', 'replica', 5433],
    ]),
    group(1, null, [['w1', 'replica', 5434]]),
  ],
};

test('groups, members, lag and the last five history entries; /citus from the coordinator leader', async () => {
  const asked: string[] = [];
  const state = await buildUiState({
    scope: 'demo',
    name: 'c2',
    load: () => Promise.resolve(CLUSTER),
    fetchCitus: (base) => {
      asked.push(base);
      return Promise.resolve({ pauses: { open: [1] } });
    },
  });
  assert.deepEqual(asked, ['http://127.0.0.1:6432']);
  assert.deepEqual(state.citus, { from: 'http://127.0.0.1:6432', body: { pauses: { open: [1] } } });
  assert.equal(state.served_by, 'c2');
  const [g0, g1] = state.groups;
  assert.equal(g0!.leader, 'c1');
  assert.deepEqual(
    g0!.members.map((m) => [m.name, m.role, m.pg_role, m.address, m.lag, m.timeline, m.tags.nofailover]),
    [
      ['c1', 'leader', 'primary', '127.0.0.1:5432', null, 2, true],
      ['c2', 'replica', 'replica', '127.0.0.1:5433', 50, 2, true],
    ],
  );
  assert.deepEqual(
    g0!.history.map((h) => h[0]),
    [2, 3, 4, 5, 6],
  );
  assert.equal(g1!.leader, null);
});

test('no coordinator leader, an unreachable coordinator, or etcd down: said in the answer', async () => {
  const leaderless = { revision: '1', groups: [group(0, null, [['c1', 'replica', 5432]])] };
  assert.equal(coordinatorApi(leaderless), null);
  const none = await buildUiState({ scope: 'demo', name: 'c1', load: () => Promise.resolve(leaderless) });
  assert.deepEqual(none.citus, { from: null, error: 'the coordinator group has no leader' });

  const refused = await buildUiState({
    scope: 'demo',
    name: 'c1',
    load: () => Promise.resolve(CLUSTER),
    fetchCitus: () => Promise.reject(new Error('connection refused')),
  });
  assert.deepEqual(refused.citus, { from: 'http://127.0.0.1:6432', error: 'connection refused' });

  const down = await buildUiState({ scope: 'demo', name: 'c1', load: () => Promise.reject(new Error('timeout')) });
  assert.deepEqual([down.groups, down.citus, down.error], [[], null, 'cannot read the cluster from etcd: timeout']);
});
