// The pooler probe: the address in a poolinfo value, and a real TCP connect to it.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { poolerAddress, probePooler } from '../../../src/citus/poolerProbe.ts';

test('the TCP address of a poolinfo value; a unix socket or a bad port names none', () => {
  assert.deepEqual(poolerAddress('host=10.0.0.5 port=6432'), { host: '10.0.0.5', port: 6432 });
  assert.deepEqual(poolerAddress("port=6433 host='pool a'"), { host: 'pool a', port: 6433 });
  assert.deepEqual(poolerAddress('host=pool'), { host: 'pool', port: 5432 });
  assert.equal(poolerAddress('host=/var/run/pgbouncer port=6432'), null);
  assert.equal(poolerAddress('port=6432'), null);
  assert.equal(poolerAddress('host=pool port=70000'), null);
});

test('a listening pooler answers; a closed port is reported with the reason', async () => {
  const server = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  assert.equal(await probePooler(`host=127.0.0.1 port=${address.port}`), null);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.match((await probePooler(`host=127.0.0.1 port=${address.port}`)) ?? '', /ECONNREFUSED/);
});
