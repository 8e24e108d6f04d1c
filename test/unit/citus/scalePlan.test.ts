// planScale: one table of named cases, then invariants over generated inputs (every combination of
// marks, rows, placements, jobs and gates for two worker groups).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  jobActive,
  planScale,
  removalHeld,
  type RebalanceJob,
  type ScaleInputs,
} from '../../../src/citus/scalePlan.ts';
import type { PgDistNodeRow } from '../../../src/citus/types.ts';
import type { CitusMark } from '../../../src/dcs/types.ts';

let nextId = 1;
function row(groupid: number, role: 'primary' | 'secondary', over: Partial<PgDistNodeRow> = {}): PgDistNodeRow {
  const nodeid = nextId++;
  return {
    nodeid,
    groupid,
    nodename: `10.0.${groupid}.${role === 'primary' ? 1 : 2}`,
    nodeport: 5432,
    noderack: 'default',
    hasmetadata: role === 'primary',
    isactive: true,
    noderole: role,
    nodecluster: 'default',
    metadatasynced: role === 'primary',
    shouldhaveshards: true,
    ...over,
  };
}

function job(state: string, id = 5): RebalanceJob {
  return {
    jobId: id,
    state,
    description: 'Rebalance all colocation groups',
    startedAt: null,
    finishedAt: null,
    counts: { done: 1, runnable: 2 },
  };
}

const JOINED: CitusMark = { joined: { job_id: null, at: '2030-01-01T00:00:00Z' } };
const removal = (state: 'draining' | 'removing' | 'removed'): CitusMark => ({
  ...JOINED,
  removal: { state, requested_at: '2030-01-01T00:00:00Z' },
});

function inputs(over: Partial<ScaleInputs>): ScaleInputs {
  return {
    groups: [
      { group: 1, mark: JOINED, leaderRunsPrimary: true },
      { group: 2, mark: JOINED, leaderRunsPrimary: true },
    ],
    nodes: [row(0, 'primary', { shouldhaveshards: false }), row(1, 'primary'), row(2, 'primary'), row(2, 'secondary')],
    placements: new Map([
      [1, 16],
      [2, 16],
    ]),
    job: null,
    rebalanceOnJoin: true,
    blocked: null,
    startHeld: null,
    ...over,
  };
}

const g2 = (mark: CitusMark, leaderRunsPrimary = true) => [
  { group: 1, mark: JOINED, leaderRunsPrimary: true },
  { group: 2, mark, leaderRunsPrimary },
];

