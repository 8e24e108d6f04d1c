// GET /metrics on real agents (groups 0 and 1, two members each, stand-in Citus): scraped from a
// primary and a replica and parsed as Prometheus text, Patroni's metrics match what PostgreSQL and
// GET /patroni say, the coordinator leader's Citus figures match pg_dist_node; after a switchover
// of group 1 the pause histogram and the new-leader-to-metadata figure have moved.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { useHarness, waitFor, waitForLeader, waitForReplicas, type TestMember } from '../../harness/index.ts';
import { parsePromText, sampleOf, type PromFamily } from '../../harness/promText.ts';
import {
  expectedRows,
  finishCitusCluster,
  groupLeader,
  otherMember,
  startCitusCluster,
  waitForRows,
  type RunningCitusCluster,
} from '../citus/clusterSteps.ts';

useHarness();

const GROUPS = [0, 1];
let running: RunningCitusCluster;

before(
  async () => {
    running = await startCitusCluster({ groups: GROUPS });
  },
  { timeout: 120_000 },
);

after(async () => {
  if (running !== undefined) await finishCitusCluster(running);
});

async function scrape(member: TestMember): Promise<Map<string, PromFamily>> {
  const res = await fetch(`${member.apiUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  return parsePromText(await res.text());
}

async function patroni(member: TestMember): Promise<Record<string, unknown>> {
  const res = await fetch(`${member.apiUrl}/patroni`, { signal: AbortSignal.timeout(5000) });
  return (await res.json()) as Record<string, unknown>;
}

/** Rows each group's leader and other member should have in pg_dist_node. */
function wantedRows(): string[] {
  return expectedRows(
    GROUPS.map((g) => ({
      leader: groupLeader(running, g),
      secondaries: [otherMember(running.cluster, groupLeader(running, g))],
    })),
  );
}

const value = (families: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number =>
  sampleOf(families, name, labels).value;

test(
  'Patroni metrics of a primary and a replica match the server; the manager counts a switchover',
  { timeout: 90_000 },
  async (t) => {
    const coordinator = groupLeader(running, 0);
    await waitForRows(coordinator, wantedRows());

    // A primary: role, WAL position and start time as PostgreSQL reports them.
    const [primaryMetrics, primaryStatus] = await Promise.all([scrape(coordinator), patroni(coordinator)]);
    const labels = { scope: running.cluster.scope, name: coordinator.name };
    assert.deepEqual(sampleOf(primaryMetrics, 'patroni_primary').labels, labels);
    assert.equal(value(primaryMetrics, 'patroni_primary'), 1);
    assert.equal(value(primaryMetrics, 'patroni_replica'), 0);
    assert.equal(value(primaryMetrics, 'patroni_postgres_running'), 1);
    assert.equal(value(primaryMetrics, 'patroni_cluster_unlocked'), 0);
    assert.equal(value(primaryMetrics, 'patroni_postgres_timeline'), primaryStatus.timeline);
    assert.equal(value(primaryMetrics, 'patroni_postgres_server_version'), primaryStatus.server_version);
    const [pgNow] = (
      await coordinator.query<{ lsn: string; start: number; version: string }>(
        "select pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text as lsn, " +
          'extract(epoch from pg_postmaster_start_time())::float8 as start, ' +
          "current_setting('server_version_num') as version",
      )
    ).rows;
    assert.ok(pgNow);
    const location = value(primaryMetrics, 'patroni_xlog_location');
    assert.ok(location > 0 && location <= Number(pgNow.lsn), `xlog_location ${location} <= ${pgNow.lsn}`);
    assert.ok(Math.abs(value(primaryMetrics, 'patroni_postmaster_start_time') - pgNow.start) < 0.001);
    assert.equal(value(primaryMetrics, 'patroni_postgres_server_version'), Number(pgNow.version));
    assert.equal(primaryMetrics.get('patroni_xlog_location')?.type, 'counter');
    const lastSeen = value(primaryMetrics, 'patroni_dcs_last_seen');
    assert.ok(Math.abs(lastSeen - Date.now() / 1000) < 30, `dcs_last_seen ${lastSeen} is recent`);
    assert.ok(value(primaryMetrics, 'shardherd_ha_loop_duration_seconds_count') > 0);

    // The coordinator leader runs the manager: its view of pg_dist_node.
    assert.equal(value(primaryMetrics, 'shardherd_citus_manager_running'), 1);
    assert.equal(value(primaryMetrics, 'shardherd_citus_groups'), 2);
    assert.equal(value(primaryMetrics, 'shardherd_citus_nodes', { role: 'primary' }), 2);
    assert.equal(value(primaryMetrics, 'shardherd_citus_nodes', { role: 'secondary' }), 2);
    assert.equal(value(primaryMetrics, 'shardherd_citus_pauses_open', { group: '1' }), 0);
    assert.ok(value(primaryMetrics, 'shardherd_citus_reconciles_total') > 0);

    // A replica of group 1: received and replayed positions, streaming, no manager.
    const worker = groupLeader(running, 1);
    const replica = otherMember(running.cluster, worker);
    const [replicaMetrics, replicaStatus] = await Promise.all([scrape(replica), patroni(replica)]);
    assert.deepEqual(sampleOf(replicaMetrics, 'patroni_replica').labels, {
      scope: running.cluster.scope,
      name: replica.name,
    });
    assert.equal(value(replicaMetrics, 'patroni_replica'), 1);
    assert.equal(value(replicaMetrics, 'patroni_primary'), 0);
    assert.equal(value(replicaMetrics, 'patroni_xlog_location'), 0);
    assert.equal(value(replicaMetrics, 'patroni_postgres_streaming'), 1);
    const xlog = replicaStatus.xlog as { received_location: number; replayed_location: number };
    assert.ok(value(replicaMetrics, 'patroni_xlog_received_location') >= xlog.received_location - 16 * 1024 * 1024);
    assert.ok(value(replicaMetrics, 'patroni_xlog_replayed_location') > 0);
    assert.equal(value(replicaMetrics, 'patroni_postgres_timeline'), replicaStatus.timeline);
    assert.equal(value(replicaMetrics, 'shardherd_citus_manager_running'), 0);
    assert.equal(replicaMetrics.has('shardherd_citus_groups'), false);

    // A switchover of group 1: a pause opens and commits, the new leader reaches pg_dist_node.
    const before = {
      // A labelled histogram has no series before its first observation.
      pauses: primaryMetrics
        .get('shardherd_citus_pause_duration_seconds')!
        .samples.filter((s) => s.name.endsWith('_count') && s.labels.outcome === 'committed')
        .reduce((n, s) => n + s.value, 0),
      lag: value(primaryMetrics, 'shardherd_citus_leader_to_metadata_seconds_count'),
    };
    const res = await fetch(`${worker.apiUrl}/switchover`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ leader: worker.name, candidate: replica.name }),
      signal: AbortSignal.timeout(60_000),
    });
    assert.equal(res.status, 200, await res.text());
    running.leaders.set(1, await waitForLeader(running.cluster, 1, { timeout: 30_000 }));
    assert.equal(groupLeader(running, 1).name, replica.name);
    await waitForReplicas(running.cluster, 1, { timeout: 30_000 });
    await waitForRows(coordinator, wantedRows());
    const afterSwitch = await waitFor(
      async () => {
        const m = await scrape(coordinator);
        return value(m, 'shardherd_citus_leader_to_metadata_seconds_count') > before.lag ? m : undefined;
      },
      { timeout: 10_000, interval: 200, message: 'the new-leader-to-metadata histogram moved' },
    );
    assert.ok(afterSwitch);
    assert.ok(
      value(afterSwitch, 'shardherd_citus_pause_duration_seconds_count', { outcome: 'committed' }) > before.pauses,
    );
    assert.ok(value(afterSwitch, 'shardherd_citus_pauses_opened_total') >= 1);
    assert.ok(value(afterSwitch, 'shardherd_citus_pauses_committed_total') >= 1);
    const lagSum = value(afterSwitch, 'shardherd_citus_leader_to_metadata_seconds_sum');
    assert.ok(lagSum > 0 && lagSum < 30, `new leader to metadata took ${lagSum} s`);
    const pauseSum = value(afterSwitch, 'shardherd_citus_pause_duration_seconds_sum', { outcome: 'committed' });
    t.diagnostic(`new leader to metadata ${Math.round(lagSum * 1000)} ms, pause ${Math.round(pauseSum * 1000)} ms`);
    const promoted = await scrape(replica);
    assert.equal(value(promoted, 'patroni_primary'), 1);
    assert.equal(value(promoted, 'patroni_postgres_timeline'), (replicaStatus.timeline! as number) + 1);
  },
);
