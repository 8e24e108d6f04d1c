// The REST API over real HTTP: a fastify server on a free loopback port, fed by a plain object
// implementing AgentStatusSource (the interface the agent fills), asserted with fetch.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { startApiServer } from '../../../src/api/server.ts';
import type { AgentStatusSource, PostgresStatusReport } from '../../../src/api/types.ts';
import type { Tags } from '../../../src/config/types.ts';
import type { GroupView, Member, MemberData } from '../../../src/dcs/types.ts';
import { freePort, onCleanup, useHarness, waitFor } from '../../harness/index.ts';

useHarness();

const MB = 1024 * 1024;
const LEADER_OPTIME = 100 * MB;

const baseTags: Tags = {
  nofailover: false,
  noloadbalance: false,
  clonefrom: false,
  nosync: false,
  nostream: false,
  failover_priority: 1,
  sync_priority: 1,
  zone: 'b',
};

function member(name: string, data: Partial<MemberData>): Member {
  const n = name.slice(-1);
  return {
    name,
    data: {
      conn_url: `postgres://127.0.0.${n}:5432/postgres`,
      api_url: `http://127.0.0.${n}:8008/patroni`,
      state: 'running',
      role: 'replica',
      version: '0.1.0',
      ...data,
    },
    modRevision: '10',
    lease: '7',
  };
}

function groupView(overrides: Partial<GroupView> = {}): GroupView {
  return {
    group: null,
    initialize: '7300000000000000001',
    config: { value: { ttl: 30, loop_wait: 10, retry_timeout: 10 }, modRevision: '4' },
    leader: { name: 'node1', modRevision: '5', createRevision: '5', lease: '7' },
    members: [
      member('node1', { role: 'primary', xlog_location: LEADER_OPTIME, timeline: 3 }),
      member('node2', { xlog_location: LEADER_OPTIME - 2 * MB, timeline: 3, tags: { zone: 'b' } }),
      member('node3', { xlog_location: LEADER_OPTIME - 20 * MB, timeline: 3 }),
    ],
    sync: null,
    failover: null,
    history: {
      value: [[1, 50331808, 'no recovery target specified', '2024-05-01T10:00:00+00:00', 'node1']],
      modRevision: '8',
    },
    status: { optime: LEADER_OPTIME },
    failsafe: null,
    ...overrides,
  };
}

const primaryReport: PostgresStatusReport = {
  state: 'running',
  role: 'primary',
  postmaster_start_time: '2024-05-01 10:00:00.000000+00:00',
  server_version: 150007,
  xlog: { location: LEADER_OPTIME },
  timeline: 3,
  replication: [
    {
      usename: 'replicator',
      application_name: 'node2',
      client_addr: '127.0.0.2',
      state: 'streaming',
      sync_state: 'async',
      sync_priority: 0,
    },
  ],
};

function replicaReport(behind: number): PostgresStatusReport {
  const position = LEADER_OPTIME - behind;
  return {
    state: 'running',
    role: 'replica',
    postmaster_start_time: '2024-05-01 10:00:05.000000+00:00',
    server_version: 150007,
    xlog: { received_location: position, replayed_location: position, replayed_timestamp: null, paused: false },
    timeline: 3,
    replication_state: 'streaming',
  };
}

/** The agent's side of the API as plain, mutable data. */
class TestAgent implements AgentStatusSource {
  readonly scope = 'demo';
  readonly version = '0.1.0';
  name = 'node1';
  report: PostgresStatusReport = primaryReport;
  leader = true;
  paused = false;
  tagValues: Tags = { ...baseTags };
  view: GroupView | null = groupView();
  etcdReachable = true;
  lastSeen = 1714557600;
  cycleAt = Date.now();
  ttlSeconds = 30;
  sysid: string | null = '7300000000000000001';
  restartPending = false;
  failsafe = false;
  freshReads = 0;

