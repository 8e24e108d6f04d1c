// Key layout: the exact paths Patroni 3.0.2 uses, and parsing them back.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { basePath, keyLayout, memberName, parseKey, prefixRangeEnd } from '../../../src/dcs/keys.ts';

describe('keyLayout', () => {
  test('a cluster without citus keeps keys directly below /<namespace>/<scope>/', () => {
    const l = keyLayout({ namespace: 'service', scope: 'demo', group: null });
    assert.equal(l.scopePrefix, '/service/demo/');
    assert.equal(l.groupPrefix, '/service/demo/');
    assert.equal(l.key('leader'), '/service/demo/leader');
    assert.equal(l.key('optime/leader'), '/service/demo/optime/leader');
    assert.equal(l.member('pg-1'), '/service/demo/members/pg-1');
  });

  test('a citus group adds its number as a path level', () => {
    const l = keyLayout({ namespace: 'service', scope: 'demo', group: 2 });
    assert.equal(l.scopePrefix, '/service/demo/');
    assert.equal(l.groupPrefix, '/service/demo/2/');
    assert.equal(l.key('config'), '/service/demo/2/config');
    assert.equal(l.member('w2a'), '/service/demo/2/members/w2a');
  });

  test('key and member accept another group for coordinator-side writes', () => {
    const l = keyLayout({ namespace: 'service', scope: 'demo', group: 0 });
    assert.equal(l.key('leader', 3), '/service/demo/3/leader');
    assert.equal(l.member('x', 1), '/service/demo/1/members/x');
    assert.equal(l.key('leader'), '/service/demo/0/leader');
  });

  test('namespace slashes are collapsed like Patroni does', () => {
    assert.equal(basePath('/service/', 'demo'), '/service/demo');
    assert.equal(basePath('//a//b/', 'demo'), '/a/b/demo');
    assert.equal(
      keyLayout({ namespace: '/service/', scope: 'demo', group: null }).key('leader'),
      '/service/demo/leader',
    );
  });

  test('a negative or fractional group is refused', () => {
    assert.throws(() => keyLayout({ namespace: 'service', scope: 'demo', group: -1 }), RangeError);
    assert.throws(() => keyLayout({ namespace: 'service', scope: 'demo', group: 1.5 }), RangeError);
  });
});

describe('parseKey', () => {
  const cases: Array<[string, boolean, string, ReturnType<typeof parseKey>]> = [
    ['plain key', false, '/service/demo/leader', { group: null, name: 'leader' }],
    ['plain member', false, '/service/demo/members/a', { group: null, name: 'members/a' }],
    ['other scope sharing a name prefix', false, '/service/demo2/leader', null],
    ['the prefix itself', false, '/service/demo/', null],
    ['citus key', true, '/service/demo/1/leader', { group: 1, name: 'leader' }],
    ['citus coordinator member', true, '/service/demo/0/members/c', { group: 0, name: 'members/c' }],
    ['citus key without group level', true, '/service/demo/leader', null],
    ['citus group with a leading zero', true, '/service/demo/01/leader', null],
    ['citus group that is not a number', true, '/service/demo/x/leader', null],
    ['citus group with nothing below', true, '/service/demo/1/', null],
  ];
  for (const [what, citus, key, expected] of cases) {
    test(`${what}: ${key} -> ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(parseKey('/service/demo/', citus, key), expected);
    });
  }

  test('the layout parses what it builds', () => {
    const l = keyLayout({ namespace: 'ns', scope: 's', group: 7 });
    assert.deepEqual(l.parse(l.member('m1')), { group: 7, name: 'members/m1' });
    assert.deepEqual(l.parse(l.key('leader', 3)), { group: 3, name: 'leader' });
  });
});

describe('memberName', () => {
  test('only direct children of members/ are members', () => {
    assert.equal(memberName('members/a'), 'a');
    assert.equal(memberName('members/'), null);
    assert.equal(memberName('members/a/b'), null);
    assert.equal(memberName('leader'), null);
  });
});

describe('prefixRangeEnd', () => {
  test('increments the last byte', () => {
    assert.equal(prefixRangeEnd(Buffer.from('/service/demo/')).toString(), '/service/demo0');
  });
  test('drops trailing 0xff bytes before incrementing', () => {
    assert.deepEqual(prefixRangeEnd(Buffer.from([0x61, 0xff, 0xff])), Buffer.from([0x62]));
  });
  test('an all-0xff prefix ranges to the end of the keyspace', () => {
    assert.deepEqual(prefixRangeEnd(Buffer.from([0xff])), Buffer.from([0]));
  });
});
