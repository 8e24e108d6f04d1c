// No data directory yet (etcd reachable): bootstrap the group, clone from it, or wait for someone
// who can be cloned from.
import { decision, holdsLock, leaderName, memberClonefrom, memberNamed, waiting } from './facts.ts';
import type { DecideInput, Decision } from './types.ts';

export function decideWithoutData(input: DecideInput): Decision {
  const view = input.view;
  if (holdsLock(input)) {
    return decision(
      [{ kind: 'releaseLock' }],
      'data directory is empty while holding the leader key: releasing it',
      'uninitialized',
    );
  }
  if (input.config.pause)
    return waiting('paused: data directory is empty; not bootstrapping or cloning', 'uninitialized');

  const leader = leaderName(view);
  if (leader !== null) {
    const from = cloneSource(input, leader);
    if (!from) return waiting(`leader ${leader} has no member key to clone from yet`, 'uninitialized');
    const what = from === leader ? `leader ${leader}` : `replica ${from} (tagged clonefrom)`;
    return decision([{ kind: 'clone', from }], `creating a replica: cloning from ${what}`, 'replica');
  }
  if (view.initialize === null) {
    if (input.self.tags.nofailover) {
      return waiting('no cluster yet, but tagged nofailover: waiting for another member to bootstrap', 'uninitialized');
    }
    return decision(
      [{ kind: 'bootstrap' }],
      'no initialize key and no leader: racing to bootstrap a new cluster',
      'primary',
    );
  }
  if (view.initialize === '') return waiting('another member is bootstrapping the cluster', 'uninitialized');
  return waiting(`cluster ${view.initialize} exists but has no leader to clone from`, 'uninitialized');
}

/**
 * A running member tagged clonefrom (first by name, so the choice is deterministic) spares the
 * leader the base backup; otherwise the leader, when its member key says where it is.
 */
function cloneSource(input: DecideInput, leader: string): string | null {
  const tagged = input.view.members
    .filter((m) => m.name !== input.self.name && m.name !== leader && memberClonefrom(m))
    .filter((m) => m.data.state === 'running' && m.data.conn_url)
    .map((m) => m.name)
    .sort();
  if (tagged.length > 0) return tagged[0];
  return memberNamed(input.view, leader)?.data.conn_url ? leader : null;
}