  async postgresStatus(): Promise<PostgresStatusReport> {
    return this.report;
  }
  isLeader(): boolean {
    return this.leader;
  }
  isPaused(): boolean {
    return this.paused;
  }
  tags(): Tags {
    return this.tagValues;
  }
  lastView(): GroupView | null {
    return this.view;
  }
  async freshView(): Promise<GroupView> {
    this.freshReads += 1;
    if (!this.etcdReachable || this.view === null) throw new Error('etcd: connection refused');
    return this.view;
  }
  dcsLastSeen(): number {
    return this.lastSeen;
  }
  lastCycleAt(): number {
    return this.cycleAt;
  }
  ttl(): number {
    return this.ttlSeconds;
  }
  systemIdentifier(): string | null {
    return this.sysid;
  }
  pendingRestart(): boolean {
    return this.restartPending;
  }
  failsafeActive(): boolean {
    return this.failsafe;
  }
}

function asReplica(agent: TestAgent, behind = 0): TestAgent {
  agent.name = 'node2';
  agent.leader = false;
  agent.report = replicaReport(behind);
  return agent;
}

async function serve(agent: TestAgent, logger?: pino.Logger): Promise<string> {
  const server = await startApiServer(agent, { host: '127.0.0.1', port: await freePort(), logger });
  onCleanup('api server', () => server.close());
  return server.address;
}

async function statusOf(base: string, path: string, method = 'GET'): Promise<number> {
  const response = await fetch(base + path, { method });
  await response.arrayBuffer();
  return response.status;
}

async function getJson(base: string, path: string): Promise<{ status: number; body: unknown; type: string | null }> {
  const response = await fetch(base + path);
  return { status: response.status, type: response.headers.get('content-type'), body: await response.json() };
}

test('startApiServer reports the loopback address it listens on', async () => {
  const port = await freePort();
  const server = await startApiServer(new TestAgent(), { host: '127.0.0.1', port });
  onCleanup('api server', () => server.close());
  assert.equal(server.address, `http://127.0.0.1:${port}`);
  assert.equal(await statusOf(server.address, '/patroni'), 200);
});

test('the leader answers 200 on primary paths and 503 on /replica', async () => {
  const base = await serve(new TestAgent());
  for (const path of ['/', '/primary', '/master', '/read-write', '/leader', '/read-only', '/health']) {
    assert.equal(await statusOf(base, path), 200, path);
  }
  for (const path of ['/replica', '/standby-leader', '/async']) {
    assert.equal(await statusOf(base, path), 503, path);
  }
});

test('a health GET carries the full status as JSON, also when the check fails', async () => {
  const base = await serve(new TestAgent());
  const { status, body, type } = await getJson(base, '/replica');
  assert.equal(status, 503);
  assert.match(type ?? '', /^application\/json/);
  assert.equal((body as { role: string }).role, 'primary');
});

test('a streaming replica answers 200 on /replica and /read-only and 503 on primary paths', async () => {
  const base = await serve(asReplica(new TestAgent()));
  assert.equal(await statusOf(base, '/replica'), 200);
  assert.equal(await statusOf(base, '/read-only'), 200);
  assert.equal(await statusOf(base, '/async'), 200);
  for (const path of ['/', '/primary', '/read-write', '/leader']) {
    assert.equal(await statusOf(base, path), 503, path);
  }
});

test('a lagging replica fails /replica?lag= under its lag and passes above it', async () => {
  const base = await serve(asReplica(new TestAgent(), 10 * MB));
  assert.equal(await statusOf(base, '/replica?lag=1MB'), 503);
  assert.equal(await statusOf(base, `/replica?lag=${MB}`), 503);
  assert.equal(await statusOf(base, '/replica?lag=16MB'), 200);
  assert.equal(await statusOf(base, `/replica?lag=${11 * MB}`), 200);
  assert.equal(await statusOf(base, '/replica'), 200);
  assert.equal(await statusOf(base, '/read-only?lag=1MB'), 503);
});

