// Failsafe mode on a real group of three: with etcd stopped and every member up, the primary
// stays writable for the whole outage (it calls POST /failsafe on the others every cycle) and
// nobody else leads; with a replica down as well, the primary fences itself as without failsafe.
// The members serve their REST API over TLS, require a client certificate from the CA
// (verify_client required) and have restapi.authentication: POST /failsafe must carry all of it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { keyLayout, KEY } from '../../../src/dcs/keys.ts';
import type { RestapiTls } from '../../../src/config/types.ts';
import { installMemberTls, readTlsMaterial } from '../../../src/memberTls.ts';
import { certificates, useHarness, waitFor, waitForLeader, type TestCluster } from '../../harness/index.ts';
import { createMarkerTable, finishGroup, insertMarker, startGroup, writable } from './helpers.ts';

useHarness();

const TIMING = { ttl: 10, loopWait: 2, retryTimeout: 3 } as const;

async function readFailsafeKey(cluster: TestCluster): Promise<Record<string, string> | null> {
  const key = keyLayout({ namespace: 'service', scope: cluster.scope, group: null }).key(KEY.failsafe);
  const client = new Etcd3({ hosts: cluster.etcd.endpoint });
  try {
    const text = await client.get(key).string();
    return text === null ? null : (JSON.parse(text) as Record<string, string>);
  } finally {
    client.close();
  }
}

async function failsafeGroup() {
  const files = await certificates();
  const tls: RestapiTls = {
    certfile: files.serverCert,
    keyfile: files.serverKey,
    cafile: files.ca,
    verify_client: 'required',
  };
  // The test's own requests (the harness asks GET /patroni) go with the same certificate.
  await installMemberTls(readTlsMaterial(tls), true);
  const group = await startGroup({
    ...TIMING,
    dcsExtra: { failsafe_mode: true },
    restapiExtra: { ...tls, authentication: { username: 'operator', password: 'op-secret' } },
  });
  assert.match(group.leader.apiUrl, /^https:/);
  await waitFor(async () => Object.keys((await readFailsafeKey(group.cluster)) ?? {}).length === 3, {
    timeout: 30_000,
    message: 'the leader lists every member in the failsafe key',
  });
  const published = Object.values((await readFailsafeKey(group.cluster)) ?? {});
  assert.ok(
    published.every((url) => url.startsWith('https://')),
    `api_urls are https: ${published.join(', ')}`,
  );
  await createMarkerTable(group.leader);
  return group;
}

test('etcd stopped with every member up: the primary stays writable for three ttl', { timeout: 180_000 }, async (t) => {
  const group = await failsafeGroup();
  const { cluster, leader } = group;
  await cluster.etcd.stop();
  const stoppedAt = Date.now();
  let id = 0;
  while (Date.now() - stoppedAt < 3 * TIMING.ttl * 1000) {
    await insertMarker(leader, ++id, 'during the outage');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  t.diagnostic(`${id} writes over ${Date.now() - stoppedAt} ms without etcd, every one accepted`);
  const status = await leader.status();
  assert.equal((status as Record<string, unknown> | null)?.failsafe_mode_is_active, true, 'GET /patroni says so');
  await cluster.etcd.start();
  const after = await waitForLeader(cluster, null, { timeout: 60_000 });
  assert.equal(after.name, leader.name, 'the same primary leads once etcd is back');
  await insertMarker(leader, ++id, 'after the outage');
  await finishGroup(group);
});

test('etcd stopped with a replica down too: the primary fences itself', { timeout: 180_000 }, async (t) => {
  const group = await failsafeGroup();
  const { cluster, leader, replicas } = group;
  await replicas[0]!.killAll();
  await cluster.etcd.stop();
  const stoppedAt = Date.now();
  await waitFor(async () => !(await writable(leader)), {
    timeout: 4 * TIMING.ttl * 1000,
    interval: 100,
    message: `${leader.name} stops being writable`,
  });
  t.diagnostic(`${leader.name} stopped being writable ${Date.now() - stoppedAt} ms after etcd stopped`);
  assert.equal(await writable(replicas[1]!), false, 'the replica left did not promote');
  await cluster.etcd.start();
  replicas[0]!.start();
  await waitForLeader(cluster, null, { timeout: 60_000 });
  await finishGroup(group);
});
