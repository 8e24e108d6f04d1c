// When callbacks fire, from what is done to the local PostgreSQL (the failover, switchover and
// bootstrap sequences are checked in the group simulator): a failed start, a restart, a reload
// or stop of a server that is down, a server already running when the agent starts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withCallbacks } from '../../../src/ha/callbacks.ts';
import type { LocalPostgres } from '../../../src/ha/ports.ts';
import { FakeClock } from './fakes/clock.ts';
import { FakePostgres, PgNetwork, initdbData } from './fakes/postgres.ts';

function setup(role: 'primary' | 'replica'): { pg: FakePostgres; wrapped: LocalPostgres; fired: string[] } {
  const pg = new FakePostgres({
    name: 'm1',
    address: { host: '10.0.0.1', port: 5432 },
    clock: new FakeClock(),
    network: new PgNetwork(),
  });
  pg.seed(initdbData('7300000000000000001', { standbySignal: role === 'replica' }));
  const fired: string[] = [];
  return { pg, wrapped: withCallbacks(pg, (action, r) => fired.push(`${action} ${r}`)), fired };
}

test('a start fires on_start once PostgreSQL answers with its role; a failed one fires nothing', async () => {
  const { pg, wrapped, fired } = setup('primary');
  pg.failNext('start');
  assert.equal((await wrapped.start()).kind, 'exited');
  await assert.rejects(wrapped.status());
  assert.deepEqual(fired, []);
  assert.equal((await wrapped.start()).kind, 'ready');
  assert.deepEqual(fired, []);
  await wrapped.status();
  await wrapped.status();
  assert.deepEqual(fired, ['on_start primary']);
});

test('a restart fires on_restart alone; a reload fires on_reload; nothing while PostgreSQL is down', async () => {
  const { wrapped, fired } = setup('replica');
  wrapped.reload();
  await wrapped.stop('fast');
  assert.deepEqual(fired, []);
  await wrapped.start();
  await wrapped.status();
  await wrapped.restart();
  await wrapped.status();
  wrapped.reload();
  await wrapped.stop('fast');
  await wrapped.stop('fast');
  assert.deepEqual(fired, ['on_start replica', 'on_restart replica', 'on_reload replica', 'on_stop replica']);
});

test('a server running before the agent: on_start with its role at the first status, once', async () => {
  const { pg, wrapped, fired } = setup('replica');
  await pg.start();
  assert.equal(wrapped.isRunning, true, "the rest of the port is the inner one's");
  assert.equal(wrapped.dataDir, pg.dataDir);
  await wrapped.status();
  await wrapped.status();
  assert.deepEqual(fired, ['on_start replica']);
});
