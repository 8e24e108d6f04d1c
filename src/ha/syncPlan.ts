// Synchronous replication as a pure plan: from what PostgreSQL runs (synchronous_standby_names,
// "ssn") and what the `sync` key says, to the next writes towards what is wanted. One invariant
// holds at every moment: the `sync` key is enough to find every acknowledged commit.
//
// The two halves:
// - ssn `(S, k)`: a commit is acknowledged once k members of S flushed it (`FIRST k (S)` with
//   |S| = k in `on` mode, `ANY k (S)` in `quorum` mode; k = 0 is asynchronous; S = ['*'] is
//   strict mode's "any standby", which no key can cover).
// - key `(V, q)`: only a voter (a member of V) may be promoted, and only after it heard from q
//   other voters and none of them is ahead of it. V empty: nobody but the leader may lead.
//
// The key covers an ssn when every k-subset of S meets every set of q + 1 voters. The voters a
// candidate does not hear from can all be in S; so it covers when
//   |S \ V| + min(|S ∩ V|, |V| - q - 1) < k
// or when V is empty (nobody can be promoted, so nothing can be lost). WAL is linear, so the
// latest acknowledged commit is all that must be found: while a change of ssn is under way it
// may have been acknowledged under the old value or the new one, so the key must cover both
// until every member of the new S has flushed past the primary's flush position recorded after
// the change took effect ("confirmed"). Widening the key is therefore written before the ssn
// changes; narrowing it waits for that confirmation; and an ssn is changed again before its
// confirmation only under a key that promises nothing (V empty).

export type SyncMode = 'off' | 'on' | 'quorum';

/** synchronous_standby_names as PostgreSQL runs it. */
export interface Ssn {
  /** Acknowledgements a commit waits for; 0: asynchronous. */
  k: number;
  /** Standby names (application_name, i.e. member names); ['*'] for any standby. */
  names: string[];
}

/** The `sync` key's promise: voters and how many other voters a candidate must hear from. */
export interface SyncKey {
  voters: string[];
  quorum: number;
}

export const ASYNC: Ssn = { k: 0, names: [] };
/** Strict mode without a standby: commits wait for any standby that connects. */
export const ANY_STANDBY: Ssn = { k: 1, names: ['*'] };
export const NOBODY: SyncKey = { voters: [], quorum: 0 };

export interface SyncPlanInput {
  mode: SyncMode;
  strict: boolean;
  /** synchronous_node_count: sync standbys in `on` mode, acknowledgements in `quorum` mode. */
  nodeCount: number;
  /** What PostgreSQL runs now. */
  ssn: Ssn;
  /** What the key says now; null when it is absent or names another leader. */
  key: SyncKey | null;
  /** Standbys that may be synchronous now, best first (streaming from us, not nosync, lag within bounds). */
  candidates: string[];
  /**
   * Standbys that flushed past the primary's flush position recorded after the last ssn change
   * took effect; null while that position is not recorded yet.
   */
  confirmed: string[] | null;
}

export type SyncStep = { kind: 'writeKey'; key: SyncKey } | { kind: 'deleteKey' } | { kind: 'setSsn'; ssn: Ssn };

/** Whether `key` finds every commit acknowledged under `ssn`. */
export function covers(key: SyncKey, ssn: Ssn): boolean {
  if (key.voters.length === 0) return true;
  if (ssn.k === 0 || ssn.names.includes('*')) return false;
  const voters = new Set(key.voters);
  const inside = ssn.names.filter((n) => voters.has(n)).length;
  const outside = ssn.names.length - inside;
  const unheard = Math.min(inside, key.voters.length - key.quorum - 1);
  return outside + unheard < ssn.k;
}

/** The ssn wanted for these candidates. */
export function wantedSsn(mode: SyncMode, strict: boolean, nodeCount: number, candidates: string[]): Ssn {
  if (mode === 'off') return ASYNC;
  if (candidates.length === 0) return strict ? ANY_STANDBY : ASYNC;
  if (mode === 'on') {
    const names = candidates.slice(0, Math.max(1, nodeCount));
    return { k: names.length, names: [...names].sort() };
  }
  return { k: Math.min(Math.max(1, nodeCount), candidates.length), names: [...candidates].sort() };
}

/** The key that goes with an ssn once every one of its standbys is confirmed. */
export function keyFor(mode: SyncMode, ssn: Ssn): SyncKey {
  if (ssn.k === 0 || ssn.names.includes('*')) return NOBODY;
  const voters = [...ssn.names].sort();
  return { voters, quorum: mode === 'quorum' ? voters.length - ssn.k : 0 };
}

/**
 * The widest safe key while PostgreSQL may acknowledge under `from` or `to`: in `on` mode (no
 * quorum: a voter is promoted without asking) the voters both hold; in `quorum` mode the voters
 * of the key now plus the new standbys, with the smallest quorum that covers both.
 */
export function bridgingKey(mode: SyncMode, current: SyncKey, from: Ssn, to: Ssn): SyncKey {
  const candidates: SyncKey[] = [];
  if (mode === 'quorum') {
    const voters = [...new Set([...current.voters, ...to.names.filter((n) => n !== '*')])].sort();
    for (let quorum = 0; quorum < voters.length; quorum++) candidates.push({ voters, quorum });
  } else {
    const both = from.names.filter((n) => to.names.includes(n) && current.voters.includes(n));
    candidates.push({ voters: [...both].sort(), quorum: 0 });
  }
  return candidates.find((key) => covers(key, from) && covers(key, to)) ?? NOBODY;
}

