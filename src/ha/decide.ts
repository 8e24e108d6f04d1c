// The HA loop's pure decision: from one cycle's observation (DecideInput) to an ordered list of
// actions with a reason. No I/O, no clock, no randomness; each situation lives in its own module.
import { decideAsPrimary } from './asPrimary.ts';
import { decideAsReplica } from './asReplica.ts';
import { decideWithoutDcs } from './dcsLost.ts';
import { decision, holdsLock, seconds, waiting } from './facts.ts';
import { checkIdentity } from './identity.ts';
import { decideWithoutData } from './noData.ts';
import { decideWhileDown } from './notRunning.ts';
import { answerRequest } from './requests.ts';
import { decideShutdown } from './shutdown.ts';
import { decideWhileStarting } from './starting.ts';
import type { DecideInput, Decision, LocalState } from './types.ts';

export function decide(input: DecideInput): Decision {
  const situation = decideSituation(input);
  if (isPeerQuestion(situation)) return situation;
  // An operator's request is answered on top of what the cycle would do anyway.
  const d = input.request ? answerRequest(input, input.request, situation) : situation;
  if (input.dcs.kind !== 'ok') return d;
  // Publishing our state every cycle is what keeps the member key (and thus our API address and
  // position for the others' races) alive; it goes last so it reflects what was just done.
  return { ...d, actions: [...d.actions, { kind: 'touchMember' }] };
}

function decideSituation(input: DecideInput): Decision {
  const local = input.local;
  if (local.kind === 'busy') return decideWhileBusy(input, local);
  if (input.dcs.kind === 'unreachable') return decideWithoutDcs(input);
  if (input.shuttingDown) return decideShutdown(input);
  if (local.kind === 'noData') return decideWithoutData(input);

  const identity = checkIdentity(input, local);
  if (identity.kind === 'refuse') return identity.decision;
  const d = decideByState(input, local);
  if (identity.prefix.length === 0 || isPeerQuestion(d)) return d;
  return { ...d, actions: [...identity.prefix, ...d.actions] };
}

function decideByState(input: DecideInput, local: Exclude<LocalState, { kind: 'noData' | 'busy' }>): Decision {
  switch (local.kind) {
    case 'runningPrimary':
      return decideAsPrimary(input, local);
    case 'runningReplica':
      return decideAsReplica(input, local);
    case 'starting':
      return decideWhileStarting(input, local);
    case 'stopped':
    case 'crashed':
    case 'startFailed':
      return decideWhileDown(input, local);
  }
}

/** A long task runs in the background; a lock holder keeps its lock meanwhile, nobody else acts. */
function decideWhileBusy(input: DecideInput, local: Extract<LocalState, { kind: 'busy' }>): Decision {
  const what = `${local.task} in progress for ${seconds(input.now - local.since)}`;
  if (input.dcs.kind === 'ok' && holdsLock(input)) {
    return decision([{ kind: 'updateLock', optime: null }], `holding the leader key during ${what}`);
  }
  return waiting(input.shuttingDown ? `shutting down: ${what}; cancel it before stopping` : what);
}

function isPeerQuestion(d: Decision): boolean {
  return d.actions.length === 1 && (d.actions[0].kind === 'askPeers' || d.actions[0].kind === 'askFailsafe');
}
