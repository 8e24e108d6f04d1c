// Who may call the REST API's operations (every request but GET, HEAD and OPTIONS), as Patroni's
// check_access: only from restapi.allowlist (and the members, with allowlist_include_members), and
// only with HTTP Basic of restapi.authentication; over fastify's inject.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { allowed, authRefusal, registerAccessCheck, type AccessRules } from '../../../src/api/access.ts';
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
  registerAccessCheck(app, { rules: () => ({ authentication: configured }), memberHosts: () => [] });
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

const NAMES: Record<string, string[]> = { 'db1.example': ['10.1.0.1'], 'db2.example': ['10.1.0.2', 'fd00::2'] };
const fakeResolve = (host: string): Promise<string[]> =>
  NAMES[host] ? Promise.resolve(NAMES[host]) : Promise.reject(new Error(`ENOTFOUND ${host}`));

test('allowed: addresses, CIDR networks of both families and host names, table-driven', async () => {
  const entries = ['127.0.0.1', '192.168.0.0/16', 'fd00:1::/64', 'db2.example', 'gone.example'];
  const cases: Array<[string, boolean]> = [
    ['127.0.0.1', true],
    ['::ffff:127.0.0.1', true],
    ['127.0.0.2', false],
    ['192.168.200.7', true],
    ['192.169.0.1', false],
    ['fd00:1::abcd', true],
    ['fd00:2::1', false],
    ['10.1.0.2', true],
    ['fd00::2', true],
    ['10.1.0.1', false],
  ];
  for (const [ip, expected] of cases) {
    const unresolved: string[] = [];
    assert.equal(await allowed(ip, entries, fakeResolve, (entry) => unresolved.push(entry)), expected, ip);
    assert.deepEqual(unresolved, ['gone.example'], 'a name that does not resolve is reported and allows nobody');
  }
  assert.equal(await allowed('10.0.0.1', [], fakeResolve, () => undefined), false, 'an empty allowlist allows nobody');
});

test('the allowlist refuses other clients with 403 before the credentials are looked at', async () => {
  let rules: AccessRules = { allowlist: ['10.0.0.0/8', 'db1.example'], authentication: ADMIN };
  let otherAsks = 0;
  const app = Fastify({ logger: false });
  registerAccessCheck(app, {
    rules: () => rules,
    memberHosts: () => ['192.168.1.5', 'db2.example'],
    otherMemberHosts: () => {
      otherAsks++;
      return Promise.resolve(['172.16.0.9']);
    },
    resolve: fakeResolve,
  });
  app.post('/switchover', async () => ({ ok: true }));
  app.get('/patroni', async () => ({ ok: true }));
  const post = (remoteAddress: string, authorization?: string) =>
    app.inject({ method: 'POST', url: '/switchover', remoteAddress, headers: authorization ? { authorization } : {} });
  const auth = basicAuthorization(ADMIN);
  try {
    const outsider = await post('192.168.1.5', auth);
    assert.deepEqual([outsider.statusCode, outsider.json()], [403, { error: 'access is denied' }]);
    assert.equal((await post('10.20.30.40')).statusCode, 401, 'inside the list, the credentials are still needed');
    assert.equal((await post('10.20.30.40', auth)).statusCode, 200);
    assert.equal((await post('10.1.0.1', auth)).statusCode, 200, 'a listed host name, resolved');
    assert.equal((await app.inject({ method: 'GET', url: '/patroni', remoteAddress: '192.168.1.5' })).statusCode, 200);
    assert.equal(otherAsks, 0, 'without allowlist_include_members no member is asked for');

    rules = { ...rules, allowlist_include_members: true };
    assert.equal((await post('192.168.1.5', auth)).statusCode, 200, 'a member of the own group');
    assert.equal((await post('10.1.0.2', auth)).statusCode, 200, 'a member by host name');
    assert.equal(otherAsks, 0, 'the other groups are read only when the own group did not allow');
    assert.equal((await post('172.16.0.9', auth)).statusCode, 200, 'a member of another group');
    assert.equal((await post('172.16.0.10', auth)).statusCode, 403);
    assert.equal(otherAsks, 2);

    rules = { allowlist_include_members: true };
    assert.equal((await post('10.20.30.40')).statusCode, 403, 'members alone: nobody else');
  } finally {
    await app.close();
  }
});
