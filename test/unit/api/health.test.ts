// Status codes of the health-check paths, scenario by scenario, as load balancers see them.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { healthCheckForPath, healthStatusCode, type HealthInput } from '../../../src/api/health.ts';
import { publishedTags } from '../../../src/config/tags.ts';

const MB = 1024 * 1024;

const primary: Omit<HealthInput, 'check' | 'query'> = {
  postgres: { state: 'running', role: 'primary', xlog: { location: 100 * MB } },
  isLeader: true,
  paused: false,
  viewKnown: true,
  syncStandby: false,
  leaderOptime: 100 * MB,
  tags: { failover_priority: 1, zone: 'a' },
};

/** A streaming replica `behind` bytes behind the leader's optime of 100 MB. */
function replica(behind: number, extra: Partial<HealthInput> = {}): Omit<HealthInput, 'check' | 'query'> {
  const position = 100 * MB - behind;
  return {
    postgres: {
      state: 'running',
      role: 'replica',
      xlog: { received_location: position, replayed_location: position, replayed_timestamp: null, paused: false },
    },
    isLeader: false,
    paused: false,
    viewKnown: true,
    syncStandby: false,
    leaderOptime: 100 * MB,
    tags: { failover_priority: 1, zone: 'b' },
    ...extra,
  };
}

interface Case {
  name: string;
  path: string;
  query?: Record<string, string | string[]>;
  node: Omit<HealthInput, 'check' | 'query'>;
  expected: 200 | 503;
}