test('a noloadbalance replica fails /replica and /read-only but passes /health', async () => {
  const agent = asReplica(new TestAgent());
  agent.tagValues = { ...baseTags, noloadbalance: true };
  const base = await serve(agent);
  assert.equal(await statusOf(base, '/replica'), 503);
  assert.equal(await statusOf(base, '/read-only'), 503);
  assert.equal(await statusOf(base, '/health'), 200);
});

test('tag filters select replicas by their tags', async () => {
  const base = await serve(asReplica(new TestAgent()));
  assert.equal(await statusOf(base, '/replica?tag_zone=b'), 200);
  assert.equal(await statusOf(base, '/replica?tag_zone=a'), 503);
  assert.equal(await statusOf(base, '/replica?tag_rack=r1'), 503);
  // Built-in flags that are off, and a failover_priority nobody set, are not published, so they cannot be matched.
  assert.equal(await statusOf(base, '/replica?tag_zone=b&tag_failover_priority=1'), 503);
  assert.equal(await statusOf(base, '/replica?tag_nofailover=false'), 503);
});

test('HEAD and OPTIONS answer the same codes as GET with an empty body', async () => {
  const primaryBase = await serve(new TestAgent());
  const replicaBase = await serve(asReplica(new TestAgent(), 10 * MB));
  const expectations: Array<[string, string, number]> = [
    [primaryBase, '/primary', 200],
    [primaryBase, '/', 200],
    [primaryBase, '/replica', 503],
    [replicaBase, '/primary', 503],
    [replicaBase, '/replica', 200],
    [replicaBase, '/replica?lag=1MB', 503],
    [replicaBase, '/replica?tag_zone=b', 200],
    [replicaBase, '/read-only', 200],
  ];
  for (const [base, path, code] of expectations) {
    for (const method of ['HEAD', 'OPTIONS']) {
      const response = await fetch(base + path, { method });
      assert.equal(response.status, code, `${method} ${path}`);
      assert.equal(await response.text(), '', `${method} ${path} has no body`);
    }
  }
});

test('/patroni on the leader serves Patroni status fields', async () => {
  const agent = new TestAgent();
  agent.restartPending = true;
  const base = await serve(agent);
  const { status, body } = await getJson(base, '/patroni');
  assert.equal(status, 200);
  assert.deepEqual(body, {
    state: 'running',
    postmaster_start_time: '2024-05-01 10:00:00.000000+00:00',
    role: 'primary',
    server_version: 150007,
    xlog: { location: LEADER_OPTIME },
    timeline: 3,
    replication: primaryReport.replication,
    dcs_last_seen: 1714557600,
    tags: { zone: 'b' },
    database_system_identifier: '7300000000000000001',
    pending_restart: true,
    patroni: { version: '0.1.0', scope: 'demo', name: 'node1' },
  });
});

test('/patroni on a replica serves received and replayed positions and the replication state', async () => {
  const base = await serve(asReplica(new TestAgent(), 2 * MB));
  const { body } = await getJson(base, '/patroni');
  const status = body as Record<string, unknown>;
  assert.equal(status.role, 'replica');
  assert.deepEqual(status.xlog, {
    received_location: LEADER_OPTIME - 2 * MB,
    replayed_location: LEADER_OPTIME - 2 * MB,
    replayed_timestamp: null,
    paused: false,
  });
  assert.equal(status.replication_state, 'streaming');
  assert.equal('cluster_unlocked' in status, false);
  assert.deepEqual(status.patroni, { version: '0.1.0', scope: 'demo', name: 'node2' });
});

test('/patroni reports cluster_unlocked without a leader or without any view', async () => {
  const agent = asReplica(new TestAgent());
  agent.view = groupView({ leader: null });
  const base = await serve(agent);
  assert.equal(((await getJson(base, '/patroni')).body as Record<string, unknown>).cluster_unlocked, true);
  agent.view = null;
  assert.equal(((await getJson(base, '/patroni')).body as Record<string, unknown>).cluster_unlocked, true);
});

