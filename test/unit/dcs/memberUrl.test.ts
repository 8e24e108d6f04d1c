import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memberAddress } from '../../../src/dcs/memberUrl.ts';

test('a member address comes from its conn_url, IPv6 without brackets, the port defaulting to 5432', () => {
  assert.deepEqual(memberAddress({ conn_url: 'postgres://10.0.0.1:6432/postgres' }), { host: '10.0.0.1', port: 6432 });
  assert.deepEqual(memberAddress({ conn_url: 'postgresql://[::1]/postgres' }), { host: '::1', port: 5432 });
});

test('a member without a usable conn_url has no address', () => {
  for (const data of [
    {},
    { conn_url: 42 },
    { conn_url: '' },
    { conn_url: 'http://h:1/' },
    { conn_url: 'postgres://h:0/' },
  ]) {
    assert.equal(memberAddress(data), null, JSON.stringify(data));
  }
});