function sameSsn(a: Ssn, b: Ssn): boolean {
  return a.k === b.k && a.names.length === b.names.length && a.names.every((n) => b.names.includes(n));
}

export function sameKey(a: SyncKey | null, b: SyncKey | null): boolean {
  if (a === null || b === null) return a === b;
  return a.quorum === b.quorum && a.voters.length === b.voters.length && a.voters.every((n) => b.voters.includes(n));
}

/**
 * The writes of this cycle, in order. A key write that must precede an ssn change comes first in
 * the same list; a key that narrows after an ssn change comes in a later cycle, once confirmed.
 */
export function planSync(input: SyncPlanInput): SyncStep[] {
  const { mode, ssn } = input;
  if (mode === 'off') {
    const steps: SyncStep[] = input.key === null ? [] : [{ kind: 'deleteKey' }];
    return sameSsn(ssn, ASYNC) ? steps : [...steps, { kind: 'setSsn', ssn: ASYNC }];
  }
  // A key this leader did not write (absent, another leader's, or one that does not cover what
  // runs) is first replaced by one that promises nothing it cannot keep.
  if (input.key === null || !covers(input.key, ssn)) {
    const key = input.confirmed !== null && confirmedAll(input.confirmed, ssn) ? keyFor(mode, ssn) : NOBODY;
    return [{ kind: 'writeKey', key: covers(key, ssn) ? key : NOBODY }];
  }
  const key = input.key;
  const wanted = wantedSsn(mode, input.strict, input.nodeCount, input.candidates);
  if (!sameSsn(ssn, wanted)) {
    // Only a confirmed ssn can be bridged from: until then the latest commit may have been
    // acknowledged under the value before it, which the bridge would not cover. An unconfirmed
    // ssn (a standby that died before catching up) is left with a key that promises nothing.
    const fromConfirmed = input.confirmed !== null && confirmedAll(input.confirmed, ssn);
    const bridge = fromConfirmed ? bridgingKey(mode, key, ssn, wanted) : NOBODY;
    const steps: SyncStep[] = sameKey(bridge, key) ? [] : [{ kind: 'writeKey', key: bridge }];
    return [...steps, { kind: 'setSsn', ssn: wanted }];
  }
  // What runs is what is wanted: the key settles on it once its standbys hold every commit.
  const settled = keyFor(mode, ssn);
  if (sameKey(settled, key)) return [];
  if (input.confirmed === null || !confirmedAll(input.confirmed, ssn)) return [];
  return [{ kind: 'writeKey', key: settled }];
}

function confirmedAll(confirmed: string[], ssn: Ssn): boolean {
  return ssn.names.every((n) => n !== '*' && confirmed.includes(n));
}

/** `N (a,b)` for `on`, `ANY k (a,b,c)` for quorum, `*` for any standby, '' when asynchronous. */
export function formatSsn(mode: SyncMode, ssn: Ssn): string {
  if (ssn.k === 0) return '';
  if (ssn.names.includes('*')) return '*';
  const list = ssn.names.map(quoteName).join(',');
  return mode === 'quorum' ? `ANY ${ssn.k} (${list})` : `${ssn.k} (${list})`;
}

/** A standby name as synchronous_standby_names needs it: double-quoted, inner quotes doubled. */
function quoteName(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * synchronous_standby_names as PostgreSQL reports it, for the forms this module writes and the
 * plain list of older configurations (`a, b` means FIRST 1). `FIRST k` and `ANY k` read alike:
 * which k of a longer FIRST list acknowledge depends on who is connected, so any k of them may
 * hold a commit. Null for what it cannot read.
 */
export function parseSsn(text: string): Ssn | null {
  const value = text.trim();
  if (value === '') return ASYNC;
  const match = /^(?:(?:ANY|FIRST)\s+)?(\d+)\s*\((.*)\)$/is.exec(value);
  const names = splitNames(match ? match[2]! : value);
  if (names === null || names.length === 0) return null;
  const k = match ? Number(match[1]) : 1;
  if (!Number.isInteger(k) || k < 1 || k > names.length) return null;
  return names.includes('*') ? ANY_STANDBY : { k, names };
}

/** `a, "b c", *` as names; null when a quote is not closed or a name is empty. */
function splitNames(list: string): string[] | null {
  const names: string[] = [];
  let i = 0;
  for (;;) {
    while (list[i] === ' ') i++;
    let name = '';
    if (list[i] === '"') {
      i++;
      for (;;) {
        if (i >= list.length) return null;
        if (list[i] === '"' && list[i + 1] === '"') {
          name += '"';
          i += 2;
        } else if (list[i] === '"') {
          i++;
          break;
        } else name += list[i++];
      }
    } else {
      while (i < list.length && list[i] !== ',' && list[i] !== ' ') name += list[i++];
    }
    if (name === '') return null;
    names.push(name);
    while (list[i] === ' ') i++;
    if (i >= list.length) return names;
    if (list[i] !== ',') return null;
    i++;
  }
}
