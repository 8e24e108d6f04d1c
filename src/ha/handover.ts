// A switchover's handover: before the old primary releases the leader key, it waits (a bounded
// time) for a successor to have received everything up to its shutdown checkpoint.
import type { GroupView } from '../dcs/types.ts';
import type { Logger } from '../log.ts';
import { positionsText, successorPast } from './peers.ts';
import type { PeerAsker } from './ports.ts';
import type { Handover } from './types.ts';

/** Between two asks of a successor's received position. */
const HANDOVER_POLL_MS = 20;

export interface HandoverDeps {
  askPeers: PeerAsker;
  log: Logger;
  now(): number;
}

/**
 * Waits until one of the handover's members reports (GET /patroni) a WAL position past the
 * shutdown checkpoint, at most its timeout. A successor short of it is logged; the lock is
 * released anyway, as the old primary cannot serve again without a new start.
 */
export async function awaitHandover(
  deps: HandoverDeps,
  view: GroupView,
  handover: Handover,
  checkpointLsn: number,
): Promise<void> {
  const { log, askPeers } = deps;
  const { members, timeoutMs } = handover;
  const started = deps.now();
  const deadline = started + timeoutMs;
  let positions = '';
  for (;;) {
    const poll = await askPeers(view, members, Math.max(200, Math.min(1000, deadline - deps.now())));
    const caughtUp = successorPast(poll, members, checkpointLsn);
    if (caughtUp !== undefined) {
      log.info(
        { action: 'releaseLock', member: caughtUp, checkpointLsn, duration_ms: deps.now() - started },
        `${caughtUp} received the shutdown checkpoint`,
      );
      return;
    }
    positions = positionsText(poll, members);
    if (deps.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, HANDOVER_POLL_MS));
  }
  log.warn(
    { action: 'releaseLock', checkpointLsn, positions },
    `no successor reported the shutdown checkpoint ${checkpointLsn} within ${timeoutMs} ms; ` +
      'releasing the leader key anyway',
  );
}