const cases: Case[] = [
  // The leader, a running primary.
  { name: 'leader answers / with 200', path: '/', node: primary, expected: 200 },
  { name: 'leader answers /primary with 200', path: '/primary', node: primary, expected: 200 },
  { name: 'leader answers the old /master with 200', path: '/master', node: primary, expected: 200 },
  { name: 'leader answers /read-write with 200', path: '/read-write', node: primary, expected: 200 },
  { name: 'leader answers /leader with 200', path: '/leader', node: primary, expected: 200 },
  { name: 'leader answers /replica with 503', path: '/replica', node: primary, expected: 503 },
  { name: 'leader answers /read-only with 200', path: '/read-only', node: primary, expected: 200 },
  { name: 'leader answers /health with 200', path: '/health', node: primary, expected: 200 },
  {
    name: 'leader answers /standby-leader with 503 (no standby clusters)',
    path: '/standby-leader',
    node: primary,
    expected: 503,
  },
  { name: 'leader answers /async with 503 (it is no replica)', path: '/async', node: primary, expected: 503 },
  { name: 'leader answers /read-only-sync with 200', path: '/read-only-sync', node: primary, expected: 200 },
  {
    name: 'primary checks ignore tag filters',
    path: '/primary',
    query: { tag_zone: 'elsewhere' },
    node: primary,
    expected: 200,
  },
  {
    name: 'read-only on the leader honours tag filters',
    path: '/read-only',
    query: { tag_zone: 'elsewhere' },
    node: primary,
    expected: 503,
  },
  {
    name: 'a running primary that lost the lock fails /primary',
    path: '/primary',
    node: { ...primary, isLeader: false },
    expected: 503,
  },
  {
    name: 'a lock holder whose PostgreSQL is down still answers /leader with 200',
    path: '/leader',
    node: { ...primary, postgres: { state: 'stopped', role: 'primary' } },
    expected: 200,
  },
  {
    name: 'a lock holder whose PostgreSQL is down fails /health',
    path: '/health',
    node: { ...primary, postgres: { state: 'stopped', role: 'primary' } },
    expected: 503,
  },
  {
    name: 'in pause without any etcd view a running primary answers /primary from its own role',
    path: '/primary',
    node: { ...primary, isLeader: false, paused: true, viewKnown: false, leaderOptime: 0 },
    expected: 200,
  },
  {
    name: 'without an etcd view and not paused a running primary fails /primary',
    path: '/primary',
    node: { ...primary, isLeader: false, viewKnown: false, leaderOptime: 0 },
    expected: 503,
  },
  {
    name: 'a primary reported as master by old status code counts in pause without etcd',
    path: '/leader',
    node: {
      ...primary,
      postgres: { state: 'running', role: 'master' },
      isLeader: false,
      paused: true,
      viewKnown: false,
    },
    expected: 200,
  },

  // A replica.
  { name: 'streaming replica answers /replica with 200', path: '/replica', node: replica(0), expected: 200 },
  { name: 'replica answers / with 503', path: '/', node: replica(0), expected: 503 },
  { name: 'replica answers /primary with 503', path: '/primary', node: replica(0), expected: 503 },
  { name: 'replica answers /leader with 503', path: '/leader', node: replica(0), expected: 503 },
  { name: 'replica answers /read-only with 200', path: '/read-only', node: replica(0), expected: 200 },
  { name: 'replica answers /health with 200', path: '/health', node: replica(0), expected: 200 },
  {
    name: 'replica that is not running fails /replica',
    path: '/replica',
    node: replica(0, { postgres: { state: 'starting', role: 'replica' } }),
    expected: 503,
  },
  {
    name: 'replica in an unknown state fails /read-only',
    path: '/read-only',
    node: replica(0, { postgres: { state: 'unknown', role: 'replica' } }),
    expected: 503,
  },
  {
    name: 'noloadbalance replica fails /replica',
    path: '/replica',
    node: replica(0, { tags: { noloadbalance: true } }),
    expected: 503,
  },
  {
    name: 'noloadbalance replica fails /read-only',
    path: '/read-only',
    node: replica(0, { tags: { noloadbalance: true } }),
    expected: 503,
  },
  {
    name: 'noloadbalance replica still answers /health with 200',
    path: '/health',
    node: replica(0, { tags: { noloadbalance: true } }),
    expected: 200,
  },

  // ?lag=
  {
    name: 'replica within ?lag in bytes answers 200',
    path: '/replica',
    query: { lag: String(2 * MB) },
    node: replica(MB),
    expected: 200,
  },
  {
    name: 'replica further behind than ?lag in bytes answers 503',
    path: '/replica',
    query: { lag: String(MB) },
    node: replica(2 * MB),
    expected: 503,
  },
  {
    name: 'replica exactly ?lag behind is not lagging',
    path: '/replica',
    query: { lag: String(MB) },
    node: replica(MB),
    expected: 200,
  },
  {
    name: '?lag=16MB accepts 15 MB behind',
    path: '/replica',
    query: { lag: '16MB' },
    node: replica(15 * MB),
    expected: 200,
  },
  {
    name: '?lag=16MB rejects 17 MB behind',
    path: '/replica',
    query: { lag: '16MB' },
    node: replica(17 * MB),
    expected: 503,
  },
  {
    name: '?lag=1GB accepts 99 MB behind',
    path: '/replica',
    query: { lag: '1GB' },
    node: replica(99 * MB),
    expected: 200,
  },
  { name: '?lag=64kB rejects 1 MB behind', path: '/replica', query: { lag: '64kB' }, node: replica(MB), expected: 503 },
  {
    name: '?lag also applies to /read-only on a replica',
    path: '/read-only',
    query: { lag: '1MB' },
    node: replica(10 * MB),
    expected: 503,
  },
  {
    name: 'an unparsable ?lag puts no bound on lag',
    path: '/replica',
    query: { lag: 'soon' },
    node: replica(99 * MB),
    expected: 200,
  },
  {
    name: 'a ?lag in a time unit is not a byte amount and puts no bound',
    path: '/replica',
    query: { lag: '10s' },
    node: replica(99 * MB),
    expected: 200,
  },
  {
    name: 'an unknown leader optime never counts as lagging',
    path: '/replica',
    query: { lag: '0' },
    node: replica(50 * MB, { leaderOptime: 0 }),
    expected: 200,
  },
  {
    name: 'the first of repeated ?lag values wins',
    path: '/replica',
    query: { lag: ['1MB', '1GB'] },
    node: replica(10 * MB),
    expected: 503,
  },

  // ?tag_key=value
  {
    name: 'a matching string tag keeps 200',
    path: '/replica',
    query: { tag_zone: 'b' },
    node: replica(0),
    expected: 200,
  },
  {
    name: 'a different tag value gives 503',
    path: '/replica',
    query: { tag_zone: 'a' },
    node: replica(0),
    expected: 503,
  },
  {
    name: 'a tag the member lacks gives 503',
    path: '/replica',
    query: { tag_rack: 'r1' },
    node: replica(0),
    expected: 503,
  },
  {
    name: 'a boolean tag compares as lower-case text',
    path: '/replica',
    query: { tag_nosync: 'true' },
    node: replica(0, { tags: { nosync: true } }),
    expected: 200,
  },
  {
    name: 'a numeric tag compares as text',
    path: '/replica',
    query: { tag_failover_priority: '1' },
    node: replica(0),
    expected: 200,
  },
  {
    name: 'every tag filter must match',
    path: '/replica',
    query: { tag_zone: 'b', tag_failover_priority: '2' },
    node: replica(0),
    expected: 503,
  },
  {
    name: 'a blank tag filter is ignored',
    path: '/replica',
    query: { tag_zone: '' },
    node: replica(0),
    expected: 200,
  },
  {
    name: 'tag filters do not turn a failing check into success',
    path: '/replica',
    query: { tag_zone: 'b' },
    node: replica(0, { postgres: { state: 'stopped', role: 'replica' } }),
    expected: 503,
  },

  // Synchronous replication.
  {
    name: 'a sync standby answers /sync with 200',
    path: '/sync',
    node: replica(0, { syncStandby: true }),
    expected: 200,
  },
  {
    name: 'a sync standby answers /async with 503',
    path: '/async',
    node: replica(0, { syncStandby: true }),
    expected: 503,
  },
  { name: 'an async replica answers /async with 200', path: '/asynchronous', node: replica(0), expected: 200 },
  { name: 'an async replica answers /synchronous with 503', path: '/synchronous', node: replica(0), expected: 503 },
  {
    name: 'an async replica answers /read-only-sync with 503',
    path: '/read-only-sync',
    node: replica(0),
    expected: 503,
  },
  {
    name: 'a sync standby answers /read-only-synchronous with 200',
    path: '/read-only-synchronous',
    node: replica(0, { syncStandby: true }),
    expected: 200,
  },
  {
    name: '/async needs an etcd view',
    path: '/async',
    node: replica(0, { viewKnown: false }),
    expected: 503,
  },
];