test('/patroni reports pause, failsafe and a sync standby role', async () => {
  const agent = asReplica(new TestAgent());
  agent.paused = true;
  agent.failsafe = true;
  agent.view = groupView({
    config: { value: { ttl: 30, synchronous_mode: true }, modRevision: '4' },
    sync: { value: { leader: 'node1', sync_standby: 'node2' }, modRevision: '9' },
  });
  const base = await serve(agent);
  const status = (await getJson(base, '/patroni')).body as Record<string, unknown>;
  assert.equal(status.pause, true);
  assert.equal(status.failsafe_mode_is_active, true);
  assert.equal(status.sync_standby, true);
  assert.equal(await statusOf(base, '/sync'), 200);
  assert.equal(await statusOf(base, '/async'), 503);
});

test('/cluster serves members with roles, addresses and lag from a fresh etcd read', async () => {
  const agent = new TestAgent();
  agent.view = groupView({
    failover: {
      value: { leader: 'node1', member: 'node2', scheduled_at: '2030-01-01T00:00:00+00:00' },
      modRevision: '11',
    },
  });
  const base = await serve(agent);
  const { status, body } = await getJson(base, '/cluster');
  assert.equal(status, 200);
  assert.equal(agent.freshReads, 1);
  assert.deepEqual(body, {
    members: [
      {
        name: 'node1',
        role: 'leader',
        state: 'running',
        api_url: 'http://127.0.0.1:8008/patroni',
        host: '127.0.0.1',
        port: 5432,
        timeline: 3,
      },
      {
        name: 'node2',
        role: 'replica',
        state: 'running',
        api_url: 'http://127.0.0.2:8008/patroni',
        host: '127.0.0.2',
        port: 5432,
        timeline: 3,
        tags: { zone: 'b' },
        lag: 2 * MB,
      },
      {
        name: 'node3',
        role: 'replica',
        state: 'running',
        api_url: 'http://127.0.0.3:8008/patroni',
        host: '127.0.0.3',
        port: 5432,
        timeline: 3,
        lag: 20 * MB,
      },
    ],
    scheduled_switchover: { at: '2030-01-01T00:00:00+00:00', from: 'node1', to: 'node2' },
  });
});

test('/cluster answers 503 with a JSON error when etcd cannot be read', async () => {
  const agent = new TestAgent();
  agent.etcdReachable = false;
  const base = await serve(agent);
  const { status, body } = await getJson(base, '/cluster');
  assert.equal(status, 503);
  assert.match((body as { error: string }).error, /connection refused/);
});

test('/history lists the history key and is empty without one', async () => {
  const agent = new TestAgent();
  const base = await serve(agent);
  assert.deepEqual((await getJson(base, '/history')).body, [
    [1, 50331808, 'no recovery target specified', '2024-05-01T10:00:00+00:00', 'node1'],
  ]);
  agent.view = groupView({ history: null });
  const empty = await getJson(base, '/history');
  assert.equal(empty.status, 200);
  assert.deepEqual(empty.body, []);
});

test('/config serves the dynamic config and 502 when the key is absent', async () => {
  const agent = new TestAgent();
  const base = await serve(agent);
  assert.deepEqual((await getJson(base, '/config')).body, { ttl: 30, loop_wait: 10, retry_timeout: 10 });
  agent.view = groupView({ config: null });
  const missing = await getJson(base, '/config');
  assert.equal(missing.status, 502);
  assert.match(missing.type ?? '', /^application\/json/);
  assert.equal(typeof (missing.body as { error: unknown }).error, 'string');
});

test('/liveness fails once the HA loop has stalled beyond ttl, and not in pause', async () => {
  const agent = new TestAgent();
  const base = await serve(agent);
  assert.equal(await statusOf(base, '/liveness'), 200);
  agent.cycleAt = Date.now() - (agent.ttlSeconds + 5) * 1000;
  assert.equal(await statusOf(base, '/liveness'), 503);
  assert.equal(await statusOf(base, '/liveness', 'HEAD'), 503);
  agent.paused = true;
  assert.equal(await statusOf(base, '/liveness'), 200);
});

