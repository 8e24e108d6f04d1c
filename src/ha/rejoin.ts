// How a member that is not the leader gets (back) into replication behind the leader: start as a
// replica when its data fits the leader's history, otherwise pg_rewind or re-clone first.
import { divergence } from './divergence.ts';
import { decision, memberNamed, waiting } from './facts.ts';
import type { DataDirFacts, DecideInput, Decision } from './types.ts';

/** Local data is known (or suspected) to have diverged from `leader`: rewind, or re-clone. */
export function repairFrom(input: DecideInput, leader: string, why: string): Decision {
  const failed = input.lastCycle?.failed;
  const rewindFailed = failed?.action.kind === 'rewind';
  if (input.config.postgresql.use_pg_rewind && !rewindFailed) {
    return decision([{ kind: 'rewind', from: leader }], `rewinding from leader ${leader}: ${why}`, 'replica');
  }
  if (rewindFailed && !input.self.reinitializeOnRewindFailure) {
    return waiting(
      `pg_rewind from ${leader} failed (${failed?.message ?? 'unknown error'}) and ` +
        'remove_data_directory_on_rewind_failure is off: reinitialize this member to rejoin',
      'replica',
    );
  }
  const via = rewindFailed ? `pg_rewind failed (${failed?.message ?? 'unknown error'})` : 'use_pg_rewind is off';
  return decision(
    [{ kind: 'reinitialize', from: leader }],
    `reinitializing from leader ${leader}: ${why}; ${via}`,
    'replica',
  );
}

/** A stopped (or crashed, or failed-to-start) non-leader whose group has leader `leader`. */
export function rejoinLeader(
  input: DecideInput,
  data: DataDirFacts,
  leader: string,
  context: string,
  startFailure: string | null,
): Decision {
  const leaderMember = memberNamed(input.view, leader);
  if (!leaderMember)
    return waiting(`${context}; leader ${leader} has no member key yet, waiting before starting`, 'replica');
  const div = divergence(data, leaderMember.data.timeline, input.view.history?.value ?? []);
  if (div.kind === 'diverged') return repairFrom(input, leader, div.why);
  // A replica that cannot start usually cannot follow the leader's timeline: the history key
  // cannot tell two timelines of the same number apart (two promotions from one timeline, the
  // second not knowing of the first). pg_rewind compares the real histories; it is tried at the
  // normal pace, and changes nothing where nothing diverged.
  const leaderUp = leaderMember.data.role === 'primary' && leaderMember.data.state === 'running';
  if (startFailure !== null && leaderUp && input.config.postgresql.use_pg_rewind) {
    return repairFrom(input, leader, `the last start as a replica failed (${startFailure})`);
  }
  if (div.kind === 'unknown' && data.lastRole === 'primary') {
    // A former primary may hold WAL the leader never saw; starting it would fail or corrupt the
    // replica. pg_rewind decides safely (it does nothing when nothing diverged) once the leader runs.
    if (leaderUp && input.config.postgresql.use_pg_rewind && input.lastCycle?.failed?.action.kind !== 'rewind') {
      return repairFrom(input, leader, `former primary, divergence unknown (${div.why})`);
    }
    return waiting(
      `${context}; former primary, cannot tell yet whether it diverged from ${leader} (${div.why})`,
      'demoted',
    );
  }
  return decision(
    [
      { kind: 'follow', leader },
      { kind: 'startPostgres', as: 'replica' },
    ],
    `${context}; starting as a replica of leader ${leader}`,
    'replica',
  );
}
