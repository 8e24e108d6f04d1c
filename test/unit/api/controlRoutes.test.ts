// GET /citus over fastify's inject, against a fake of the agent's control: the pause counters where
// they always were, and the coordinator's metadata as the Citus manager last saw it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { registerControlRoutes } from '../../../src/api/controlRoutes.ts';
import type { ControlAnswer, SwitchoverControl } from '../../../src/api/types.ts';
import type { MetadataStatus, NodeView } from '../../../src/citus/metadataView.ts';
import type { PauseStats } from '../../../src/citus/pause.ts';
import { idleScaleStatus, type ScaleStatus } from '../../../src/citus/scale.ts';

const PAUSES: PauseStats = {
  open: [],
  held: [],
  opened: 2,
  committed: 1,
  rolledBack: 1,
  durationsMs: [120, 80],
  maxDurationMs: 120,
};
const READ_AT = Date.UTC(2030, 0, 2, 3, 4, 5, 678);

function fakeControl(pauses: PauseStats | null, metadata: MetadataStatus | null): SwitchoverControl {
  const unused = (): Promise<ControlAnswer> => Promise.resolve({ status: 500, message: 'not part of this test' });
  return {
    manualFailover: unused,
    cancelScheduledSwitchover: unused,
    failsafe: () => ({ status: 500, message: 'not part of this test' }),
    citusEvent: unused,
    citusPauseStats: () => pauses,
    citusMetadata: () => metadata,
  };
}

async function getCitus(control: SwitchoverControl): Promise<{ status: number; body: string }> {
  const app = Fastify({ logger: false });
  registerControlRoutes(app, control);
  try {
    const res = await app.inject({ method: 'GET', url: '/citus' });
    return { status: res.statusCode, body: res.body };
  } finally {
    await app.close();
  }
}

/** A drain of group 2 under way: what GET /citus shows of scale work. */
const SCALE: ScaleStatus = {
  rebalance: {
    jobId: 7,
    state: 'running',
    description: 'Rebalance all colocation groups',
    startedAt: '2030-01-02T03:04:00.000Z',
    finishedAt: null,
    counts: { done: 3, runnable: 2, running: 1 },
  },
  placements: { '1': 20, '2': 6 },
  takers: [1],
  removals: [{ group: 2, state: 'draining' }],
  waiting: 'rebalance job 7 is running (3 of 6 moves done)',
  lastError: null,
};

function node(nodeid: number, groupid: number, nodename: string, synced: boolean): NodeView {
  const flags = { hasmetadata: true, isactive: true, metadatasynced: synced, shouldhaveshards: groupid > 0 };
  return { nodeid, groupid, nodename, nodeport: 5432, noderole: 'primary', ...flags };
}

test('GET /citus: pause counters, why adds and removes wait, pg_dist_node and pg_dist_poolinfo as read', async () => {
  const status: MetadataStatus = {
    metadata: {
      nodes: [node(1, 0, '10.0.0.1', true), node(2, 1, '10.0.1.1', false)],
      poolinfo: [{ nodeid: 2, poolinfo: 'host=10.0.1.1 port=6432' }],
      readAt: READ_AT,
    },
    membershipWaiting: 'metadata worker 10.0.1.1:5432 (group 1) is not synced yet',
    scale: SCALE,
  };
  const { status: code, body } = await getCitus(fakeControl(PAUSES, status));
  assert.equal(code, 200);
  const columns = [
    'nodeid',
    'groupid',
    'nodename',
    'nodeport',
    'noderole',
    'hasmetadata',
    'isactive',
    'metadatasynced',
    'shouldhaveshards',
  ];
  assert.deepEqual(Object.keys(JSON.parse(body).metadata.pg_dist_node[0]), columns);
  assert.deepEqual(JSON.parse(body), {
    pauses: PAUSES,
    membership_waiting: 'metadata worker 10.0.1.1:5432 (group 1) is not synced yet',
    metadata: {
      read_at: '2030-01-02T03:04:05.678Z',
      pg_dist_node: [node(1, 0, '10.0.0.1', true), node(2, 1, '10.0.1.1', false)],
      pg_dist_poolinfo: [{ nodeid: 2, poolinfo: 'host=10.0.1.1 port=6432' }],
    },
    scale: SCALE,
  });
});

test('GET /citus before the manager has read the rows: metadata null, nothing waiting', async () => {
  const idle = idleScaleStatus();
  const { status, body } = await getCitus(
    fakeControl(PAUSES, { metadata: null, membershipWaiting: null, scale: idle }),
  );
  assert.equal(status, 200);
  assert.deepEqual(JSON.parse(body), { pauses: PAUSES, membership_waiting: null, metadata: null, scale: idle });
});

test('GET /citus where no Citus manager runs answers 503 in one line, as before', async () => {
  const { status, body } = await getCitus(fakeControl(null, null));
  assert.equal(status, 503);
  assert.equal(body, 'no Citus manager runs here');
});

test('GET /citus reads the scale state afresh first, and answers with the last look when that hangs', async () => {
  const fresh: ScaleStatus = { ...SCALE, placements: { '1': 26 }, removals: [] };
  let status: MetadataStatus = { metadata: null, membershipWaiting: null, scale: SCALE };
  const control: SwitchoverControl = {
    ...fakeControl(PAUSES, null),
    citusMetadata: () => status,
    refreshCitus: () => {
      status = { ...status, scale: fresh };
      return Promise.resolve();
    },
  };
  assert.deepEqual(JSON.parse((await getCitus(control)).body).scale, fresh);
  const hung: SwitchoverControl = { ...control, refreshCitus: () => new Promise(() => undefined) };
  status = { ...status, scale: SCALE };
  const started = performance.now();
  const answer = await getCitus(hung);
  assert.equal(answer.status, 200);
  assert.deepEqual(JSON.parse(answer.body).scale, SCALE);
  assert.ok(performance.now() - started < 10_000);
});