test('/liveness gives a replica twice the ttl', async () => {
  const agent = asReplica(new TestAgent());
  agent.cycleAt = Date.now() - (agent.ttlSeconds + 5) * 1000;
  const base = await serve(agent);
  assert.equal(await statusOf(base, '/liveness'), 200);
  agent.cycleAt = Date.now() - (2 * agent.ttlSeconds + 5) * 1000;
  assert.equal(await statusOf(base, '/liveness'), 503);
});

test('/readiness: the leader is ready, a replica only while running with a view of the group', async () => {
  const leader = new TestAgent();
  leader.report = { state: 'stopped', role: 'primary' };
  assert.equal(await statusOf(await serve(leader), '/readiness'), 200);

  const replica = asReplica(new TestAgent());
  const base = await serve(replica);
  assert.equal(await statusOf(base, '/readiness'), 200);
  replica.view = null;
  assert.equal(await statusOf(base, '/readiness'), 503);
  replica.view = groupView();
  replica.report = { state: 'starting', role: 'replica' };
  assert.equal(await statusOf(base, '/readiness'), 503);
});

test('unknown paths and methods answer 404 with a JSON error', async () => {
  const base = await serve(new TestAgent());
  const { status, body, type } = await getJson(base, '/no-such-thing');
  assert.equal(status, 404);
  assert.match(type ?? '', /^application\/json/);
  assert.match((body as { error: string }).error, /no-such-thing/);
  const post = await fetch(`${base}/switchover`, {
    method: 'POST',
    body: '{}',
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(post.status, 404);
  assert.equal(typeof ((await post.json()) as { error: unknown }).error, 'string');
});

test('over a real socket the allowlist sees the client address: loopback refused unless listed', async () => {
  let allowlist = ['10.0.0.0/8'];
  const port = await freePort();
  const access = { rules: () => ({ allowlist }), memberHosts: () => [] };
  const server = await startApiServer(new TestAgent(), { host: '127.0.0.1', port, access });
  onCleanup('api server', () => server.close());
  const post = () => fetch(`${server.address}/reload`, { method: 'POST' }).then((r) => r.status);
  assert.equal(await post(), 403);
  assert.equal(await statusOf(server.address, '/patroni'), 200, 'reads stay open');
  allowlist = ['127.0.0.0/8'];
  assert.equal(await post(), 404, 'let through: this server has no member routes');
});

test('the extra headers configured now come with every answer, refusals included', async () => {
  let headers: Record<string, string> | undefined = { 'x-frame-options': 'DENY' };
  const access = { rules: () => ({ allowlist: ['10.0.0.0/8'] }), memberHosts: () => [] };
  const server = await startApiServer(new TestAgent(), {
    host: '127.0.0.1',
    port: await freePort(),
    access,
    extraHeaders: () => headers,
  });
  onCleanup('api server', () => server.close());
  const answer = (path: string, method = 'GET') => fetch(`${server.address}${path}`, { method });
  assert.equal((await answer('/patroni')).headers.get('x-frame-options'), 'DENY');
  const refused = await answer('/reload', 'POST');
  assert.deepEqual([refused.status, refused.headers.get('x-frame-options')], [403, 'DENY']);
  assert.equal((await answer('/no-such-path')).headers.get('x-frame-options'), 'DENY');
  headers = undefined;
  assert.equal((await answer('/patroni')).headers.get('x-frame-options'), null, 'a reload removed them');
});

test('requests are logged at debug level through the given pino logger', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(
        ...chunk
          .toString()
          .split('\n')
          .filter((l) => l !== ''),
      );
      done();
    },
  });
  const base = await serve(asReplica(new TestAgent()), pino({ level: 'debug' }, sink));
  assert.equal(await statusOf(base, '/primary', 'OPTIONS'), 503);
  // The event is written once the response has gone out, so it may trail the answer.
  const logged = await waitFor(
    () =>
      lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((e) => e.msg === 'api request' && e.url === '/primary'),
    { timeout: 5000, message: 'no api request event was logged' },
  );
  assert.ok(logged);
  assert.equal(logged.method, 'OPTIONS');
  assert.equal(logged.statusCode, 503);
});
