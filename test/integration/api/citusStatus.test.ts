// GET /citus over real HTTP with a real Citus manager behind it: etcd holds a coordinator group
// whose leader publishes a pooler, PostgreSQL has the stand-in, and the answer shows the rows the
// manager wrote without a query of its own.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { citusStatusBody, registerControlRoutes, type CitusStatusBody } from '../../../src/api/controlRoutes.ts';
import type { ControlAnswer, SwitchoverControl } from '../../../src/api/types.ts';
import { COMPAT_SQL_PATH } from '../../../src/citus/extension.ts';
import { CitusManager } from '../../../src/citus/manager.ts';
import { Dcs } from '../../../src/dcs/dcs.ts';
import { silentLogger } from '../../../src/log.ts';
import { createPostgres, startEtcd, useHarness, waitFor, type EtcdServer, type PgServer } from '../../harness/index.ts';

useHarness();

const H = '127.0.0.1';
const SCOPE = 'status';
const READ_AT = Date.UTC(2030, 0, 2, 3, 4, 5);

let etcd: EtcdServer;
let coordinator: PgServer;
let app: FastifyInstance;
let manager: CitusManager;
const clients: Dcs[] = [];

function connect(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: coordinator.connectionString('postgres') });
  return client.connect().then(() => client);
}

/** The agent's control as far as GET /citus needs it, answered by the manager itself. */
function managerControl(m: CitusManager): SwitchoverControl {
  const unused = (): Promise<ControlAnswer> => Promise.resolve({ status: 500, message: 'not part of this test' });
  return {
    manualFailover: unused,
    cancelScheduledSwitchover: unused,
    failsafe: () => ({ status: 500, message: 'not part of this test' }),
    citusEvent: unused,
    citusPauseStats: () => m.pauseStats(),
    citusMetadata: () => ({
      metadata: m.metadataView(),
      membershipWaiting: m.membershipWaitReason(),
      scale: m.scaleStatus(),
    }),
  };
}

before(async () => {
  [etcd, coordinator] = await Promise.all([
    startEtcd(),
    createPostgres({ parameters: { 'citus.local_hostname': H, shared_buffers: '16MB', max_connections: '40' } }),
  ]);
  const client = await connect();
  try {
    await client.query(readFileSync(COMPAT_SQL_PATH, 'utf8'));
  } finally {
    await client.end();
  }
  const member = (name: string, port: number, role: 'primary' | 'replica', proxy?: string) => {
    const options = { hosts: [etcd.endpoint], namespace: 'service', scope: SCOPE, group: 0, retryTimeout: 5, ttl: 60 };
    const dcs = new Dcs(options);
    clients.push(dcs);
    const urls = { conn_url: `postgres://${H}:${port}/postgres`, api_url: `http://${H}:${port + 1000}/patroni` };
    const data = { ...urls, state: 'running', role, version: '3.0.2' };
    return { dcs, write: () => dcs.touchMember(name, proxy === undefined ? data : { ...data, proxy_url: proxy }) };
  };
  const leader = member('coord-a', coordinator.port, 'primary', `postgres://${H}:6432/postgres`);
  // A secondary Citus never contacts: nothing needs to listen on its port.
  const replica = member('coord-b', 21001, 'replica');
  await leader.write();
  assert.equal(await leader.dcs.attemptToAcquireLeader('coord-a'), true);
  await replica.write();
  manager = new CitusManager({ dcs: leader.dcs, connect, logger: silentLogger, retryTimeout: 5, now: () => READ_AT });
  app = Fastify({ logger: false });
  registerControlRoutes(app, managerControl(manager));
  await app.listen({ host: H, port: 0 });
});

after(async () => {
  await app?.close();
  await manager?.stop();
  for (const dcs of clients) dcs.close();
});

async function getCitus(): Promise<CitusStatusBody> {
  const address = app.server.address();
  assert.ok(address !== null && typeof address === 'object');
  const res = await fetch(`http://${H}:${address.port}/citus`, { signal: AbortSignal.timeout(2000) });
  assert.equal(res.status, 200);
  return (await res.json()) as CitusStatusBody;
}

test('before its first read the manager has no metadata to show', () => {
  assert.equal(manager.metadataView(), null);
  assert.equal(
    citusStatusBody(manager.pauseStats(), { metadata: null, membershipWaiting: null, scale: manager.scaleStatus() })
      .metadata,
    null,
  );
});

test('GET /citus shows the pg_dist_node and pg_dist_poolinfo rows the manager wrote, and nothing waiting', async () => {
  await manager.start();
  const body = await waitFor(
    async () => {
      const b = await getCitus();
      return b.metadata !== null && b.metadata.pg_dist_node.length === 2 ? b : null;
    },
    { timeout: 15_000, interval: 20, message: 'the coordinator and its secondary in GET /citus' },
  );
  assert.ok(body);
  assert.equal(body.membership_waiting, null);
  assert.equal(body.pauses.committed, 0);
  assert.equal(body.metadata?.read_at, '2030-01-02T03:04:05.000Z');
  const nodes = body.metadata?.pg_dist_node ?? [];
  assert.deepEqual(nodes.map((n) => [n.groupid, n.noderole, `${n.nodename}:${n.nodeport}`, n.isactive]).sort(), [
    [0, 'primary', `${H}:${coordinator.port}`, true],
    [0, 'secondary', `${H}:21001`, true],
  ]);
  const primary = nodes.find((n) => n.noderole === 'primary');
  assert.deepEqual(body.metadata?.pg_dist_poolinfo, [{ nodeid: primary?.nodeid, poolinfo: `host=${H} port=6432` }]);

  // The same rows as the coordinator has them: the view is what was read, not what was planned.
  const client = await connect();
  try {
    const rows = await client.query('SELECT nodeid, poolinfo FROM pg_catalog.pg_dist_poolinfo ORDER BY nodeid');
    assert.deepEqual(body.metadata?.pg_dist_poolinfo, rows.rows);
  } finally {
    await client.end();
  }
});