describe('healthStatusCode', () => {
  test('the table has at least 25 scenarios', () => {
    assert.ok(cases.length >= 25, `only ${cases.length} cases`);
  });

  for (const c of cases) {
    test(c.name, () => {
      const check = healthCheckForPath(c.path);
      assert.ok(check, `${c.path} is a health path`);
      assert.equal(healthStatusCode({ ...c.node, check, query: c.query ?? {} }), c.expected);
    });
  }
});

describe('healthCheckForPath', () => {
  test('maps / to the primary check', () => {
    assert.equal(healthCheckForPath('/'), 'primary');
  });
  test('does not treat status or unknown paths as health checks', () => {
    assert.equal(healthCheckForPath('/patroni'), null);
    assert.equal(healthCheckForPath('/replicas'), null);
    assert.equal(healthCheckForPath('/toString'), null);
  });
});

test('failover_priority is published only if it says more than nofailover (peers read none as Patroni does)', () => {
  const base = {
    nofailover: false,
    noloadbalance: false,
    clonefrom: false,
    nosync: false,
    nostream: false,
    sync_priority: 1,
  };
  assert.deepEqual(publishedTags({ ...base, failover_priority: 1 }), {});
  assert.deepEqual(publishedTags({ ...base, failover_priority: 3 }), { failover_priority: 3 });
  assert.deepEqual(publishedTags({ ...base, nofailover: true, failover_priority: 0 }), { nofailover: true });
});
