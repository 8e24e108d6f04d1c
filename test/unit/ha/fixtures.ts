// Small factories for decide() scenarios: a group view, local states, peer answers and a full
// DecideInput with sane defaults, so one scenario states only what makes it different.
import { DEFAULT_DYNAMIC_CONFIG } from '../../../src/config/dynamic.ts';
import type { DynamicConfig, Tags } from '../../../src/config/types.ts';
import type { FailoverState, GroupView, HistoryEntry, Member, MemberData, SyncState } from '../../../src/dcs/types.ts';
import type { DataDirFacts, DecideInput, LocalState, PeerAnswer } from '../../../src/ha/types.ts';

export const SELF = 'n1';
export const SYSID = '7300000000000000001';
export const T0 = Date.parse('2026-01-01T00:00:00Z');
export const MB = 1024 * 1024;

export function config(
  over: Partial<DynamicConfig> = {},
  pg: Partial<DynamicConfig['postgresql']> = {},
): DynamicConfig {
  return {
    ttl: 30,
    loop_wait: 10,
    retry_timeout: 10,
    maximum_lag_on_failover: MB,
    primary_start_timeout: 300,
    primary_stop_timeout: 300,
    pause: false,
    failsafe_mode: false,
    check_timeline: false,
    synchronous_mode: 'off',
    synchronous_node_count: 1,
    maximum_lag_on_syncnode: -1,
    synchronous_mode_strict: false,
    citus: { ...DEFAULT_DYNAMIC_CONFIG.citus },
    ...over,
    postgresql: { use_pg_rewind: true, use_slots: true, parameters: {}, ...pg },
  };
}

export function tags(over: Partial<Tags> = {}): Tags {
  return {
    nofailover: false,
    noloadbalance: false,
    clonefrom: false,
    nosync: false,
    nostream: false,
    failover_priority: 1,
    sync_priority: 1,
    ...over,
  };
}

/** A member key; role/state default to a running replica. */
export function member(name: string, over: Partial<MemberData> = {}): Member {
  return {
    name,
    data: {
      conn_url: `postgres://${name}:5432/postgres`,
      api_url: `http://${name}:8008/patroni`,
      state: 'running',
      role: 'replica',
      version: '0.1.0',
      timeline: 1,
      ...over,
    },
    modRevision: '10',
    lease: '1',
  };
}

export const leaderMember = (name: string, over: Partial<MemberData> = {}): Member =>
  member(name, { role: 'primary', ...over });

export interface ViewSpec {
  leader?: string | null;
  members?: Member[];
  initialize?: string | null;
  failover?: FailoverState;
  sync?: SyncState;
  history?: HistoryEntry[];
  optime?: number;
}

/** Defaults: initialized group, no leader, members n1 (self), n2, n3 as running replicas. */
export function view(spec: ViewSpec = {}): GroupView {
  return {
    group: null,
    initialize: spec.initialize === undefined ? SYSID : spec.initialize,
    config: null,
    leader: spec.leader ? { name: spec.leader, modRevision: '5', createRevision: '5', lease: '1' } : null,
    members: spec.members ?? [member('n1'), member('n2'), member('n3')],
    sync: spec.sync ? { value: spec.sync, modRevision: '7' } : null,
    failover: spec.failover ? { value: spec.failover, modRevision: '8' } : null,
    history: spec.history ? { value: spec.history, modRevision: '9' } : null,
    status: spec.optime === undefined ? null : { optime: spec.optime },
    failsafe: null,
  };
}

export function data(over: Partial<DataDirFacts> = {}): DataDirFacts {
  return { systemId: SYSID, timeline: 1, lsn: 0x3000000, lastRole: 'replica', cleanShutdown: true, ...over };
}

