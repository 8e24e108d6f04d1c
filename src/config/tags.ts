// Tags: the `tags` section of the configuration as read, and the tags a member publishes (member
// key, GET /patroni). Patroni leaves boolean flags out while false, so `?tag_nofailover=false`
// never matches; failover_priority only when it says more than nofailover does (peers read an
// absent one as 1, or 0 for nofailover, as Patroni does).
import { Findings, join, readBool, readInt, readMap, readScalar } from './findings.ts';
import type { Scalar, Tags } from './types.ts';

/** Patroni's tags; any other key is a custom tag, published as it is. */
export const KNOWN_TAGS = [
  'nofailover',
  'noloadbalance',
  'clonefrom',
  'nosync',
  'nostream',
  'failover_priority',
  'sync_priority',
] as const;

const FLAG_TAGS = new Set(['clonefrom', 'nofailover', 'noloadbalance', 'nosync', 'nostream']);

/** The tags as a member key and GET /patroni publish them. */
export function publishedTags(tags: Tags): Record<string, Scalar> {
  const result: Record<string, Scalar> = {};
  for (const [key, value] of Object.entries(tags)) {
    if (FLAG_TAGS.has(key) && !value) continue;
    if (key === 'failover_priority' && value === (tags.nofailover ? 0 : 1)) continue;
    if (key === 'sync_priority' && value === 1) continue;
    result[key] = value;
  }
  return result;
}

/** Patroni's tags; failover_priority 0 and nofailover true mean the same and must agree when both are set. */
export function readTags(value: unknown, f: Findings): Tags | undefined {
  const map = readMap(value, 'tags', f);
  if (!map) return undefined;
  const bool = (key: string): boolean | undefined =>
    map[key] === undefined || map[key] === null ? undefined : readBool(map[key], join('tags', key), f);
  const nofailover = bool('nofailover');
  const priority =
    map.failover_priority === undefined || map.failover_priority === null
      ? undefined
      : readInt(map.failover_priority, 'tags.failover_priority', f, { min: 0 });
  if (nofailover !== undefined && priority !== undefined && nofailover === priority > 0) {
    f.problem(
      'tags.failover_priority',
      `conflicts with tags.nofailover: ${nofailover}; nofailover true means failover_priority 0 ` +
        `and false means a priority above 0, got ${priority}`,
    );
  }
  const tags: Tags = {
    nofailover: nofailover ?? priority === 0,
    noloadbalance: bool('noloadbalance') ?? false,
    clonefrom: bool('clonefrom') ?? false,
    nosync: bool('nosync') ?? false,
    nostream: bool('nostream') ?? false,
    failover_priority: priority ?? (nofailover ? 0 : 1),
    sync_priority:
      map.sync_priority === undefined || map.sync_priority === null
        ? 1
        : (readInt(map.sync_priority, 'tags.sync_priority', f, { min: 0 }) ?? 1),
  };
  for (const [key, v] of Object.entries(map)) {
    if ((KNOWN_TAGS as readonly string[]).includes(key) || v === null) continue;
    if (key === 'replicatefrom')
      f.warn(
        'tags.replicatefrom',
        'not implemented yet by Shardherd; replicas follow the leader (published as a plain tag)',
      );
    else {
      const near = KNOWN_TAGS.find((t) => t !== key && t.length > 4 && similar(t, key));
      if (near) f.warn(join('tags', key), `not a known tag; published as a custom tag (did you mean "${near}"?)`);
    }
    const s = readScalar(v, join('tags', key), f);
    if (s !== undefined) tags[key] = s;
  }
  return tags;
}

/** The same letters in any order, ignoring case and punctuation: catches `nofailvoer`, `no_failover`. */
function similar(a: string, b: string): boolean {
  const strip = (s: string): string => s.toLowerCase().replace(/[^a-z]/g, '');
  if (strip(a) === strip(b)) return true;
  return [...strip(a)].sort().join('') === [...strip(b)].sort().join('');
}