const CASES: Array<{ name: string; in: ScaleInputs; kind: string; match?: RegExp }> = [
  { name: 'all joined, no job: nothing to do', in: inputs({}), kind: 'idle' },
  {
    name: 'a job runs: follow it',
    in: inputs({ job: job('running') }),
    kind: 'wait',
    match: /job 5 is running \(1 of 3/,
  },
  {
    name: 'a registered group without a join mark: rebalance',
    in: inputs({ groups: g2({}) }),
    kind: 'startRebalance',
    match: /group 2 joined/,
  },
  {
    name: 'rebalance on join off: a new group is left alone',
    in: inputs({ groups: g2({}), rebalanceOnJoin: false }),
    kind: 'idle',
  },
  {
    name: 'a new group not registered yet: no rebalance',
    in: inputs({ groups: [...g2(JOINED), { group: 3, mark: {}, leaderRunsPrimary: true }] }),
    kind: 'idle',
  },
  {
    name: 'a join while a job runs waits for it',
    in: inputs({ groups: g2({}), job: job('running') }),
    kind: 'wait',
    match: /group 2 joined; rebalance job 5/,
  },
  {
    name: 'a join while metadata is unsynced waits',
    in: inputs({ groups: g2({}), blocked: 'metadata worker 10.0.2.1:5432 (group 2) is not synced yet' }),
    kind: 'wait',
    match: /not synced/,
  },
  {
    name: 'a join after a failed job waits for the hold',
    in: inputs({ groups: g2({}), job: job('failed'), startHeld: 'rebalance job 5 failed; next attempt in 20 s' }),
    kind: 'wait',
    match: /next attempt/,
  },
  {
    name: 'draining: shouldhaveshards goes false first',
    in: inputs({ groups: g2(removal('draining')) }),
    kind: 'stopShards',
    match: /group 2 is being removed/,
  },
  {
    name: 'draining with placements left: a drain-only rebalance',
    in: inputs({
      groups: g2(removal('draining')),
      nodes: [row(1, 'primary'), row(2, 'primary', { shouldhaveshards: false })],
    }),
    kind: 'startRebalance',
    match: /drain group 2: 16 shard/,
  },
  {
    name: 'draining without a running primary: waits, saying why',
    in: inputs({
      groups: g2(removal('draining'), false),
      nodes: [row(1, 'primary'), row(2, 'primary', { shouldhaveshards: false })],
    }),
    kind: 'wait',
    match: /no running primary/,
  },
  {
    name: 'drained: on to removing',
    in: inputs({
      groups: g2(removal('draining')),
      nodes: [row(1, 'primary'), row(2, 'primary', { shouldhaveshards: false })],
      placements: new Map([[1, 32]]),
    }),
    kind: 'markRemoval',
  },
  {
    name: 'removing: the secondary row goes before the primary row',
    in: inputs({ groups: g2(removal('removing')), placements: new Map([[1, 32]]) }),
    kind: 'removeNode',
    match: /remove secondary 10\.0\.2\.2/,
  },
  {
    name: 'removing waits while a metadata worker is unsynced',
    in: inputs({ groups: g2(removal('removing')), placements: new Map([[1, 32]]), blocked: 'unsynced' }),
    kind: 'wait',
  },
  {
    name: 'removing with no rows left: removed',
    in: inputs({ groups: g2(removal('removing')), nodes: [row(1, 'primary')], placements: new Map([[1, 32]]) }),
    kind: 'markRemoval',
    match: /no row of group 2/,
  },
  {
    name: 'removed: nothing more',
    in: inputs({ groups: g2(removal('removed')), nodes: [row(1, 'primary')] }),
    kind: 'idle',
  },
];

for (const c of CASES) {
  test(`planScale: ${c.name}`, () => {
    const step = planScale(c.in);
    assert.equal(step.kind, c.kind, JSON.stringify(step));
    if (c.match) assert.match('why' in step ? step.why : 'reason' in step ? step.reason : '', c.match);
  });
}

test('removalHeld: the plan leaves a group alone once its removal owns its rows', () => {
  const held = removalHeld([
    { group: 1, mark: JOINED },
    { group: 2, mark: removal('draining') },
    { group: 3, mark: removal('removing') },
    { group: 4, mark: removal('removed') },
  ]);
  assert.deepEqual([...held].sort(), [3, 4]);
});

test('jobActive: only jobs that will still move shards', () => {
  for (const s of ['scheduled', 'running', 'cancelling', 'failing']) assert.equal(jobActive(job(s)), true, s);
  for (const s of ['finished', 'cancelled', 'failed']) assert.equal(jobActive(job(s)), false, s);
  assert.equal(jobActive(null), false);
});

/** Every combination for group 2 (group 1 is a plain joined worker). */
function* generated(): Generator<ScaleInputs> {
  const marks: CitusMark[] = [{}, JOINED, removal('draining'), removal('removing'), removal('removed')];
  const rowSets: PgDistNodeRow[][] = [
    [],
    [row(2, 'primary')],
    [row(2, 'primary', { shouldhaveshards: false })],
    [row(2, 'primary'), row(2, 'secondary')],
    [row(2, 'primary', { shouldhaveshards: false }), row(2, 'secondary')],
    [row(2, 'secondary')],
  ];
  for (const mark of marks)
    for (const rows of rowSets)
      for (const placements of [0, 3])
        for (const j of [null, job('running'), job('finished'), job('failed')])
          for (const blocked of [null, 'unsynced'])
            for (const held of [null, 'held'])
              for (const leader of [true, false])
                for (const onJoin of [true, false])
                  yield inputs({
                    groups: g2(mark, leader),
                    nodes: [row(0, 'primary', { shouldhaveshards: false }), row(1, 'primary'), ...rows],
                    placements: new Map([
                      [1, 10],
                      [2, placements],
                    ]),
                    job: j,
                    blocked,
                    startHeld: held,
                    rebalanceOnJoin: onJoin,
                  });
}

test('planScale invariants over every generated input', () => {
  let n = 0;
  for (const input of generated()) {
    n++;
    const step = planScale(input);
    const what = () => `${JSON.stringify(step)} for ${JSON.stringify({ ...input, placements: [...input.placements] })}`;
    const contacts = step.kind === 'stopShards' || step.kind === 'removeNode' || step.kind === 'startRebalance';
    // Calls that reach every metadata worker never run while the gate is closed.
    if (contacts) assert.equal(input.blocked, null, what());
    if (step.kind === 'startRebalance') {
      assert.equal(jobActive(input.job), false, `never two rebalances: ${what()}`);
      assert.equal(input.startHeld, null, what());
    }
    if (step.kind === 'removeNode') {
      assert.equal(input.placements.get(step.group) ?? 0, 0, `never a node that holds placements: ${what()}`);
      const rows = input.nodes.filter((r) => r.groupid === step.group);
      const target = rows.find((r) => r.nodename === step.host && r.nodeport === step.port);
      assert.ok(target, what());
      if (target.noderole === 'primary')
        assert.ok(
          rows.every((r) => r.noderole === 'primary'),
          `secondaries go first: ${what()}`,
        );
      assert.equal(input.groups.find((g) => g.group === step.group)?.mark.removal?.state, 'removing', what());
    }
    if (step.kind === 'markRemoval' && step.state === 'removed')
      assert.equal(input.nodes.filter((r) => r.groupid === step.group).length, 0, what());
    if (step.kind === 'markRemoval' && step.state === 'removing')
      assert.equal(input.placements.get(step.group) ?? 0, 0, what());
    // A group nobody asked to remove is never touched.
    if ('group' in step) assert.ok(input.groups.find((g) => g.group === step.group)?.mark.removal, what());
    // Work that waits says why.
    if (step.kind === 'wait') assert.ok(step.reason.length > 0);
  }
  assert.equal(n, 5 * 6 * 2 * 4 * 2 * 2 * 2 * 2);
});
