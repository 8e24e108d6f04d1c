// GET /metrics's content: Patroni's names, types and value rules from a status snapshot, and
// Shardherd's HA loop and Citus manager figures, read back through a strict text-format parser.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { AgentMetrics } from '../../../src/api/metrics.ts';
import { epochSeconds, paddedVersion, patroniSamples } from '../../../src/api/patroniMetrics.ts';
import type { StatusSnapshot } from '../../../src/api/status.ts';
import type { MetadataStatus, NodeView } from '../../../src/citus/metadataView.ts';
import type { PauseStats } from '../../../src/citus/pause.ts';
import type { GroupView } from '../../../src/dcs/types.ts';
import { parsePromText, sampleOf } from '../../harness/promText.ts';

function snapshot(over: Partial<StatusSnapshot> = {}): StatusSnapshot {
  return {
    scope: 'demo',
    name: 'node1',
    version: '0.1.0',
    postgres: {
      state: 'running',
      role: 'primary',
      postmaster_start_time: '2026-11-26 13:00:00.250000 +00:00',
      server_version: 160004,
      timeline: 3,
      xlog: { location: 67108864 },
    },
    isLeader: true,
    paused: false,
    tags: {},
    view: { leader: { name: 'node1' }, members: [], config: null, sync: null } as unknown as GroupView,
    dcsLastSeen: 1_800_000_000,
    systemIdentifier: '1',
    pendingRestart: true,
    failsafeActive: false,
    ...over,
  };
}

const value = (samples: ReturnType<typeof patroniSamples>, name: string): number | undefined =>
  samples.find((s) => s.name === name)?.value;

test('Patroni value rules: a running primary', () => {
  const s = patroniSamples(snapshot());
  assert.equal(value(s, 'patroni_version'), 100);
  assert.equal(value(s, 'patroni_postgres_running'), 1);
  assert.equal(value(s, 'patroni_postmaster_start_time'), Date.UTC(2026, 10, 26, 13) / 1000 + 0.25);
  assert.equal(value(s, 'patroni_primary'), 1);
  assert.equal(value(s, 'patroni_master'), 1);
  assert.equal(value(s, 'patroni_replica'), 0);
  assert.equal(value(s, 'patroni_xlog_location'), 67108864);
  assert.equal(value(s, 'patroni_xlog_received_location'), 0);
  assert.equal(value(s, 'patroni_postgres_streaming'), 0);
  assert.equal(value(s, 'patroni_postgres_timeline'), 3);
  assert.equal(value(s, 'patroni_cluster_unlocked'), 0);
  assert.equal(value(s, 'patroni_pending_restart'), 1);
  assert.equal(value(s, 'patroni_is_paused'), 0);
  assert.equal(value(s, 'patroni_dcs_last_seen'), 1_800_000_000);
  assert.equal(value(s, 'patroni_postgres_state'), 5);
  assert.equal(s.find((x) => x.name === 'patroni_xlog_location')?.type, 'counter');
});

test('Patroni value rules: a stopped member without a leader has no streaming figures', () => {
  const s = patroniSamples(
    snapshot({
      postgres: { state: 'stopped', role: 'replica' },
      view: null,
      paused: true,
      pendingRestart: false,
    }),
  );
  assert.equal(value(s, 'patroni_postgres_running'), 0);
  assert.equal(value(s, 'patroni_postmaster_start_time'), 0);
  assert.equal(value(s, 'patroni_replica'), 1);
  assert.equal(value(s, 'patroni_postgres_streaming'), undefined);
  assert.equal(value(s, 'patroni_postgres_server_version'), 0);
  assert.equal(value(s, 'patroni_cluster_unlocked'), 1);
  assert.equal(value(s, 'patroni_is_paused'), 1);
  assert.equal(value(s, 'patroni_postgres_state'), 12);
});

test('version padding and start times', () => {
  assert.equal(paddedVersion('4.0.2'), 40002);
  assert.equal(paddedVersion('12.3.45'), 120345);
  assert.equal(epochSeconds(undefined), 0);
  assert.equal(epochSeconds('2026-01-02 03:04:05 +02:00'), Date.UTC(2026, 0, 2, 1, 4, 5) / 1000);
  assert.equal(epochSeconds('garbage'), 0);
});

const NODE = (groupid: number, nodeport: number, noderole: NodeView['noderole']): NodeView => ({
  nodeid: nodeport,
  groupid,
  nodename: '127.0.0.1',
  nodeport,
  noderole,
  hasmetadata: true,
  isactive: true,
  metadatasynced: true,
  shouldhaveshards: true,
});

