// Patroni's etcd key layout as pure functions: `/<namespace>/<scope>/[<group>/]<name>`.
// Every key the agent reads, writes or watches is built (and parsed back) here.

/** Names of the keys below a group prefix, as Patroni spells them. */
export const KEY = {
  initialize: 'initialize',
  config: 'config',
  leader: 'leader',
  failover: 'failover',
  history: 'history',
  membersDir: 'members/',
  status: 'status',
  /** Written by Patroni before 2.1 instead of `status`; read as a fallback only. */
  legacyOptime: 'optime/leader',
  sync: 'sync',
  failsafe: 'failsafe',
  /** Shardherd's own record of a Citus group's scale-out and removal (unknown to Patroni, which ignores it). */
  citus: 'citus',
} as const;

/** Citus group ids are decimal without leading zeros, like Patroni's `citus_group_re`. */
const GROUP_RE = /^(0|[1-9][0-9]*)$/;

export interface KeyLayoutOptions {
  /** e.g. `service` or `/service/`; slashes are normalized like Patroni does. */
  namespace: string;
  scope: string;
  /** Citus group of this agent; null when `citus` is not configured. */
  group: number | null;
}

/** A key below the scope mapped back onto the layout. */
export interface ParsedKey {
  group: number | null;
  /** Relative to the group prefix, e.g. `leader`, `members/node1`. */
  name: string;
}

export interface KeyLayout {
  /** `/<namespace>/<scope>/`: covers every group of the cluster. */
  readonly scopePrefix: string;
  /** `/<namespace>/<scope>/<group>/` with citus, else the scope prefix. */
  readonly groupPrefix: string;
  readonly citus: boolean;
  /** Full key of `name` in this agent's group (or in `group` when given). */
  key(name: string, group?: number): string;
  member(memberName: string, group?: number): string;
  /** Maps a full key back to group and name; null for keys outside the layout. */
  parse(key: string): ParsedKey | null;
}

/** `/<namespace>/<scope>` with runs of slashes collapsed, as Patroni's `_base_path`. */
export function basePath(namespace: string, scope: string): string {
  return ['', namespace, scope].join('/').replace(/\/+/g, '/');
}

export function keyLayout(options: KeyLayoutOptions): KeyLayout {
  const { group } = options;
  if (group !== null && !(Number.isInteger(group) && group >= 0)) {
    throw new RangeError(`citus group must be a non-negative integer, got ${group}`);
  }
  const scopePrefix = basePath(options.namespace, options.scope) + '/';
  const citus = group !== null;
  const prefixOf = (g: number | null): string => (g === null ? scopePrefix : `${scopePrefix}${g}/`);
  const groupPrefix = prefixOf(group);
  return {
    scopePrefix,
    groupPrefix,
    citus,
    key: (name, g) => (g === undefined ? groupPrefix : prefixOf(citus ? g : null)) + name.replace(/^\/+/, ''),
    member: (memberName, g) =>
      (g === undefined ? groupPrefix : prefixOf(citus ? g : null)) + KEY.membersDir + memberName,
    parse: (key) => parseKey(scopePrefix, citus, key),
  };
}

/** Splits a full key into group and name; with citus the first segment must be a group id. */
export function parseKey(scopePrefix: string, citus: boolean, key: string): ParsedKey | null {
  if (!key.startsWith(scopePrefix)) return null;
  const rest = key.slice(scopePrefix.length);
  if (!citus) return rest === '' ? null : { group: null, name: rest };
  const slash = rest.indexOf('/');
  if (slash <= 0) return null;
  const head = rest.slice(0, slash);
  const name = rest.slice(slash + 1);
  if (!GROUP_RE.test(head) || name === '') return null;
  return { group: Number(head), name };
}

/** Member name of a `members/<name>` key name, or null for any other key. */
export function memberName(name: string): string | null {
  if (!name.startsWith(KEY.membersDir)) return null;
  const rest = name.slice(KEY.membersDir.length);
  // Patroni only counts direct children of `members/`.
  return rest === '' || rest.includes('/') ? null : rest;
}

/** End of the etcd range covering every key that starts with `prefix`. */
export function prefixRangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i] += 1;
      return end.subarray(0, i + 1);
    }
  }
  // All 0xff: etcd reads "\0" as "to the end of the keyspace".
  return Buffer.from([0]);
}
