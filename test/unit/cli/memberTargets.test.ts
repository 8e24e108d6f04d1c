// selectMembers: which members restart/reload/reinit act on, and the one-line refusals.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRoleFilter, postToEach, selectMembers, type PostResult } from '../../../src/cli/memberTargets.ts';
import type { ClusterView, GroupView, Member } from '../../../src/dcs/types.ts';

function member(name: string, role: string, api = true): Member {
  return {
    name,
    data: {
      conn_url: `postgres://${name}:5432/postgres`,
      api_url: api ? `http://${name}:8008/patroni` : (undefined as unknown as string),
      state: 'running',
      role,
      version: '0.1.0',
    },
    modRevision: '1',
    lease: '1',
  };
}

function group(g: number, leader: string, members: Member[]): GroupView {
  return {
    group: g,
    initialize: '1',
    config: null,
    leader: { name: leader, modRevision: '1', createRevision: '1', lease: '1' },
    members,
    sync: null,
    failover: null,
    history: null,
    status: null,
    failsafe: null,
  };
}

const view: ClusterView = {
  revision: '1',
  groups: [
    group(0, 'a1', [member('a1', 'primary'), member('a2', 'replica')]),
    group(1, 'b1', [member('b1', 'primary'), member('b2', 'replica'), member('x', 'replica')]),
    group(2, 'c1', [member('c1', 'primary'), member('x', 'replica')]),
  ],
};

test('no names: every member of every group; --role narrows', () => {
  assert.deepEqual(
    selectMembers(view, [], 'any').map((t) => t.name),
    ['a1', 'a2', 'b1', 'b2', 'x', 'c1', 'x'],
  );
  assert.deepEqual(
    selectMembers(view, [], 'primary').map((t) => t.name),
    ['a1', 'b1', 'c1'],
  );
});

test('named members keep the order given and their group', () => {
  assert.deepEqual(
    selectMembers(view, ['b2', 'a1'], 'any').map((t) => [t.name, t.group, t.leader]),
    [
      ['b2', 1, false],
      ['a1', 0, true],
    ],
  );
});

test('an unknown name, a name in two groups, a role nobody named has, a member without api_url: one line each', () => {
  assert.throws(
    () => selectMembers(view, ['zz'], 'any'),
    /^ShardherdError: zz is not a member of the cluster$|zz is not a member of the cluster/,
  );
  assert.throws(() => selectMembers(view, ['x'], 'any'), /x is a member of groups 1 and 2: give --group/);
  assert.throws(() => selectMembers(view, ['b2'], 'primary'), /none of b2 has role primary/);
  const noApi: ClusterView = { revision: '1', groups: [group(1, 'b1', [member('b1', 'primary', false)])] };
  assert.throws(() => selectMembers(noApi, [], 'any'), /b1 publishes no api_url/);
});

test("--role accepts Patroni's words", () => {
  assert.equal(parseRoleFilter('master'), 'primary');
  assert.equal(parseRoleFilter('leader'), 'primary');
  assert.equal(parseRoleFilter('replica'), 'replica');
  assert.throws(() => parseRoleFilter('standby'), /unknown role "standby"/);
});

test('postToEach: one Success or Failed line per member in order, exit code 1 when any failed', async (t) => {
  const answers: Record<string, PostResult> = {
    a1: { status: 200, text: 'ok' },
    a2: { status: 503, text: 'restart already in progress' },
    b1: { status: 0, text: 'no answer from http://b1:8008/patroni: connect ECONNREFUSED' },
  };
  const written: string[] = [];
  t.mock.method(process.stdout, 'write', (chunk: string) => {
    written.push(chunk);
    return true;
  });
  const exitCode = process.exitCode;
  try {
    const targets = selectMembers(view, ['a1', 'a2', 'b1'], 'any');
    await postToEach(targets, async (target) => answers[target.name]!, {
      success: (target, r) => (r.status === 200 ? `restart on member ${target.name}` : null),
      failure: (target) => `restart on member ${target.name}`,
    });
    assert.equal(process.exitCode, 1);
  } finally {
    t.mock.restoreAll();
    process.exitCode = exitCode;
  }
  assert.deepEqual(written, [
    'Success: restart on member a1\n',
    'Failed: restart on member a2: 503 restart already in progress\n',
    'Failed: restart on member b1: no answer from http://b1:8008/patroni: connect ECONNREFUSED\n',
  ]);
});
