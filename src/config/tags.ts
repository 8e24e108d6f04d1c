// The tags a member publishes (member key, GET /patroni): Patroni leaves boolean flags out while
// false, so `?tag_nofailover=false` never matches; failover_priority only when it says more than
// nofailover does (peers read an absent one as 1, or 0 for nofailover, as Patroni does).
import type { Scalar, Tags } from './types.ts';

const FLAG_TAGS = new Set(['clonefrom', 'nofailover', 'noloadbalance', 'nosync', 'nostream']);

export function publishedTags(tags: Tags): Record<string, Scalar> {
  const result: Record<string, Scalar> = {};
  for (const [key, value] of Object.entries(tags)) {
    if (FLAG_TAGS.has(key) && !value) continue;
    if (key === 'failover_priority' && value === (tags.nofailover ? 0 : 1)) continue;
    result[key] = value;
  }
  return result;
}
