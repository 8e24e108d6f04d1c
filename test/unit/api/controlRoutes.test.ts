// GET /citus over fastify's inject, against a fake of the agent's control: the pause counters where
// they always were, and the coordinator's metadata as the Citus manager last saw it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { registerControlRoutes } from '../../../src/api/controlRoutes.ts';
import type { ControlAnswer, SwitchoverControl } from '../../../src/api/types.ts';
import type { MetadataStatus, NodeView } from '../../../src/citus/metadataView.ts';
import type { PauseStats } from '../../../src/citus/pause.ts';

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

function node(nodeid: number, groupid: number, nodename: string, synced: boolean): NodeView {
  const flags = { hasmetadata: true, isactive: true, metadatasynced: synced };
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
  });
});

test('GET /citus before the manager has read the rows: metadata null, nothing waiting', async () => {
  const { status, body } = await getCitus(fakeControl(PAUSES, { metadata: null, membershipWaiting: null }));
  assert.equal(status, 200);
  assert.deepEqual(JSON.parse(body), { pauses: PAUSES, membership_waiting: null, metadata: null });
});

test('GET /citus where no Citus manager runs answers 503 in one line, as before', async () => {
  const { status, body } = await getCitus(fakeControl(null, null));
  assert.equal(status, 503);
  assert.equal(body, 'no Citus manager runs here');
});
