import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatHostPort, parseHostPort, parseListen } from '../../../src/config/hostPort.ts';

test('parseHostPort splits host and port', () => {
  assert.deepEqual(parseHostPort('10.0.0.1:5432', 'x'), { ok: true, value: { host: '10.0.0.1', port: 5432 } });
});

test('parseHostPort accepts bracketed IPv6 and formats it back with brackets', () => {
  const r = parseHostPort('[fe80::1]:8008', 'x');
  assert.deepEqual(r, { ok: true, value: { host: 'fe80::1', port: 8008 } });
  assert.equal(r.ok && formatHostPort(r.value), '[fe80::1]:8008');
});

test('parseHostPort names the path and the value when the port is missing', () => {
  assert.deepEqual(parseHostPort('abc', 'postgresql.listen'), {
    ok: false,
    problem: { path: 'postgresql.listen', message: 'expected host:port, got "abc"' },
  });
});

test('parseHostPort refuses a URL', () => {
  const r = parseHostPort('http://10.0.0.1:2379', 'etcd3.hosts[0]');
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.problem.message : '', /without a URL scheme/);
});

test('parseHostPort refuses a non-string', () => {
  const r = parseHostPort(8008, 'restapi.listen');
  assert.deepEqual(r, { ok: false, problem: { path: 'restapi.listen', message: 'expected host:port, got 8008' } });
});

test('parseListen accepts several comma-separated hosts with one port', () => {
  assert.deepEqual(parseListen('127.0.0.1, 10.0.0.5:5432', 'x'), {
    ok: true,
    value: { hosts: ['127.0.0.1', '10.0.0.5'], port: 5432 },
  });
});

test('parseListen refuses "*" next to another host', () => {
  const r = parseListen('*,10.0.0.5:5432', 'postgresql.listen');
  assert.equal(r.ok, false);
});