test('the exposition parses; Citus figures only where the manager runs', async () => {
  const metrics = new AgentMetrics({ scope: 'demo', name: 'node1' });
  metrics.haCycle(12);
  metrics.reconciled(true, 4);
  metrics.reconciled(false, 30);
  metrics.pauseOpened();
  metrics.pauseEnded(1, 'committed', 900);
  metrics.leaderToMetadata(1, 1500);

  const plain = parsePromText(await metrics.render(snapshot(), { pauses: null, metadata: null }));
  assert.deepEqual(sampleOf(plain, 'patroni_primary').labels, { scope: 'demo', name: 'node1' });
  assert.equal(sampleOf(plain, 'shardherd_ha_loop_duration_seconds_count').value, 1);
  assert.equal(sampleOf(plain, 'shardherd_citus_manager_running').value, 0);
  assert.equal(plain.has('shardherd_citus_reconciles_total'), false);

  const pauses: PauseStats = {
    open: [2],
    held: [2],
    opened: 1,
    committed: 1,
    rolledBack: 0,
    durationsMs: [900],
    maxDurationMs: 900,
  };
  const metadata = {
    metadata: { nodes: [NODE(0, 1, 'primary'), NODE(1, 2, 'primary'), NODE(1, 3, 'secondary'), NODE(2, 4, 'primary')] },
    membershipWaiting: null,
  } as unknown as MetadataStatus;
  const managed = parsePromText(await metrics.render(snapshot(), { pauses, metadata }));
  assert.equal(sampleOf(managed, 'shardherd_citus_manager_running').value, 1);
  assert.equal(sampleOf(managed, 'shardherd_citus_groups').value, 3);
  assert.equal(sampleOf(managed, 'shardherd_citus_nodes', { role: 'primary' }).value, 3);
  assert.equal(sampleOf(managed, 'shardherd_citus_nodes', { role: 'secondary' }).value, 1);
  assert.equal(sampleOf(managed, 'shardherd_citus_pauses_open', { group: '1' }).value, 0);
  assert.equal(sampleOf(managed, 'shardherd_citus_pauses_open', { group: '2' }).value, 1);
  assert.equal(sampleOf(managed, 'shardherd_citus_reconciles_total').value, 1);
  assert.equal(sampleOf(managed, 'shardherd_citus_reconcile_errors_total').value, 1);
  assert.equal(sampleOf(managed, 'shardherd_citus_reconcile_duration_seconds_count').value, 2);
  assert.equal(sampleOf(managed, 'shardherd_citus_pauses_committed_total').value, 1);
  assert.equal(
    sampleOf(managed, 'shardherd_citus_pause_duration_seconds_bucket', { outcome: 'committed', le: '1' }).value,
    1,
  );
  assert.equal(sampleOf(managed, 'shardherd_citus_leader_to_metadata_seconds_sum').value, 1.5);
  assert.equal(managed.get('patroni_xlog_location')?.type, 'counter');
  assert.equal(managed.get('shardherd_citus_pause_duration_seconds')?.type, 'histogram');

  // A second agent in the same process keeps its own series.
  const other = new AgentMetrics({ scope: 'demo', name: 'node2' });
  const text = await other.render(snapshot({ name: 'node2' }), { pauses: null, metadata: null });
  assert.equal(sampleOf(parsePromText(text), 'shardherd_ha_loop_duration_seconds_count').value, 0);
});

// The installed Patroni's own handler (Debian's python3 package), where there is one: every metric
// it serves, Shardherd serves under the same name and type.
const PATRONI_API = '/usr/lib/python3/dist-packages/patroni/api.py';

test(
  "every metric of the installed Patroni's do_GET_metrics, with its type",
  { skip: !existsSync(PATRONI_API) },
  () => {
    const source = readFileSync(PATRONI_API, 'utf8');
    const handler = source.slice(source.indexOf('def do_GET_metrics'), source.indexOf('def _read_json_content'));
    const theirs = [...handler.matchAll(/# TYPE (patroni_\w+) (\w+)/g)].map((m) => [m[1], m[2]]);
    assert.ok(theirs.length >= 20, `found ${theirs.length} metrics in ${PATRONI_API}`);
    const ours = new Map(patroniSamples(snapshot()).map((s) => [s.name, s.type]));
    for (const [name, type] of theirs) assert.equal(ours.get(name!), type, `${name} served as a ${type}`);
  },
);
