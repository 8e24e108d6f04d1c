// The leader's share of synchronous replication in decide(): which standbys may be synchronous,
// and the writes syncPlan.ts asks for, as actions. Also the rule of who may be promoted in
// quorum mode, and the key a new primary writes before it takes writes.
import type { SyncState } from '../dcs/types.ts';
import { memberNamed, memberNosync } from './facts.ts';
import { answerOf } from './peers.ts';
import {
  ANY_STANDBY,
  formatSsn,
  keyFor,
  parseSsn,
  planSync,
  sameKey,
  wantedSsn,
  type Ssn,
  type SyncKey,
  type SyncStep,
} from './syncPlan.ts';
import type { Action, DecideInput, PrimaryReplication } from './types.ts';

/** The sync writes of a leader's cycle, and whether more are due soon (a change awaits its standbys). */
export interface SyncWork {
  actions: Action[];
  /** Why the plan is not settled yet, for the log; null when it is. */
  unsettled: string | null;
}

const NONE: SyncWork = { actions: [], unsettled: null };

/** The key a primary-to-be writes before it takes writes: nobody else may be promoted meanwhile. */
export function claimSyncKey(input: DecideInput): Action[] {
  if (input.config.synchronous_mode === 'off') return [];
  return [{ kind: 'writeSync', value: syncValue(input, { voters: [], quorum: 0 }) }];
}

/** A leader running as primary: the next steps towards the synchronous standbys it should have. */
export function syncWork(input: DecideInput, replication: PrimaryReplication | undefined): SyncWork {
  const mode = input.config.synchronous_mode;
  const name = input.self.name;
  const stored = input.view.sync?.value ?? null;
  const ownKey = stored !== null && stored.leader === name ? keyOf(stored) : null;
  if (replication === undefined) return NONE;
  if (mode === 'off') {
    const actions: Action[] = stored !== null ? [{ kind: 'writeSync', value: null }] : [];
    if (replication.managed) actions.push({ kind: 'setSyncStandbys', value: null });
    return { actions, unsettled: null };
  }
  // After an agent restart the running value is adopted first, so that a later render keeps it.
  if (!replication.managed) {
    return {
      actions: [{ kind: 'setSyncStandbys', value: replication.ssn }],
      unsettled: 'adopting synchronous_standby_names',
    };
  }
  const ssn: Ssn = parseSsn(replication.ssn) ?? ANY_STANDBY;
  const candidates = syncCandidates(input, replication, ssn);
  const steps = planSync({
    mode,
    strict: input.config.synchronous_mode_strict,
    nodeCount: input.config.synchronous_node_count,
    ssn,
    key: ownKey,
    candidates,
    confirmed: confirmedStandbys(replication),
  });
  const wanted = wantedSsn(mode, input.config.synchronous_mode_strict, input.config.synchronous_node_count, candidates);
  const settled = steps.length === 0 && formatSsn(mode, ssn) === formatSsn(mode, wanted);
  const keySettled = sameKey(ownKey, keyFor(mode, wanted));
  const expected = settled && keySettled ? awaitedStandbys(input, candidates) : [];
  const towards = `synchronous standbys moving towards '${formatSsn(mode, wanted)}'`;
  return {
    actions: steps.map((step) => actionOf(input, step)),
    unsettled:
      !settled || !keySettled
        ? `${towards} (candidates: ${candidates.join(', ') || 'none'})`
        : expected.length > 0
          ? `waiting for ${expected.join(', ')} to stream after the promotion`
          : null,
  };
}

/**
 * Right after this member's promotion (within ttl of its history line), the running replicas of
 * the group that do not stream from it yet: they are about to, and the leader looks again soon
 * instead of a loop_wait later.
 */
