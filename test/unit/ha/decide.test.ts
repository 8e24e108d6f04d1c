// Scenario tables for the pure HA decision: each row is one situation of a group and the actions
// (and reason) decide() must answer with; invariants are then checked over every row and a sweep.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decide } from '../../../src/ha/decide.ts';
import type { ActionKind, DecideInput, Decision, DecidedRole, PeerAnswer } from '../../../src/ha/types.ts';
import {
  asLeader,
  config,
  input,
  leaderMember,
  local,
  MB,
  member,
  peer,
  SELF,
  T0,
  underLeader,
  view,
} from './fixtures.ts';

interface Scenario {
  name: string;
  input: DecideInput;
  /** Peer answers: the first call must ask (for `asks`, when given), the second gets these. */
  answers?: Record<string, PeerAnswer>;
  asks?: string[];
  /** Expected action kinds in order, without the trailing touchMember (checked as an invariant). */
  kinds: ActionKind[];
  reason?: RegExp;
  role?: DecidedRole;
  check?: (d: Decision) => void;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Runs a scenario (both phases when it has answers) and returns the final decision. */
function play(s: Scenario): Decision {
  const first = decide(deepFreeze(structuredClone(s.input)));
  if (!s.answers) return first;
  assert.deepEqual(
    first.actions.map((a) => a.kind),
    ['askPeers'],
    `expected a peer question first, got: ${first.reason}`,
  );
  const ask = first.actions[0];
  if (s.asks && ask.kind === 'askPeers') assert.deepEqual(ask.members, s.asks);
  return decide(deepFreeze({ ...structuredClone(s.input), peers: { answers: s.answers } }));
}

function kindsOf(d: Decision): ActionKind[] {
  return d.actions.map((a) => a.kind).filter((k) => k !== 'touchMember');
}

function runTable(title: string, rows: Scenario[]): void {
  describe(title, () => {
    for (const s of rows) {
      test(s.name, () => {
        const d = play(s);
        assert.deepEqual(kindsOf(d), s.kinds, `reason: ${d.reason}`);
        if (s.reason) assert.match(d.reason, s.reason);
        if (s.role) assert.equal(d.role, s.role);
        s.check?.(d);
      });
    }
  });
}

function actionOf<K extends ActionKind>(d: Decision, kind: K): Extract<Decision['actions'][number], { kind: K }> {
  const a = d.actions.find((x) => x.kind === kind);
  assert.ok(a, `no ${kind} action in: ${d.actions.map((x) => x.kind).join(', ')}`);
  return a as Extract<Decision['actions'][number], { kind: K }>;
}

const all: Scenario[] = [];
function table(title: string, rows: Scenario[]): void {
  all.push(...rows);
  runTable(title, rows);
}

// ---------------------------------------------------------------------------------------------

table('empty data directory', [
  {
    name: 'no initialize key, no leader and no data: races to bootstrap',
    input: input({ local: local.noData(), view: view({ initialize: null }) }),
    kinds: ['bootstrap'],
    reason: /bootstrap a new cluster/,
  },
  {
    name: 'a nofailover member never bootstraps the cluster',
    input: input({ local: local.noData(), view: view({ initialize: null }), tags: { nofailover: true } }),
    kinds: ['wait'],
    reason: /nofailover/,
  },
  {
    name: 'with a leader and no data: clones from the leader',
    input: underLeader({ local: local.noData() }),
    kinds: ['clone'],
    check: (d) => assert.equal(actionOf(d, 'clone').from, 'n2'),
  },
  {
    name: 'a running member tagged clonefrom is cloned from instead of the leader',
    input: underLeader({
      local: local.noData(),
      viewSpec: {
        members: [
          member('n1'),
          leaderMember('n2'),
          member('n4', { tags: { clonefrom: true } }),
          member('n3', { tags: { clonefrom: true } }),
        ],
      },
    }),
    kinds: ['clone'],
    reason: /replica n3 \(tagged clonefrom\)/,
    check: (d) => assert.equal(actionOf(d, 'clone').from, 'n3'),
  },
  {
    name: 'a clonefrom member that is not running is passed over for the leader',
    input: underLeader({
      local: local.noData(),
      viewSpec: {
        members: [member('n1'), leaderMember('n2'), member('n3', { state: 'stopped', tags: { clonefrom: true } })],
      },
    }),
    kinds: ['clone'],
    check: (d) => assert.equal(actionOf(d, 'clone').from, 'n2'),
  },
  {
    name: 'a leader key without the leader member key: waits to clone',
    input: underLeader({ local: local.noData(), viewSpec: { members: [member('n1')] } }),
    kinds: ['wait'],
    reason: /no member key/,
  },
  {
    name: 'initialized cluster without a leader and no data: waits',
    input: input({ local: local.noData() }),
    kinds: ['wait'],
    reason: /no leader to clone from/,
  },
  {
    name: 'an empty initialize value means another member is bootstrapping: waits',
    input: input({ local: local.noData(), view: view({ initialize: '' }) }),
    kinds: ['wait'],
    reason: /another member is bootstrapping/,
  },
  {
    name: 'paused with no data: neither bootstraps nor clones',
    input: input({ local: local.noData(), view: view({ initialize: null }), config: config({ pause: true }) }),
    kinds: ['wait'],
    reason: /paused/,
  },
  {
    name: 'data directory vanished while holding the leader key: releases it',
    input: asLeader({ local: local.noData() }),
    kinds: ['releaseLock'],
    role: 'uninitialized',
  },
]);

table('system identity', [
  {
    name: 'stopped data of another cluster refuses to join and is not started',
    input: underLeader({ local: local.stopped({ systemId: '7399999999999999999' }) }),
    kinds: ['wait'],
    reason: /differs from the cluster's .*refusing to join/,
  },
  {
    name: 'a running replica of another cluster is stopped',
    input: underLeader({ local: local.replica({ systemId: '7399999999999999999' }) }),
    kinds: ['stopPostgres'],
    reason: /refusing to join/,
  },
  {
    name: 'a foreign primary holding the leader key is stopped and releases the key',
    input: asLeader({ local: local.primary(0x5000000, { systemId: '7399999999999999999' }) }),
    kinds: ['demote', 'releaseLock'],
    check: (d) => assert.equal(actionOf(d, 'demote').mode, 'offline'),
  },
  {
    name: 'paused with a foreign system id: releases the key but keeps PostgreSQL running',
    input: asLeader({
      local: local.primary(0x5000000, { systemId: '7399999999999999999' }),
      config: config({ pause: true }),
    }),
    kinds: ['releaseLock'],
  },
  {
    name: 'data but no initialize key and no leader: claims initialize with its system id before starting',
    input: input({ local: local.stopped(), view: view({ initialize: null }) }),
    kinds: ['claimInitialize', 'follow', 'startPostgres'],
    check: (d) => assert.equal(actionOf(d, 'claimInitialize').systemId, '7300000000000000001'),
  },
  {
    name: 'no initialize key while running as a replica without leader: refuses to take part',
    input: input({ local: local.replica(), view: view({ initialize: null }) }),
    kinds: ['wait'],
    reason: /start the agent of the primary first/,
  },
  {
    name: 'a leader that finds initialize missing writes it back while keeping the lock',
    input: asLeader({ viewSpec: { initialize: null } }),
    kinds: ['claimInitialize', 'updateLock'],
  },
]);

table('leader keeps or loses the lock', [
  {
    name: 'the leader refreshes its lock every cycle, publishing its WAL position',
    input: asLeader(),
    kinds: ['updateLock'],
    reason: /n1 is the leader with the lock/,
    role: 'primary',
    check: (d) => assert.equal(actionOf(d, 'updateLock').optime, 0x5000000),
  },
  {
    name: 'a primary that sees the leader key held by another member demotes at once',
    input: asLeader({ viewSpec: { leader: 'n2' } }),
    kinds: ['demote'],
    reason: /held by n2/,
    role: 'demoted',
    check: (d) => assert.equal(actionOf(d, 'demote').mode, 'immediate'),
  },
  {
    name: 'a refused lock refresh in the last cycle demotes the primary',
    input: asLeader({
      lastCycle: { failed: { action: { kind: 'updateLock', optime: 1 }, message: 'compare failed' } },
    }),
    kinds: ['demote'],
    reason: /refresh was refused/,
  },
  {
    name: 'a running primary in a group without leader key takes the key without a race',
    input: input({ local: local.primary(), view: view() }),
    kinds: ['acquireLock', 'updateLock'],
    role: 'primary',
  },
  {
    name: 'paused: a primary without the lock is not demoted',
    input: asLeader({ viewSpec: { leader: 'n2' }, config: config({ pause: true }) }),
    kinds: ['wait'],
    reason: /not demoting in pause/,
  },
  {
    name: 'paused: the leader keeps refreshing its lock',
    input: asLeader({ config: config({ pause: true }) }),
    kinds: ['updateLock'],
  },
  {
    name: 'paused: a refused refresh does not demote',
    input: asLeader({
      config: config({ pause: true }),
      lastCycle: { failed: { action: { kind: 'updateLock', optime: 1 }, message: 'compare failed' } },
    }),
    kinds: ['wait'],
  },
]);

table('etcd unreachable (self-fencing)', [
  {
    name: 'a primary keeps running while its lock was confirmed less than retry_timeout ago',
    input: asLeader({
      dcs: { kind: 'unreachable', since: T0 - 4000, error: 'timeout' },
      lock: { kind: 'held', confirmedAt: T0 - 5000 },
    }),
    kinds: ['wait'],
    reason: /demoting if not confirmed within 5s/,
  },
  {
    name: 'a primary whose lock is unconfirmed for retry_timeout demotes offline',
    input: asLeader({
      dcs: { kind: 'unreachable', since: T0 - 9000, error: 'timeout' },
      lock: { kind: 'held', confirmedAt: T0 - 10_000 },
    }),
    kinds: ['demote'],
    reason: /self-fencing/,
    check: (d) => assert.equal(actionOf(d, 'demote').mode, 'offline'),
  },
  {
    name: 'a primary that never confirmed its lock demotes offline at once',
    input: input({ local: local.primary(), dcs: { kind: 'unreachable', since: T0, error: 'refused' } }),
    kinds: ['demote'],
  },
  {
    name: 'a replica keeps replicating while etcd is unreachable',
    input: underLeader({ dcs: { kind: 'unreachable', since: T0 - 60_000, error: 'refused' } }),
    kinds: ['wait'],
    reason: /leaving PostgreSQL as it is/,
  },
  {
    name: 'a stopped member does not start while etcd is unreachable',
    input: underLeader({ local: local.stopped(), dcs: { kind: 'unreachable', since: T0, error: 'refused' } }),
    kinds: ['wait'],
  },
  {
    name: 'paused: a primary keeps running without etcd',
    input: asLeader({
      config: config({ pause: true }),
      dcs: { kind: 'unreachable', since: T0 - 60_000, error: 'x' },
      lock: { kind: 'held', confirmedAt: T0 - 60_000 },
    }),
    kinds: ['wait'],
  },
  {
    name: 'a primary still starting is fenced like a running one',
    input: asLeader({
      local: local.starting('primary', T0 - 1000),
      dcs: { kind: 'unreachable', since: T0 - 20_000, error: 'x' },
      lock: { kind: 'held', confirmedAt: T0 - 20_000 },
    }),
    kinds: ['demote'],
  },
  {
    name: 'shutting down without etcd still stops the primary',
    input: asLeader({ shuttingDown: true, dcs: { kind: 'unreachable', since: T0, error: 'x' } }),
    kinds: ['demote'],
  },
]);

const noLeader = (lsn: number, over: Parameters<typeof local.replica>[0] = {}) =>
  local.replica({ receivedLsn: lsn, replayedLsn: lsn, ...over });

table('leader race', [
  {
    name: 'asks every other failover-capable member with an API address, sorted',
    input: input({
      view: view({
        members: [
          member('n1'),
          member('n4'),
          member('n2'),
          member('n3', { tags: { nofailover: true } }),
          member('n5', { api_url: '' }),
        ],
      }),
    }),
    answers: { n2: peer.down(), n4: peer.down() },
    asks: ['n2', 'n4'],
    kinds: ['acquireLock', 'promote', 'writeHistory'],
  },
  {
    name: 'the most advanced healthy replica takes the lock, promotes and records history',
    input: input({ local: noLeader(0x5000100), view: view({ optime: 0x5000000 }) }),
    answers: { n2: peer.replica(0x5000000), n3: peer.replica(0x4000000) },
    kinds: ['acquireLock', 'promote', 'writeHistory'],
    role: 'primary',
    check: (d) => {
      const e = actionOf(d, 'writeHistory').entry;
      assert.deepEqual([e[0], e[1], e[3], e[4]], [1, 0x5000100, '2026-01-01T00:00:00.000Z', SELF]);
    },
  },
  {
    name: 'a reachable peer further ahead makes this member stay a replica',
    input: input({ local: noLeader(0x5000000) }),
    answers: { n2: peer.replica(0x5000001), n3: peer.replica(0) },
    kinds: ['wait'],
    reason: /n2 is ahead/,
    role: 'replica',
  },
  {
    name: 'an unreachable peer is ignored in the race',
    input: input({ local: noLeader(0x5000000) }),
    answers: { n2: peer.down(), n3: peer.replica(0x4000000) },
    kinds: ['acquireLock', 'promote', 'writeHistory'],
  },
  {
    name: 'a peer missing from the answers counts as unreachable',
    input: input({ local: noLeader(0x5000000) }),
    answers: { n3: peer.replica(0x4000000) },
    kinds: ['acquireLock', 'promote', 'writeHistory'],
  },
  {
    name: 'at equal position a peer with higher failover_priority wins',
    input: input({ local: noLeader(0x5000000), tags: { failover_priority: 1 } }),
    answers: { n2: peer.replica(0x5000000, { failoverPriority: 5 }), n3: peer.down() },
    kinds: ['wait'],
    reason: /higher failover_priority 5 > 1/,
  },
  {
    name: 'at equal position a higher own failover_priority wins',
    input: input({ local: noLeader(0x5000000), tags: { failover_priority: 5 } }),
    answers: { n2: peer.replica(0x5000000, { failoverPriority: 1 }), n3: peer.down() },
    kinds: ['acquireLock', 'promote', 'writeHistory'],
  },
  {
    name: 'at equal position and priority the smaller name wins (peer n1 beats self n2)',
    input: input({ local: noLeader(0x5000000), self: { name: 'n2' } }),
    answers: { n1: peer.replica(0x5000000), n3: peer.down() },
    kinds: ['wait'],
    reason: /sorts first by name/,
  },
  {
    name: 'at equal position and priority the smaller own name wins (self n1 beats peer n2)',
    input: input({ local: noLeader(0x5000000) }),
    answers: { n2: peer.replica(0x5000000), n3: peer.replica(0x5000000) },
    kinds: ['acquireLock', 'promote', 'writeHistory'],
  },
  {
    name: 'a peer still running as primary stops the race',
    input: input({ local: noLeader(0x5000000) }),
    answers: { n2: peer.primary(0x4000000), n3: peer.down() },
    kinds: ['wait'],
    reason: /primary n2 is still running/,
  },
  {
    name: 'a peer ahead but reporting nofailover is ignored',
    input: input({ local: noLeader(0x5000000) }),
    answers: { n2: peer.replica(0x9000000, { nofailover: true }), n3: peer.down() },
    kinds: ['acquireLock', 'promote', 'writeHistory'],
  },
  {
    name: 'a peer ahead but still starting is ignored',
    input: input({ local: noLeader(0x5000000) }),
    answers: { n2: peer.replica(0x9000000, { state: 'starting' }), n3: peer.down() },
    kinds: ['acquireLock', 'promote', 'writeHistory'],
  },
  {
    name: 'a replica whose pre_promote refused a promotion sits out the race for ttl and asks nobody',
    input: input({ local: noLeader(0x5000000), promotionRefusedAt: T0 - 29_000 }),
    kinds: ['wait'],
    reason: /pre_promote refused a promotion 29 s ago/,
  },
  {
    name: 'ttl after pre_promote refused, the replica races again',
    input: input({ local: noLeader(0x5000000), promotionRefusedAt: T0 - 30_000 }),
    answers: { n2: peer.down(), n3: peer.down() },
    kinds: ['acquireLock', 'promote', 'writeHistory'],
  },
  {
    name: 'a member tagged nofailover never takes the lock and asks nobody',
    input: input({ tags: { nofailover: true } }),
    kinds: ['wait'],
    reason: /nofailover/,
  },
  {
    name: 'a replica lagging more than maximum_lag_on_failover never takes the lock',
    input: input({ local: noLeader(0x5000000), view: view({ optime: 0x5000000 + MB + 1 }) }),
    kinds: ['wait'],
    reason: /over maximum_lag_on_failover/,
  },
  {
    name: 'a replica lagging exactly maximum_lag_on_failover still races',
    input: input({ local: noLeader(0x5000000), view: view({ members: [member('n1')], optime: 0x5000000 + MB }) }),
    kinds: ['acquireLock', 'promote', 'writeHistory'],
  },
  {
    name: 'the last leader position also comes from a primary member key',
    input: input({
      local: noLeader(0x5000000),
      view: view({ members: [member('n1'), member('n2', { role: 'primary', xlog_location: 0x5000000 + 2 * MB })] }),
    }),
    kinds: ['wait'],
    reason: /lags the last leader position/,
  },
  {
    name: 'a replica that never streamed since start is not a candidate',
    input: input({
      local: local.replica({ receivedLsn: null, replayedLsn: 0x4ffff00 }),
      view: view({ optime: 0x5000000 }),
    }),
    kinds: ['wait'],
    reason: /has not streamed/,
  },
  {
    name: 'a replica that never streamed but holds the last leader position races (whole-group restart)',
    input: input({
      local: local.replica({ receivedLsn: null, replayedLsn: 0x5000000 }),
      view: view({ optime: 0x5000000 }),
    }),
    answers: { n2: peer.replica(0x5000000, { failoverPriority: 0 }), n3: peer.down() },
    kinds: ['acquireLock', 'promote', 'writeHistory'],
  },
  {
    name: 'a peer ahead that has not streamed since its start and is behind the last leader position does not block',
    input: input({ local: noLeader(0x5000000), view: view({ optime: 0x5000200 }) }),
    answers: { n2: peer.replica(0x5000100, { notStreamed: true }), n3: peer.replica(0x4000000) },
    kinds: ['acquireLock', 'promote', 'writeHistory'],
  },
  {
    name: 'a peer ahead that has not streamed since its start but holds the last leader position still blocks',
    input: input({ local: noLeader(0x5000000), view: view({ optime: 0x5000100 }) }),
    answers: { n2: peer.replica(0x5000100, { notStreamed: true }), n3: peer.replica(0x4000000) },
    kinds: ['wait'],
    reason: /n2 is ahead/,
  },
  {
    name: 'synchronous mode: a replica not listed in sync does not race',
    input: input({
      config: config({ synchronous_mode: 'on' }),
      view: view({ sync: { leader: 'n3', sync_standby: 'n2' } }),
    }),
    kinds: ['wait'],
    reason: /not listed in sync/,
  },
  {
    name: 'synchronous mode: the sync standby races against sync members only',
    input: input({
      config: config({ synchronous_mode: 'on' }),
      view: view({ sync: { leader: 'n3', sync_standby: 'n1' } }),
    }),
    answers: { n3: peer.down() },
    asks: ['n3'],
    kinds: ['acquireLock', 'writeSync', 'promote', 'writeHistory'],
    // Before it takes writes, the new primary makes sure nobody else can be promoted.
    check: (d) => assert.deepEqual(actionOf(d, 'writeSync').value, { leader: SELF, sync_standby: null }),
  },
  {
    name: 'synchronous mode: the former sync leader being ahead does not disqualify the standby',
    input: input({
      config: config({ synchronous_mode: 'on' }),
      view: view({ sync: { leader: 'n3', sync_standby: 'n1' } }),
    }),
    answers: { n3: peer.replica(0x9000000) },
    kinds: ['acquireLock', 'writeSync', 'promote', 'writeHistory'],
  },
  {
    name: 'quorum mode: a voter that hears from fewer other voters than the quorum does not race',
    input: input({
      config: config({ synchronous_mode: 'quorum' }),
      view: view({ sync: { leader: 'n4', sync_standby: 'n1,n2,n3', quorum: 2 } }),
    }),
    answers: { n2: peer.replica(0x5000000), n3: peer.down() },
    kinds: ['wait'],
    reason: /heard from 1 of the 2 other voters needed/,
  },
  {
    name: 'quorum mode: a voter that heard from the quorum and is not behind wins',
    input: input({
      config: config({ synchronous_mode: 'quorum' }),
      view: view({ sync: { leader: 'n4', sync_standby: 'n1,n2,n3', quorum: 1 } }),
    }),
    answers: { n2: peer.replica(0x5000000), n3: peer.down() },
    kinds: ['acquireLock', 'writeSync', 'promote', 'writeHistory'],
    check: (d) => assert.deepEqual(actionOf(d, 'writeSync').value, { leader: SELF, sync_standby: null, quorum: 0 }),
  },
  {
    name: 'quorum mode: a member outside the voters does not race',
    input: input({
      config: config({ synchronous_mode: 'quorum' }),
      view: view({ sync: { leader: 'n4', sync_standby: 'n2,n3', quorum: 1 } }),
    }),
    kinds: ['wait'],
    reason: /not listed in sync/,
  },
  {
    name: 'check_timeline: a replica behind the group timeline does not race',
    input: input({
      config: config({ check_timeline: true }),
      view: view({
        history: [
          [1, 0x1000, 'x'],
          [2, 0x2000, 'y'],
        ],
      }),
    }),
    kinds: ['wait'],
    reason: /timeline 1 is behind the group's timeline 3/,
  },
  {
    name: 'paused: a replica does not race when there is no leader',
    input: input({ config: config({ pause: true }) }),
    kinds: ['wait'],
    reason: /paused/,
  },
  {
    name: 'a replica that is still starting does not race',
    input: input({ local: local.starting('replica', T0 - 1000) }),
    kinds: ['wait'],
    reason: /starting as replica/,
  },
]);

table('manual failover and switchover', [
  {
    name: 'no leader and the failover request names this member: takes the lock without asking',
    input: input({ view: view({ failover: { member: SELF } }) }),
    kinds: ['acquireLock', 'clearFailover', 'promote', 'writeHistory'],
    reason: /manual failover to this member/,
  },
  {
    name: 'no leader and a healthy member is named: defers to it',
    input: input({ view: view({ failover: { leader: 'n3', member: 'n2' } }) }),
    answers: { n2: peer.replica(0x1000), n3: peer.down() },
    kinds: ['wait'],
    reason: /leaving the lock to it/,
  },
  {
    name: 'no leader and the named member is unreachable: races without the lag limit',
    input: input({
      local: noLeader(0x100),
      view: view({ failover: { leader: 'n3', member: 'n2' }, optime: 0x9000000 }),
    }),
    answers: { n2: peer.down(), n3: peer.replica(0x9000000) },
    kinds: ['acquireLock', 'clearFailover', 'promote', 'writeHistory'],
    reason: /cannot take over/,
  },
  {
    name: 'synchronous mode: a member not listed in sync does not race under a failover request',
    input: input({
      config: config({ synchronous_mode: 'on' }),
      view: view({ failover: { leader: 'n3' }, sync: { leader: 'n3', sync_standby: 'n2' } }),
    }),
    kinds: ['wait'],
    reason: /not listed in sync/,
  },
  {
    name: 'the member switched away from defers while another can take over',
    input: input({ view: view({ failover: { leader: SELF } }) }),
    answers: { n2: peer.replica(0x100), n3: peer.down() },
    kinds: ['wait'],
    reason: /switched away from/,
  },
  {
    name: 'the member switched away from takes the lock back when nobody can take over',
    input: input({ view: view({ failover: { leader: SELF } }) }),
    answers: { n2: peer.down(), n3: peer.replica(0x100, { nofailover: true }) },
    kinds: ['acquireLock', 'clearFailover', 'promote', 'writeHistory'],
  },
  {
    name: 'the leader steps down gracefully for a healthy named candidate, keeping the lease until stopped',
    input: asLeader({ viewSpec: { failover: { leader: SELF, member: 'n2' } } }),
    answers: { n2: peer.replica(0x5000000) },
    asks: ['n2'],
    kinds: ['updateLock', 'demote', 'releaseLock'],
    role: 'demoted',
    check: (d) => assert.equal(actionOf(d, 'demote').mode, 'graceful'),
  },
  {
    name: 'a switchover to a named candidate releases the lock once that candidate received the shutdown checkpoint',
    input: asLeader({ viewSpec: { failover: { leader: SELF, member: 'n2' } } }),
    answers: { n2: peer.replica(0x5000000) },
    kinds: ['updateLock', 'demote', 'releaseLock'],
    // The wait for the successor is bounded by retry_timeout (10 s in these fixtures).
    check: (d) => assert.deepEqual(actionOf(d, 'releaseLock').handover, { members: ['n2'], timeoutMs: 10_000 }),
  },
  {
    name: 'a switchover without a named candidate hands over to any healthy replica, not to an unreachable one',
    input: asLeader({ viewSpec: { failover: { leader: SELF } } }),
    answers: { n2: peer.down(), n3: peer.replica(0x5000000) },
    kinds: ['updateLock', 'demote', 'releaseLock'],
    check: (d) => assert.deepEqual(actionOf(d, 'releaseLock').handover?.members, ['n3']),
  },
  {
    name: 'the leader clears a request whose candidate is unreachable',
    input: asLeader({ viewSpec: { failover: { leader: SELF, member: 'n2' } } }),
    answers: { n2: peer.down() },
    kinds: ['updateLock', 'clearFailover'],
    reason: /candidate n2 is not healthy/,
  },
  {
    name: 'the leader clears a request whose candidate lags too far',
    input: asLeader({ viewSpec: { failover: { member: 'n2' } } }),
    answers: { n2: peer.replica(0x5000000 - 2 * MB) },
    kinds: ['updateLock', 'clearFailover'],
  },
  {
    name: 'without a named candidate the leader steps down when any replica is healthy',
    input: asLeader({ viewSpec: { failover: { leader: SELF } } }),
    answers: { n2: peer.down(), n3: peer.replica(0x5000000) },
    asks: ['n2', 'n3'],
    kinds: ['updateLock', 'demote', 'releaseLock'],
    reason: /for n3/,
  },
  {
    name: 'without a named candidate and no healthy replica the request is cleared',
    input: asLeader({ viewSpec: { failover: { leader: SELF } } }),
    answers: { n2: peer.down(), n3: peer.replica(0x5000000, { state: 'starting' }) },
    kinds: ['updateLock', 'clearFailover'],
  },
  {
    name: 'a request naming the current leader as candidate is cleared',
    input: asLeader({ viewSpec: { failover: { member: SELF } } }),
    kinds: ['updateLock', 'clearFailover'],
    reason: /already the leader/,
  },
  {
    name: 'a request naming another leader is cleared',
    input: asLeader({ viewSpec: { failover: { leader: 'n3', member: 'n2' } } }),
    kinds: ['updateLock', 'clearFailover'],
    reason: /names n3 as leader/,
  },
  {
    name: 'a request for a candidate that is not a member is cleared',
    input: asLeader({ viewSpec: { failover: { leader: SELF, member: 'n9' } } }),
    kinds: ['updateLock', 'clearFailover'],
    reason: /not a member/,
  },
  {
    name: 'a switchover scheduled later than loop_wait is awaited',
    input: asLeader({ viewSpec: { failover: { leader: SELF, member: 'n2', scheduled_at: '2026-01-01T00:05:00Z' } } }),
    kinds: ['updateLock'],
    reason: /scheduled at .* \(in 300s\)/,
  },
  {
    name: 'a switchover scheduled within loop_wait is carried out',
    input: asLeader({ viewSpec: { failover: { leader: SELF, member: 'n2', scheduled_at: '2026-01-01T00:00:05Z' } } }),
    answers: { n2: peer.replica(0x5000000) },
    kinds: ['updateLock', 'demote', 'releaseLock'],
  },
  {
    name: 'a scheduled switchover long past is cleared as stale',
    input: asLeader({ viewSpec: { failover: { leader: SELF, member: 'n2', scheduled_at: '2025-12-31T23:59:00Z' } } }),
    kinds: ['updateLock', 'clearFailover'],
    reason: /passed/,
  },
  {
    name: 'paused: the leader ignores a switchover request',
    input: asLeader({ config: config({ pause: true }), viewSpec: { failover: { leader: SELF, member: 'n2' } } }),
    kinds: ['updateLock'],
  },
  {
    name: 'synchronous mode: a candidate that is not a sync standby is refused',
    input: asLeader({
      config: config({ synchronous_mode: 'on' }),
      viewSpec: { failover: { member: 'n3' }, sync: { leader: SELF, sync_standby: 'n2' } },
    }),
    kinds: ['updateLock', 'clearFailover'],
    reason: /not a synchronous standby/,
  },
]);

const divergedHistory: [number, number, string][] = [[1, 0x4000000, 'no recovery target specified']];
const leaderOnTl2 = {
  members: [member('n1'), leaderMember('n2', { timeline: 2 }), member('n3')],
  history: divergedHistory,
};

table('following the leader', [
  {
    name: 'a replica on a timeline the leader skipped cannot stream: it is rewound',
    input: underLeader({
      local: local.replica({ timeline: 2, upstream: 'n2', streaming: false }),
      viewSpec: {
        members: [member('n1'), leaderMember('n2', { timeline: 3 }), member('n3')],
        history: divergedHistory,
      },
    }),
    kinds: ['rewind'],
    reason: /no switch point for timeline 2, and n2 is on timeline 3/,
  },
  {
    name: 'without pg_rewind a replica on a skipped timeline is not re-cloned on a guess',
    input: underLeader({
      local: local.replica({ timeline: 2, upstream: 'n2', streaming: false }),
      viewSpec: {
        members: [member('n1'), leaderMember('n2', { timeline: 3 }), member('n3')],
        history: divergedHistory,
      },
      config: config({}, { use_pg_rewind: false }),
    }),
    kinds: ['wait'],
  },
  {
    name: 'a streaming replica of the leader has nothing to do',
    input: underLeader(),
    kinds: ['wait'],
    reason: /following leader n2/,
    role: 'replica',
  },
  {
    name: 'a replica pointed at an old leader is reconfigured to the new one',
    input: underLeader({ local: local.replica({ upstream: 'n3' }) }),
    kinds: ['follow'],
    reason: /pointing at n3/,
    check: (d) => assert.equal(actionOf(d, 'follow').leader, 'n2'),
  },
  {
    name: 'a replica without upstream starts following the leader',
    input: underLeader({ local: local.replica({ upstream: null }) }),
    kinds: ['follow'],
  },
  {
    name: 'a replica stuck on a timeline it continued past the switch point is rewound',
    input: underLeader({
      local: local.replica({ upstream: 'n2', streaming: false, receivedLsn: 0x5000000 }),
      viewSpec: leaderOnTl2,
    }),
    kinds: ['rewind'],
    reason: /past timeline 1's switch point/,
  },
  {
    name: 'without use_pg_rewind a diverged replica is reinitialized',
    input: underLeader({
      local: local.replica({ upstream: 'n2', streaming: false, receivedLsn: 0x5000000 }),
      viewSpec: leaderOnTl2,
      config: config({}, { use_pg_rewind: false }),
    }),
    kinds: ['reinitialize'],
    reason: /use_pg_rewind is off/,
  },
  {
    name: 'a replica behind the switch point is not rewound, only waits to stream',
    input: underLeader({
      local: local.replica({ upstream: 'n2', streaming: false, receivedLsn: 0x3000000, replayedLsn: 0x3000000 }),
      viewSpec: leaderOnTl2,
    }),
    kinds: ['wait'],
    reason: /not streaming yet/,
  },
  {
    name: 'a replica holding the leader key promotes and records history',
    input: input({ view: view({ leader: SELF }), lock: { kind: 'held', confirmedAt: T0 - 1000 } }),
    kinds: ['updateLock', 'promote', 'writeHistory'],
    role: 'primary',
  },
  {
    name: 'paused: a replica holding the leader key releases it instead of promoting',
    input: input({ view: view({ leader: SELF }), config: config({ pause: true }) }),
    kinds: ['releaseLock'],
  },
  {
    name: 'the leader member key missing: replication is left alone',
    input: underLeader({ local: local.replica({ upstream: 'n3' }), viewSpec: { members: [member('n1')] } }),
    kinds: ['wait'],
  },
]);

table('PostgreSQL down', [
  {
    name: 'a crashed primary holding the lock is restarted in place within primary_start_timeout',
    input: asLeader({ local: local.crashed(T0 - 20_000) }),
    kinds: ['updateLock', 'restartInPlace'],
    reason: /restarting in place/,
    check: (d) => assert.equal(actionOf(d, 'restartInPlace').as, 'primary'),
  },
  {
    name: 'with primary_start_timeout 0 a crashed primary gives the lock up when a replica can take over',
    input: asLeader({
      local: local.crashed(T0 - 1000),
      config: config({ primary_start_timeout: 0 }),
      viewSpec: { optime: 0x3000000 },
    }),
    answers: { n2: peer.replica(0x3000000), n3: peer.down() },
    kinds: ['releaseLock'],
    reason: /releasing the leader key for n2/,
  },
  {
    name: 'a crashed primary past primary_start_timeout gives the lock up',
    input: asLeader({ local: local.crashed(T0 - 301_000), viewSpec: { optime: 0x3000000 } }),
    answers: { n2: peer.replica(0x3000000), n3: peer.replica(0x2000000) },
    kinds: ['releaseLock'],
  },
  {
    name: 'a crashed primary past the timeout restarts in place when no replica can take over',
    input: asLeader({
      local: local.crashed(T0 - 1000),
      config: config({ primary_start_timeout: 0 }),
      viewSpec: { optime: 0x3000000 },
    }),
    answers: { n2: peer.replica(0x3000000 - 2 * MB), n3: peer.down() },
    kinds: ['updateLock', 'restartInPlace'],
    reason: /no replica can take over/,
  },
  {
    name: 'a crashed primary alone in its group restarts in place without asking',
    input: asLeader({
      local: local.crashed(T0 - 1000),
      config: config({ primary_start_timeout: 0 }),
      viewSpec: { members: [leaderMember('n1')] },
    }),
    kinds: ['updateLock', 'restartInPlace'],
  },
  {
    name: 'a lock holder whose start failed releases the lock',
    input: asLeader({ local: local.startFailed('primary', { lastRole: 'primary' }) }),
    kinds: ['releaseLock'],
    reason: /failed to start/,
  },
  {
    name: 'a cleanly stopped primary still holding the lock starts as primary',
    input: asLeader({ local: local.stopped({ lastRole: 'primary' }) }),
    kinds: ['updateLock', 'startPostgres'],
    check: (d) => assert.equal(actionOf(d, 'startPostgres').as, 'primary'),
  },
  {
    name: 'a stopped replica holding the lock starts as a replica first',
    input: asLeader({ local: local.stopped({ lastRole: 'replica' }) }),
    kinds: ['updateLock', 'follow', 'startPostgres'],
    check: (d) => assert.equal(actionOf(d, 'startPostgres').as, 'replica'),
  },
  {
    name: 'a stopped member in a group without leader starts as a replica without upstream',
    input: input({ local: local.stopped() }),
    kinds: ['follow', 'startPostgres'],
    check: (d) => {
      assert.equal(actionOf(d, 'follow').leader, null);
      assert.equal(actionOf(d, 'startPostgres').as, 'replica');
    },
  },
  {
    name: 'a stopped replica joins the leader',
    input: underLeader({ local: local.stopped() }),
    kinds: ['follow', 'startPostgres'],
    check: (d) => assert.equal(actionOf(d, 'follow').leader, 'n2'),
  },
  {
    name: "a former primary ahead of the new timeline's switch point is rewound before joining",
    input: underLeader({ local: local.stopped({ lastRole: 'primary', lsn: 0x5000000 }), viewSpec: leaderOnTl2 }),
    kinds: ['rewind'],
    check: (d) => assert.equal(actionOf(d, 'rewind').from, 'n2'),
  },
  {
    name: 'a former primary ahead of the switch point is reinitialized without use_pg_rewind',
    input: underLeader({
      local: local.stopped({ lastRole: 'primary', lsn: 0x5000000 }),
      viewSpec: leaderOnTl2,
      config: config({}, { use_pg_rewind: false }),
    }),
    kinds: ['reinitialize'],
  },
  {
    name: 'a cleanly stopped former primary at the switch point joins without rewind',
    input: underLeader({ local: local.stopped({ lastRole: 'primary', lsn: 0x4000000 }), viewSpec: leaderOnTl2 }),
    kinds: ['follow', 'startPostgres'],
  },
  {
    name: "a local timeline ahead of the leader's is rewound",
    input: underLeader({ local: local.stopped({ timeline: 3 }), viewSpec: leaderOnTl2 }),
    kinds: ['rewind'],
    reason: /ahead of the leader's 2/,
  },
  {
    name: 'a crashed former primary with unknown divergence is rewound once the leader runs',
    input: underLeader({ local: local.crashed(T0 - 5000, { lsn: 0x3000000 }), viewSpec: leaderOnTl2 }),
    kinds: ['rewind'],
    reason: /divergence unknown/,
  },
  {
    name: 'a former primary with unknown divergence waits while use_pg_rewind is off',
    input: underLeader({
      local: local.stopped({ lastRole: 'primary' }),
      viewSpec: { ...leaderOnTl2, history: [] },
      config: config({}, { use_pg_rewind: false }),
    }),
    kinds: ['wait'],
    reason: /cannot tell yet whether it diverged/,
  },
  {
    name: 'a failed pg_rewind is followed by a re-clone when allowed',
    input: underLeader({
      local: local.stopped({ lastRole: 'primary', lsn: 0x5000000 }),
      viewSpec: leaderOnTl2,
      self: { reinitializeOnRewindFailure: true },
      lastCycle: { failed: { action: { kind: 'rewind', from: 'n2' }, message: 'could not find common ancestor' } },
    }),
    kinds: ['reinitialize'],
    reason: /pg_rewind failed/,
  },
  {
    name: 'a failed pg_rewind without permission to remove data waits for an operator',
    input: underLeader({
      local: local.stopped({ lastRole: 'primary', lsn: 0x5000000 }),
      viewSpec: leaderOnTl2,
      lastCycle: { failed: { action: { kind: 'rewind', from: 'n2' }, message: 'boom' } },
    }),
    kinds: ['wait'],
    reason: /remove_data_directory_on_rewind_failure is off/,
  },
  {
    name: 'a crashed replica restarts following the leader',
    input: underLeader({ local: local.crashed(T0 - 1000, { lastRole: 'replica', cleanShutdown: false }) }),
    kinds: ['follow', 'startPostgres'],
  },
  {
    name: 'a replica whose start failed is rewound from the running leader (its timeline may have forked)',
    input: underLeader({ local: local.startFailed('replica') }),
    kinds: ['rewind'],
    reason: /the last start as a replica failed/,
  },
  {
    name: 'a replica whose start failed and whose rewind failed is cloned again when allowed',
    input: underLeader({
      local: local.startFailed('replica'),
      lastCycle: { failed: { action: { kind: 'rewind', from: 'n2' }, message: 'could not find previous WAL record' } },
      self: { reinitializeOnRewindFailure: true },
    }),
    kinds: ['reinitialize'],
  },
  {
    name: 'a replica whose start failed and whose rewind failed waits for an operator otherwise',
    input: underLeader({
      local: local.startFailed('replica'),
      lastCycle: { failed: { action: { kind: 'rewind', from: 'n2' }, message: 'could not find previous WAL record' } },
    }),
    kinds: ['wait'],
    reason: /reinitialize this member/,
  },
  {
    name: 'without pg_rewind a replica whose start failed tries again',
    input: underLeader({ local: local.startFailed('replica'), config: config({}, { use_pg_rewind: false }) }),
    kinds: ['follow', 'startPostgres'],
    reason: /failed to start/,
  },
  {
    name: 'paused: a stopped member is not started',
    input: underLeader({ local: local.stopped(), config: config({ pause: true }) }),
    kinds: ['wait'],
    reason: /will not be started/,
  },
  {
    name: 'paused: a stopped lock holder releases the key',
    input: asLeader({ local: local.stopped({ lastRole: 'primary' }), config: config({ pause: true }) }),
    kinds: ['releaseLock'],
  },
]);

table('PostgreSQL starting', [
  {
    name: 'a lock holder starting as primary keeps its lock within primary_start_timeout',
    input: asLeader({ local: local.starting('primary', T0 - 10_000) }),
    kinds: ['updateLock'],
    reason: /290s until primary_start_timeout/,
  },
  {
    name: 'a primary start beyond primary_start_timeout is stopped and the lock released',
    input: asLeader({ local: local.starting('primary', T0 - 400_000), viewSpec: { optime: 0x3000000 } }),
    answers: { n2: peer.replica(0x3000000), n3: peer.down() },
    kinds: ['demote', 'releaseLock'],
  },
  {
    name: 'a primary start beyond the timeout keeps waiting when nobody can take over',
    input: asLeader({ local: local.starting('primary', T0 - 400_000) }),
    answers: { n2: peer.down(), n3: peer.down() },
    kinds: ['updateLock'],
    reason: /no replica can take over/,
  },
  {
    name: 'a start as primary without the lock is stopped',
    input: underLeader({ local: local.starting('primary', T0 - 1000) }),
    kinds: ['demote'],
  },
  {
    name: 'a lock holder starting as a replica keeps the lock to promote once up',
    input: asLeader({ local: local.starting('replica', T0 - 1000) }),
    kinds: ['updateLock'],
    reason: /promoting once it is up/,
  },
]);

table('agent shutdown', [
  {
    name: 'the leader stops PostgreSQL gracefully, then releases the lock',
    input: asLeader({ shuttingDown: true }),
    kinds: ['demote', 'releaseLock'],
    check: (d) => {
      assert.equal(actionOf(d, 'demote').mode, 'graceful');
      // A shutdown names no successor: the key goes at once.
      assert.equal(actionOf(d, 'releaseLock').handover, undefined);
    },
  },
  {
    name: 'a replica is stopped fast',
    input: underLeader({ shuttingDown: true }),
    kinds: ['stopPostgres'],
  },
  {
    name: 'a lock holder with PostgreSQL down only releases the lock',
    input: asLeader({ shuttingDown: true, local: local.crashed(T0 - 1000) }),
    kinds: ['releaseLock'],
  },
  {
    name: 'a primary without the lock is stopped without touching the lock',
    input: input({ shuttingDown: true, local: local.primary(), view: view({ leader: 'n2' }) }),
    kinds: ['demote'],
  },
  {
    name: 'paused: shutdown leaves PostgreSQL running and the lock in place',
    input: asLeader({ shuttingDown: true, config: config({ pause: true }) }),
    kinds: ['wait'],
    reason: /leaving PostgreSQL running/,
  },
]);

table('long tasks in progress', [
  {
    name: 'a clone in progress waits',
    input: underLeader({ local: local.busy('clone') }),
    kinds: ['wait'],
    reason: /clone in progress for 5s/,
  },
  {
    name: 'a lock holder busy with a task keeps refreshing its lock',
    input: asLeader({ local: local.busy('rewind') }),
    kinds: ['updateLock'],
  },
  {
    name: 'a task in progress without etcd does nothing',
    input: asLeader({ local: local.busy('rewind'), dcs: { kind: 'unreachable', since: T0, error: 'x' } }),
    kinds: ['wait'],
  },
]);

// ---------------------------------------------------------------------------------------------
// Invariants: properties every decision must have, checked over all rows and a combinatorial sweep.

function checkInvariants(inp: DecideInput, d: Decision): void {
  const kinds = d.actions.map((a) => a.kind);
  const where = `${kinds.join(',')} (${d.reason})`;
  assert.ok(d.reason.length > 0, 'every decision has a reason');
  assert.ok(kinds.length > 0, `every decision has at least one action: ${where}`);
  if (kinds.includes('askPeers')) {
    assert.deepEqual(kinds, ['askPeers'], `askPeers stands alone: ${where}`);
    assert.equal(inp.peers, null, `decide never asks twice: ${where}`);
  }
  const lastIsTouch = kinds[kinds.length - 1] === 'touchMember';
  assert.equal(
    lastIsTouch,
    inp.dcs.kind === 'ok' && !kinds.includes('askPeers'),
    `touchMember last iff etcd reachable: ${where}`,
  );
  assert.equal(kinds.filter((k) => k === 'touchMember').length, lastIsTouch ? 1 : 0);

  const holds = inp.view.leader?.name === inp.self.name;
  const writable =
    kinds.indexOf('promote') >= 0 ||
    d.actions.some((a) => a.kind === 'startPostgres' && a.as === 'primary') ||
    kinds.includes('restartInPlace');
  if (writable) {
    const lockStep = kinds.findIndex((k) => k === 'acquireLock' || k === 'updateLock');
    const firstWrite = kinds.findIndex((k) => k === 'promote' || k === 'startPostgres' || k === 'restartInPlace');
    assert.ok(lockStep >= 0 && lockStep < firstWrite, `becoming writable needs a lock step first: ${where}`);
    assert.ok(holds || kinds.includes('acquireLock'), `only a lock holder or a lock taker becomes writable: ${where}`);
    assert.equal(inp.dcs.kind, 'ok', `nothing becomes writable without etcd: ${where}`);
    assert.ok(!inp.config.pause || !kinds.includes('promote'), `no promotion in pause: ${where}`);
  }
  if (kinds.includes('promote'))
    assert.ok(kinds.includes('writeHistory'), `a promotion is recorded in history: ${where}`);
  const release = kinds.indexOf('releaseLock');
  const stop = kinds.findIndex((k) => k === 'demote' || k === 'stopPostgres');
  if (release >= 0 && stop >= 0) assert.ok(stop < release, `PostgreSQL stops before the lock is released: ${where}`);
  if (inp.config.pause && !inp.shuttingDown && inp.dcs.kind === 'ok') {
    const startsOrStops = kinds.filter((k) =>
      ['startPostgres', 'restartInPlace', 'bootstrap', 'clone', 'rewind', 'reinitialize'].includes(k),
    );
    assert.deepEqual(startsOrStops, [], `pause: no starts: ${where}`);
  }
  if (inp.dcs.kind !== 'ok') {
    const writes = kinds.filter((k) =>
      ['acquireLock', 'updateLock', 'releaseLock', 'clearFailover', 'writeHistory', 'claimInitialize'].includes(k),
    );
    assert.deepEqual(writes, [], `no etcd writes while etcd is unreachable: ${where}`);
  }
}

describe('invariants', () => {
  test('every scenario row satisfies the decision invariants in both phases', () => {
    for (const s of all) {
      const first = decide(s.input);
      checkInvariants(s.input, first);
      if (s.answers) {
        const second = { ...s.input, peers: { answers: s.answers } };
        checkInvariants(second, decide(second));
      }
    }
  });

  test('decide is deterministic and leaves its input untouched', () => {
    for (const s of all) {
      const frozen = deepFreeze(structuredClone(s.input));
      assert.deepEqual(decide(frozen), decide(structuredClone(s.input)), s.name);
    }
  });

  test('with peer answers given, decide never asks peers again (sweep)', () => {
    for (const inp of sweep()) {
      const d = decide({ ...inp, peers: { answers: {} } });
      assert.ok(!d.actions.some((a) => a.kind === 'askPeers'), d.reason);
    }
  });

  test('a combinatorial sweep of situations satisfies the invariants', () => {
    let count = 0;
    for (const inp of sweep()) {
      checkInvariants(inp, decide(inp));
      const withPeers = { ...inp, peers: { answers: { n2: peer.replica(0x5000000), n3: peer.down() } } };
      checkInvariants(withPeers, decide(withPeers));
      count += 2;
    }
    assert.ok(count > 2000, `sweep covered ${count} inputs`);
  });
});

/** Every local state × leader (none, self, other) × pause × etcd × shutdown × failover request × lock record. */
function* sweep(): Generator<DecideInput> {
  const locals = [
    local.noData(),
    local.busy('clone'),
    local.primary(),
    local.replica(),
    local.replica({ upstream: 'n2', streaming: true }),
    local.replica({ receivedLsn: null, replayedLsn: 0 }),
    local.stopped(),
    local.stopped({ lastRole: 'primary', lsn: 0x5000000 }),
    local.crashed(T0 - 1000),
    local.crashed(T0 - 1_000_000),
    local.starting('primary', T0 - 1000),
    local.starting('primary', T0 - 1_000_000),
    local.starting('replica', T0 - 1000),
    local.startFailed('primary', { lastRole: 'primary' }),
    local.primary(0x5000000, { systemId: '7399999999999999999' }),
  ];
  const leaders = [null, SELF, 'n2'];
  const failovers = [undefined, { leader: SELF, member: 'n2' }, { member: SELF }, { leader: 'n2' }];
  const members = [leaderMember('n2', { timeline: 2 }), member('n1'), member('n3')];
  for (const l of locals)
    for (const leader of leaders)
      for (const pause of [false, true])
        for (const dcsOk of [true, false])
          for (const shuttingDown of [false, true])
            for (const failover of failovers)
              for (const initialize of ['7300000000000000001', null])
                for (const lock of [
                  { kind: 'notHeld' } as const,
                  { kind: 'held', confirmedAt: T0 - 30_000 } as const,
                ]) {
                  yield input({
                    local: l,
                    view: view({ leader, failover, initialize, members, history: divergedHistory, optime: 0x5000000 }),
                    config: config({ pause, primary_start_timeout: pause ? 0 : 300 }),
                    dcs: dcsOk ? { kind: 'ok' } : { kind: 'unreachable', since: T0 - 5000, error: 'x' },
                    shuttingDown,
                    lock,
                  });
                }
}
