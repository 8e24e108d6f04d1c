// Who may call the REST API's operations: with restapi.authentication every request but GET, HEAD
// and OPTIONS needs HTTP Basic with those credentials, as Patroni's check_access; over fastify's inject.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { authRefusal, registerAccessCheck } from '../../../src/api/access.ts';
import type { UserAuth } from '../../../src/config/types.ts';
import { basicAuthorization } from '../../../src/httpClient.ts';

const ADMIN: UserAuth = { username: 'admin', password: 's3cret' };

test('authRefusal: what a header grants, table-driven', () => {
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const cases: Array<[UserAuth | undefined, string | undefined, string | null]> = [
    [undefined, undefined, null],
    [undefined, 'Basic garbage', null],
    [ADMIN, undefined, 'no auth header received'],
    [ADMIN, basic('admin', 's3cret'), null],
    [ADMIN, basic('admin', 's3cre'), 'not authenticated'],
    [ADMIN, basic('Admin', 's3cret'), 'not authenticated'],
    [ADMIN, `Bearer ${Buffer.from('admin:s3cret').toString('base64')}`, 'not authenticated'],
    [ADMIN, '', 'not authenticated'],
    [{ username: 'u', password: 'p:with:colons' }, basic('u', 'p:with:colons'), null],
  ];
  for (const [expected, header, refusal] of cases) assert.equal(authRefusal(expected, header), refusal, String(header));
  assert.equal(basicAuthorization(ADMIN), basic('admin', 's3cret'));
});

test('operations need the credentials configured now; status and health paths stay open', async () => {
  let configured: UserAuth | undefined = ADMIN;
  const app = Fastify({ logger: false });
  registerAccessCheck(app, () => configured);
  let reloads = 0;
  app.post('/reload', async () => ({ reloads: ++reloads }));
  app.route({ method: ['GET', 'HEAD', 'OPTIONS'], url: '/primary', handler: async () => ({ role: 'primary' }) });
  try {
    const post = (authorization?: string) =>
      app.inject({ method: 'POST', url: '/reload', headers: authorization ? { authorization } : {} });

    const bare = await post();
    assert.equal(bare.statusCode, 401);
    assert.equal(bare.headers['www-authenticate'], 'Basic realm="Shardherd"');
    assert.deepEqual(bare.json(), { error: 'no auth header received' });
    const wrong = await post(basicAuthorization({ username: 'admin', password: 'guess' }));
    assert.deepEqual([wrong.statusCode, wrong.json()], [401, { error: 'not authenticated' }]);
    assert.equal(reloads, 0, 'a refused request never reaches its handler');
    assert.equal((await post(basicAuthorization(ADMIN))).statusCode, 200);
    for (const method of ['GET', 'HEAD', 'OPTIONS'] as const)
      assert.equal((await app.inject({ method, url: '/primary' })).statusCode, 200, method);

    // A reload changed the credentials: the next request is checked against the new ones.
    configured = { username: 'admin', password: 'rotated' };
    assert.equal((await post(basicAuthorization(ADMIN))).statusCode, 401);
    assert.equal((await post(basicAuthorization(configured))).statusCode, 200);
    configured = undefined;
    assert.equal((await post()).statusCode, 200);
    assert.equal(reloads, 3);
  } finally {
    await app.close();
  }
});
