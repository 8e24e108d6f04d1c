// The Citus manager's in-memory copy of every group's leader and member keys: loaded once with a
// range read, then kept current by applying watch events, so no event costs an etcd read.
import { KEY, memberName } from '../dcs/keys.ts';
import type { ClusterView, DcsEvent, GroupView, Member } from '../dcs/types.ts';
import { emptyGroup, parseCitusMark, parseGroup, type StoredKey } from '../dcs/view.ts';

/**
 * Whether an event can change what the manager wants: a group's leader, one of its members, or its
 * `citus` key (a join balanced, a removal asked for or advanced).
 */
export function isTopologyEvent(event: DcsEvent): boolean {
  return (
    event.group !== null && (event.name === KEY.leader || event.name === KEY.citus || memberName(event.name) !== null)
  );
}

const byName = (a: Member, b: Member): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export class LiveView {
  private current: ClusterView;

  constructor(view: ClusterView) {
    this.current = view;
  }

  get view(): ClusterView {
    return this.current;
  }

  get revision(): string {
    return this.current.revision;
  }

  /** Replaces everything, e.g. after a resync reload. */
  replace(view: ClusterView): void {
    this.current = view;
  }

  /**
   * Applies events in revision order. Events the view already contains (mod revision at or
   * below its revision, as after a reload that overlapped the watch) and keys other than leader,
   * members and `citus` are skipped. Returns whether the leader or member keys changed.
   */
  apply(events: readonly DcsEvent[]): boolean {
    let changed = false;
    let revision = BigInt(this.current.revision);
    const groups = new Map(this.current.groups.map((g) => [g.group, g]));
    for (const event of events) {
      const at = BigInt(event.modRevision);
      if (at <= revision) continue;
      revision = at;
      if (!isTopologyEvent(event) || event.group === null) continue;
      const before = groups.get(event.group) ?? emptyGroup(event.group);
      groups.set(event.group, applyOne(before, event));
      changed = true;
    }
    const groupList = [...groups.values()].sort((a, b) => (a.group ?? -1) - (b.group ?? -1));
    this.current = { revision: revision.toString(), groups: groupList };
    return changed;
  }
}

/**
 * One leader or member event onto a group, parsed by view.ts's own parseGroup so a value reads
 * exactly as it would after a range read. A watch event carries no lease or create revision:
 * the lease of the key it replaces is kept, and a key that was absent was created by this event.
 */
function applyOne(group: GroupView, event: DcsEvent): GroupView {
  const member = memberName(event.name);
  if (event.type === 'delete' || event.value === null) {
    if (member !== null) return { ...group, members: group.members.filter((m) => m.name !== member) };
    if (event.name === KEY.citus) return { ...group, citus: null };
    return { ...group, leader: null };
  }
  if (event.name === KEY.citus) {
    return { ...group, citus: { value: parseCitusMark(event.value), modRevision: event.modRevision } };
  }
  if (member !== null) {
    const previous = group.members.find((m) => m.name === member);
    const stored: StoredKey = {
      key: event.name,
      value: event.value,
      modRevision: event.modRevision,
      createRevision: event.modRevision,
      lease: previous?.lease ?? '0',
    };
    const parsed = parseGroup(group.group, new Map([[event.name, stored]])).members[0];
    const members = group.members.filter((m) => m.name !== member);
    if (parsed !== undefined) members.push(parsed);
    return { ...group, members: members.sort(byName) };
  }
  const previous = group.leader;
  const stored: StoredKey = {
    key: event.name,
    value: event.value,
    modRevision: event.modRevision,
    createRevision: previous?.createRevision ?? event.modRevision,
    lease: previous?.lease ?? '0',
  };
  return { ...group, leader: parseGroup(group.group, new Map([[KEY.leader, stored]])).leader };
}
