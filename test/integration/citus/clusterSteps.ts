// Shared steps of the Citus cluster tests: start real agents of several groups under the
// two-primaries checker, read pg_dist_node as a user would, and time etcd and metadata changes.

import assert from 'node:assert/strict';
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { Dcs } from '../../../src/dcs/dcs.ts';
import type { MemberData } from '../../../src/dcs/types.ts';
import {
  CITUS_DATABASE,
  CLUSTER_PASSWORDS,
  onCleanup,
  startCluster,
  startPrimaryChecker,
  waitFor,
  waitForLeader,
  waitForReplicas,
  type PrimaryChecker,
  type StartClusterOptions,
  type TestCluster,
  type TestMember,
} from '../../harness/index.ts';
import { CitusApp, memberAddress, RoutedWriter } from '../../harness/citusApp.ts';

export { CitusApp, memberAddress, RoutedWriter } from '../../harness/citusApp.ts';

/** The timing the Show list runs under. */
export const TIMING = { ttl: 10, loopWait: 2, retryTimeout: 3 } as const;

/** One row of pg_dist_node, as a test compares it. */
export interface DistNode {
  nodeid: number;
  groupid: number;
  nodename: string;
  nodeport: number;
  noderole: 'primary' | 'secondary';
}

export interface RunningCitusCluster {
  cluster: TestCluster;
  /** Reads the cluster's members each round: groups added later are checked too. */
  checker: PrimaryChecker;
  /** The leader of each group once all had come up; tests update it as leaders change. */
  leaders: Map<number, TestMember>;
}

/** The recorded leader of `group`; fails the test when there is none. */
export function groupLeader(running: RunningCitusCluster, group: number): TestMember {
  const leader = running.leaders.get(group);
  assert.ok(leader, `group ${group} has a leader`);
  return leader;
}

/** Starts every member under the checker and waits for one leader and one streaming replica per group. */
export async function startCitusCluster(
  opts: StartClusterOptions & { groups: number[] },
): Promise<RunningCitusCluster> {
  const cluster = await startCluster({ membersPerGroup: 2, ...TIMING, ...opts });
  keepLogs(cluster);
  const checker = startPrimaryChecker(cluster);
  cluster.startAll();
  const leaders = await waitForGroups(cluster, opts.groups);
  return { cluster, checker, leaders };
}

/** With SHARDHERD_TEST_LOG_DIR set, the agents' logs (added groups too) are copied there before the temp dirs go. */
function keepLogs(cluster: TestCluster): void {
  const root = process.env.SHARDHERD_TEST_LOG_DIR;
  if (!root) return;
  onCleanup(`keep the agent logs of ${cluster.scope}`, () => {
    const dir = join(root, cluster.scope);
    mkdirSync(dir, { recursive: true });
    for (const m of cluster.members) {
      try {
        cpSync(m.logFile, join(dir, `${m.name}.log`));
      } catch {
        // Never started: no log.
      }
    }
  });
}

/** Waits until each group has exactly one writable leader and all its other members stream from it. */
export async function waitForGroups(cluster: TestCluster, groups: number[]): Promise<Map<number, TestMember>> {
  const leaders = new Map<number, TestMember>();
  for (const group of groups) {
    leaders.set(group, await waitForLeader(cluster, group, { timeout: 90_000 }));
    await waitForReplicas(cluster, group, { timeout: 90_000 });
  }
  return leaders;
}

/** Stops every agent, then asserts that no checker ever saw two writable primaries in one group. */
export async function finishCitusCluster(running: RunningCitusCluster): Promise<void> {
  await running.cluster.stopAll();
  const report = await running.checker.stop();
  assert.ok(report.samples > 0, 'the primary checker took samples');
  assert.deepEqual(report.violations, [], 'never two writable primaries in one group');
}

/** A connection to a member's citus database that stays open, for polling every few ms. */
export async function citusClient(member: TestMember): Promise<pg.Client> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: member.pgPort,
    user: 'postgres',
    password: CLUSTER_PASSWORDS.superuser,
    database: CITUS_DATABASE,
    connectionTimeoutMillis: 3000,
    query_timeout: 10_000,
    application_name: 'shardherd-test-dist-node',
  });
  // The member may die while the test polls; its failed queries are what the test sees.
  client.on('error', () => {});
  await client.connect();
  onCleanup(`close the pg_dist_node connection to ${member.name}`, () => client.end().catch(() => {}));
  return client;
}

/** pg_dist_node sorted by group, role (primary first) and port. */
export async function distNodes(source: pg.Client | TestMember): Promise<DistNode[]> {
  const sql =
    'select nodeid, groupid, nodename, nodeport, noderole::text as noderole ' +
    'from pg_catalog.pg_dist_node order by groupid, noderole, nodeport';
  const result =
    source instanceof pg.Client
      ? await source.query<DistNode>(sql)
      : await source.query<DistNode>(sql, [], { database: CITUS_DATABASE });
  return result.rows;
}

/** The rows without nodeids, one line each: `<group> <role> <host>:<port>`. */
export function describeRows(rows: readonly Omit<DistNode, 'nodeid'>[]): string[] {
  return rows.map((r) => `${r.groupid} ${r.noderole} ${r.nodename}:${r.nodeport}`).sort();
}

/**
 * What pg_dist_node must hold: per group, its leader as primary and each running replica named
 * as secondary, all at 127.0.0.1 and the member's PostgreSQL port.
 */