export const local = {
  noData: (): LocalState => ({ kind: 'noData' }),
  busy: (task: 'bootstrap' | 'clone' | 'rewind' | 'reinitialize', since = T0 - 5000): LocalState => ({
    kind: 'busy',
    task,
    since,
  }),
  primary: (walLsn = 0x5000000, over: { timeline?: number; systemId?: string } = {}): LocalState => ({
    kind: 'runningPrimary',
    systemId: over.systemId ?? SYSID,
    timeline: over.timeline ?? 1,
    walLsn,
  }),
  replica: (
    over: Partial<{
      systemId: string;
      timeline: number;
      upstream: string | null;
      streaming: boolean;
      receivedLsn: number | null;
      replayedLsn: number;
    }> = {},
  ): LocalState => ({
    kind: 'runningReplica',
    systemId: SYSID,
    timeline: 1,
    upstream: null,
    streaming: false,
    receivedLsn: 0x5000000,
    replayedLsn: 0x5000000,
    ...over,
  }),
  stopped: (over: Partial<DataDirFacts> = {}): LocalState => ({ kind: 'stopped', data: data(over) }),
  crashed: (since: number, over: Partial<DataDirFacts> = {}): LocalState => ({
    kind: 'crashed',
    since,
    data: data({ lastRole: 'primary', cleanShutdown: false, ...over }),
  }),
  starting: (as: 'primary' | 'replica', since: number, over: Partial<DataDirFacts> = {}): LocalState => ({
    kind: 'starting',
    as,
    since,
    data: data(over),
  }),
  startFailed: (as: 'primary' | 'replica', over: Partial<DataDirFacts> = {}): LocalState => ({
    kind: 'startFailed',
    as,
    at: T0 - 1000,
    message: 'pg_ctl: could not start server',
    data: data(over),
  }),
};

export const peer = {
  replica: (walPosition: number, over: Partial<Extract<PeerAnswer, { kind: 'answered' }>> = {}): PeerAnswer => ({
    kind: 'answered',
    role: 'replica',
    state: 'running',
    walPosition,
    timeline: 1,
    nofailover: false,
    failoverPriority: 1,
    ...over,
  }),
  primary: (walPosition: number): PeerAnswer => ({
    kind: 'answered',
    role: 'primary',
    state: 'running',
    walPosition,
    timeline: 1,
    nofailover: false,
    failoverPriority: 1,
  }),
  down: (): PeerAnswer => ({ kind: 'unreachable', error: 'ECONNREFUSED' }),
};

export type InputSpec = Partial<Omit<DecideInput, 'view' | 'config' | 'self'>> & {
  view?: GroupView;
  config?: DynamicConfig;
  self?: Partial<DecideInput['self']>;
  tags?: Partial<Tags>;
};

/** A complete input: n1 with a running streaming replica, etcd fine, no lock, nothing pending. */
export function input(spec: InputSpec = {}): DecideInput {
  const { tags: tagOver, self, ...rest } = spec;
  return {
    now: T0,
    view: view(),
    config: config(),
    local: local.replica(),
    lock: { kind: 'notHeld' },
    dcs: { kind: 'ok' },
    peers: null,
    shuttingDown: false,
    lastCycle: null,
    ...rest,
    self: { name: SELF, tags: tags(tagOver), reinitializeOnRewindFailure: false, ...self },
  };
}

/** Input of a member holding the leader key per the view (n1 leads; n2, n3 replicate). */
export function asLeader(spec: InputSpec & { viewSpec?: ViewSpec } = {}): DecideInput {
  const { viewSpec, ...rest } = spec;
  return input({
    local: local.primary(),
    lock: { kind: 'held', confirmedAt: T0 - 2000 },
    view: view({ leader: SELF, members: [leaderMember('n1'), member('n2'), member('n3')], ...viewSpec }),
    ...rest,
  });
}

/** Input of a replica whose group is led by n2. */
export function underLeader(spec: InputSpec & { viewSpec?: ViewSpec } = {}): DecideInput {
  const { viewSpec, ...rest } = spec;
  return input({
    local: local.replica({ upstream: 'n2', streaming: true }),
    view: view({
      leader: 'n2',
      members: [member('n1'), leaderMember('n2', { timeline: 1 }), member('n3')],
      ...viewSpec,
    }),
    ...rest,
  });
}