function awaitedStandbys(input: DecideInput, candidates: string[]): string[] {
  const history = input.view.history?.value ?? [];
  const last = history[history.length - 1];
  const promotedAt = last?.[4] === input.self.name && last[3] ? Date.parse(last[3]) : Number.NaN;
  if (!(input.now - promotedAt < input.config.ttl * 1000)) return [];
  return input.view.members
    .filter((m) => m.name !== input.self.name && m.data.state === 'running' && m.data.role !== 'primary')
    .filter((m) => !memberNosync(m) && priorityOf(m.data.tags) > 0)
    .map((m) => m.name)
    .filter((name) => !candidates.includes(name));
}

/**
 * Standbys that may be synchronous, best first: streaming from this primary, with a member key,
 * not tagged nosync or sync_priority 0, within maximum_lag_on_syncnode; by sync_priority, then
 * those synchronous already (no needless change), then by name.
 */
export function syncCandidates(input: DecideInput, replication: PrimaryReplication, ssn: Ssn): string[] {
  const maxLag = input.config.maximum_lag_on_syncnode;
  const rows = replication.standbys.filter((s) => {
    if (s.state !== 'streaming' || s.name === input.self.name) return false;
    const member = memberNamed(input.view, s.name);
    if (member === undefined || memberNosync(member) || priorityOf(member.data.tags) <= 0) return false;
    return maxLag < 0 || replication.flushLsn - (s.flushLsn ?? 0) <= maxLag;
  });
  const priority = (name: string) => priorityOf(memberNamed(input.view, name)?.data.tags);
  return [...new Set(rows.map((s) => s.name))].sort(
    (a, b) =>
      priority(b) - priority(a) ||
      Number(ssn.names.includes(b)) - Number(ssn.names.includes(a)) ||
      (a < b ? -1 : a > b ? 1 : 0),
  );
}

/** Standbys that flushed past the mark; null while no mark is recorded. */
function confirmedStandbys(replication: PrimaryReplication): string[] | null {
  const mark = replication.syncMark;
  if (mark === null) return null;
  return replication.standbys.filter((s) => s.flushLsn !== null && s.flushLsn >= mark).map((s) => s.name);
}

function actionOf(input: DecideInput, step: SyncStep): Action {
  switch (step.kind) {
    case 'writeKey':
      return { kind: 'writeSync', value: syncValue(input, step.key) };
    case 'deleteKey':
      return { kind: 'writeSync', value: null };
    case 'setSsn':
      return { kind: 'setSyncStandbys', value: formatSsn(input.config.synchronous_mode, step.ssn) };
  }
}

/** Patroni's `sync` value: `quorum` only in quorum mode, so Patroni 3 reads `on` groups as it writes them. */
function syncValue(input: DecideInput, key: SyncKey): SyncState {
  const value: SyncState = { leader: input.self.name, sync_standby: key.voters.length ? key.voters.join(',') : null };
  if (input.config.synchronous_mode === 'quorum') value.quorum = key.quorum;
  return value;
}

/** The key's voters and quorum as stored. */
export function keyOf(stored: SyncState): SyncKey {
  const voters = (stored.sync_standby ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return { voters, quorum: typeof stored.quorum === 'number' ? stored.quorum : 0 };
}

/**
 * In quorum mode a voter may lead only after hearing from `quorum` other voters (they answered,
 * and the race checks none is ahead): why not, or null when it may.
 */
export function quorumShortfall(input: DecideInput): string | null {
  const stored = input.view.sync?.value;
  if (input.config.synchronous_mode !== 'quorum' || !stored?.leader) return null;
  const key = keyOf(stored);
  const others = key.voters.filter((v) => v !== input.self.name);
  const heard = others.filter((v) => answerOf(input.peers, v).kind === 'answered');
  if (heard.length >= key.quorum) return null;
  return (
    `quorum commit: heard from ${heard.length} of the ${key.quorum} other voters needed ` +
    `(${others.join(', ') || 'none'})`
  );
}

function priorityOf(tags: Record<string, unknown> | undefined): number {
  const value = tags?.sync_priority;
  return typeof value === 'number' ? value : 1;
}