export function expectedRows(groups: { leader: TestMember; secondaries: TestMember[] }[]): string[] {
  const rows: Omit<DistNode, 'nodeid'>[] = [];
  for (const { leader, secondaries } of groups) {
    const groupid = leader.group ?? -1;
    rows.push({ groupid, nodename: '127.0.0.1', nodeport: leader.pgPort, noderole: 'primary' });
    for (const s of secondaries)
      rows.push({ groupid, nodename: '127.0.0.1', nodeport: s.pgPort, noderole: 'secondary' });
  }
  return describeRows(rows);
}

/** Waits until the coordinator's pg_dist_node holds exactly `want`; returns the rows. */
export async function waitForRows(coordinator: TestMember, want: string[], timeout = 30_000): Promise<DistNode[]> {
  let last: string[] = [];
  try {
    const rows = await waitFor(
      async () => {
        const rows = await distNodes(coordinator);
        last = describeRows(rows);
        return JSON.stringify(last) === JSON.stringify(want) ? rows : undefined;
      },
      { timeout, interval: 100, message: `pg_dist_node on ${coordinator.name} holds the expected rows` },
    );
    assert.ok(rows);
    return rows;
  } catch (err) {
    throw new Error(
      `${(err as Error).message}\nwanted:\n  ${want.join('\n  ')}\n` +
        `last read:\n  ${last.join('\n  ')}\n${coordinator.log(3000)}`,
      {
        cause: err,
      },
    );
  }
}

/** The first moment (performance.now()) etcd showed a member key of a group running as primary. */
export interface PrimaryKeyWatch {
  /** Resolves with the time and member name of the first such key seen after the watch began. */
  readonly seen: Promise<{ at: number; member: string }>;
  close(): void;
}

/**
 * Watches the scope from now and notes when a member of `group` (other than `except`) first
 * has a member key with role primary and state running, as the manager's own watch sees it.
 */
export async function watchPrimaryKey(
  cluster: TestCluster,
  group: number,
  except: string | null = null,
): Promise<PrimaryKeyWatch> {
  const dcs = new Dcs({
    hosts: [cluster.etcd.endpoint],
    namespace: 'service',
    scope: cluster.scope,
    group,
    retryTimeout: TIMING.retryTimeout,
    ttl: TIMING.ttl,
  });
  const forget = onCleanup('close the test etcd client', () => dcs.close());
  const close = (): void => {
    dcs.close();
    forget();
  };
  const view = await dcs.loadCluster({ allGroups: true });
  let found: (value: { at: number; member: string }) => void = () => {};
  const seen = new Promise<{ at: number; member: string }>((resolve) => {
    found = resolve;
  });
  dcs.watch(view.revision, (events) => {
    const at = performance.now();
    for (const event of events) {
      if (event.group !== group || event.type !== 'put' || !event.name.startsWith('members/') || event.value === null)
        continue;
      const member = event.name.slice('members/'.length);
      if (member === except) continue;
      const data = JSON.parse(event.value) as MemberData;
      if (data.role === 'primary' && data.state === 'running') found({ at, member });
    }
  });
  return { seen, close };
}

/**
 * Polls pg_dist_node every 20 ms on an open connection until `done` holds for the rows; returns
 * the moment (performance.now()) the answer that showed it arrived, and those rows.
 */
export async function pollRows(
  client: pg.Client,
  done: (rows: DistNode[]) => boolean,
  opts: { timeout: number; message: string },
): Promise<{ at: number; rows: DistNode[] }> {
  const seen = await waitFor(
    async () => {
      const rows = await distNodes(client);
      return done(rows) ? { at: performance.now(), rows } : undefined;
    },
    { timeout: opts.timeout, interval: 20, message: opts.message },
  );
  assert.ok(seen);
  return seen;
}

/** Waits until the coordinator leader's pg_dist_node names each group's recorded leader as its primary. */
export async function waitForGroupPrimaries(running: RunningCitusCluster, groups: readonly number[]): Promise<void> {
  const client = await citusClient(groupLeader(running, 0));
  try {
    await pollRows(
      client,
      (rows) => groups.every((g) => primaryRow(rows, g)?.nodeport === groupLeader(running, g).pgPort),
      { timeout: 30_000, message: 'every group primary is registered' },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The group's primary row, or undefined. */
export function primaryRow(rows: readonly DistNode[], group: number): DistNode | undefined {
  return rows.find((r) => r.groupid === group && r.noderole === 'primary');
}

/** The other member of a two-member group. */
export function otherMember(cluster: TestCluster, member: TestMember): TestMember {
  const others = cluster.group(member.group).filter((m) => m !== member);
  assert.equal(others.length, 1, `group ${member.group} has two members`);
  const other = others[0];
  assert.ok(other);
  return other;
}

/**
 * The application's table for `group`, set up once the coordinator has Citus and registered the
 * group: on the stand-in a table on the group's recorded leader, on real Citus a distributed table.
 */
export async function setupApp(running: RunningCitusCluster, group: number): Promise<CitusApp> {
  const app = await CitusApp.detect(memberAddress(groupLeader(running, 0)));
  await app.setup(group, [memberAddress(groupLeader(running, group))]);
  return app;
}

/** The application writing into `group` through the recorded coordinator leader, one write after the other. */
export function connectWriter(
  running: RunningCitusCluster,
  app: CitusApp,
  applicationName: string,
  group = 1,
): Promise<RoutedWriter> {
  return RoutedWriter.connect(app, memberAddress(groupLeader(running, 0)), { group, applicationName });
}
