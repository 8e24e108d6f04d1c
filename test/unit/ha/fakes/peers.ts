// GET /patroni of fake members: each answer is built the way the agent's status source builds it
// (live PostgreSQL when it answers, the loop's last local state otherwise) and reduced by the real
// peerAnswerFromStatus. A member whose agent is down does not answer.
import type { GroupView } from '../../../../src/dcs/types.ts';
import type { HaLoop } from '../../../../src/ha/loop.ts';
import { roleWord, stateWord } from '../../../../src/ha/memberData.ts';
import { peerAnswerFromStatus } from '../../../../src/ha/peerClient.ts';
import type { PeerAsker } from '../../../../src/ha/ports.ts';
import type { PeerPoll } from '../../../../src/ha/types.ts';
import type { FakePostgres } from './postgres.ts';

export interface AnsweringMember {
  name: string;
  pg: FakePostgres;
  loop: HaLoop;
  /** The agent (and so its REST API) is not running. */
  down: boolean;
}

/** The body of GET /patroni of `member`, with the fields the leader race reads. */
export function patroniBody(member: AnsweringMember): Record<string, unknown> {
  const { pg, loop } = member;
  const snap = loop.snapshot();
  const tags = { failover_priority: 1 };
  const data = pg.data;
  if (pg.ready && data !== null) {
    if (pg.role === 'primary') {
      return { state: 'running', role: 'primary', xlog: { location: pg.walPosition() }, timeline: data.timeline, tags };
    }
    return {
      state: 'running',
      role: 'replica',
      xlog: { received_location: pg.receivedLsn ?? data.walEnd, replayed_location: data.walEnd },
      timeline: data.timeline,
      ...(pg.streaming && { replication_state: 'streaming' }),
      ...(pg.receivedLsn === null && { streamed_since_start: false }),
      tags,
    };
  }
  const local = snap.local;
  return {
    state: local ? stateWord(local) : 'unknown',
    role: local ? roleWord(local, snap.lock.kind === 'held') : 'uninitialized',
    tags,
  };
}

export function answerPoll(members: readonly AnsweringMember[], names: string[]): PeerPoll {
  const poll: PeerPoll = { answers: {} };
  for (const name of names) {
    const member = members.find((m) => m.name === name);
    poll.answers[name] =
      member === undefined || member.down
        ? { kind: 'unreachable', error: 'connect ECONNREFUSED' }
        : peerAnswerFromStatus(patroniBody(member));
  }
  return poll;
}

/** A PeerAsker over `members()` (read at every ask, so members added later answer too). */
export function fakePeerAsker(members: () => readonly AnsweringMember[]): PeerAsker {
  return (_view: GroupView, names: string[]) => Promise.resolve(answerPoll(members(), names));
}
