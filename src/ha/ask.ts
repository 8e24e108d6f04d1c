// decide()'s question protocol: when its only action asks other members something (their WAL
// positions, or whether they accept this primary in failsafe mode), the answers go into the same
// input and decide() is called once more; the second call never asks again.
import { decide } from './decide.ts';
import type { FailsafeCaller, PeerAsker } from './ports.ts';
import type { DecideInput, Decision } from './types.ts';

export interface Askers {
  askPeers: PeerAsker;
  callFailsafe: FailsafeCaller;
  /** What this member sends with POST /failsafe (its member data). */
  failsafeBody: () => Record<string, unknown>;
}

/** decide(), with the question it asks (if any) answered. Fills `input.peers` or `input.failsafeAnswers`. */
export async function decideAnswered(input: DecideInput, askers: Askers): Promise<Decision> {
  const first = decide(input);
  const ask = first.actions.length === 1 ? first.actions[0] : undefined;
  if (ask?.kind === 'askPeers') {
    input.peers = await askers.askPeers(input.view, ask.members);
    return decide(input);
  }
  if (ask?.kind === 'askFailsafe') {
    input.failsafeAnswers = await askers.callFailsafe(ask.members, askers.failsafeBody());
    return decide(input);
  }
  return first;
}
