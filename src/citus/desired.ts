// The topology the coordinator's metadata should describe, read from etcd's view of all groups.
// Pure: the manager feeds it every ClusterView it builds and hands the result to planMetadata.
import type { ClusterView, GroupView, Member } from '../dcs/types.ts';
import { hostPortFromUrl, memberAddress } from '../dcs/memberUrl.ts';
import { isPrimaryRole } from '../dcs/role.ts';
import {
  COORDINATOR_GROUP,
  type DesiredGroup,
  type DesiredNode,
  type DesiredPrimary,
  type DesiredTopology,
  type IgnoredMember,
} from './types.ts';

/**
 * The `pg_dist_poolinfo` value for a member, from `proxy_url`: the field Patroni (3.x and 4.x)
 * writes into the member key when `postgresql.proxy_address` names a pooler running next to
 * PostgreSQL, as `postgres://host:port/dbname`. Citus wants libpq keywords, so it becomes
 * `host=... port=...`; the database name is left out on purpose, because Citus connects to
 * the distributed database through the pooler, not to Patroni's maintenance database.
 */
export function poolinfoFromProxyUrl(proxyUrl: unknown): string | null {
  if (typeof proxyUrl !== 'string' || proxyUrl === '') return null;
  const address = hostPortFromUrl(proxyUrl);
  if (address === null) return null;
  return `host=${address.host} port=${address.port}`;
}

function runsAsPrimary(member: Member): boolean {
  return isPrimaryRole(member.data.role) && member.data.state === 'running';
}

function runsAsReplica(member: Member): boolean {
  return member.data.role === 'replica' && member.data.state === 'running';
}

/** Tags come from YAML through JSON, so `noloadbalance: "true"` is as good as `true`. */
function excludedFromLoadBalancing(member: Member): boolean {
  const value = member.data.tags?.noloadbalance;
  if (typeof value === 'string') return ['true', 'on', 'yes', '1'].includes(value.toLowerCase());
  return value === true || value === 1;
}

type NodeOrProblem = { ok: true; node: DesiredNode } | { ok: false; reason: string };

function toDesiredNode(member: Member): NodeOrProblem {
  const address = memberAddress(member.data);
  if (address === null) {
    return { ok: false, reason: `conn_url ${JSON.stringify(member.data.conn_url)} is not a postgres:// URL` };
  }
  const node: DesiredNode = {
    member: member.name,
    host: address.host,
    port: address.port,
    poolinfo: poolinfoFromProxyUrl(member.data.proxy_url),
  };
  return { ok: true, node };
}

function desiredGroup(view: GroupView & { group: number }, ignored: IgnoredMember[]): DesiredGroup {
  const group = view.group;
  const members = [...view.members].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const leaderName = view.leader?.name ?? null;
  const leader = leaderName === null ? undefined : members.find((m) => m.name === leaderName);

  let primary: DesiredPrimary;
  if (leaderName === null) {
    primary = { kind: 'keep', reason: 'no leader' };
  } else if (leader === undefined) {
    primary = { kind: 'keep', reason: `leader ${leaderName} has no member key` };
  } else if (group !== COORDINATOR_GROUP && !runsAsPrimary(leader)) {
    // A worker's row moves only once the new leader really serves writes; until then the old
    // row is the better guess (and the pause protocol covers the gap).
    primary = {
      kind: 'keep',
      reason: `leader ${leaderName} is ${leader.data.state} as ${leader.data.role}, not running as primary`,
    };
  } else {
    // The coordinator's leader is taken as it is: the manager runs inside that very agent and
    // only while its PostgreSQL is primary, so its own member key may merely lag behind.
    const result = toDesiredNode(leader);
    if (result.ok) {
      primary = { kind: 'node', node: result.node };
    } else {
      primary = { kind: 'keep', reason: `leader ${leaderName}: ${result.reason}` };
      ignored.push({ group, member: leaderName, reason: result.reason });
    }
  }

  const secondaries: DesiredNode[] = [];
  const primaryMember = primary.kind === 'node' ? primary.node.member : null;
  for (const member of members) {
    if (member.name === primaryMember || !runsAsReplica(member)) continue;
    if (excludedFromLoadBalancing(member)) continue;
    const result = toDesiredNode(member);
    if (result.ok) secondaries.push(result.node);
    else ignored.push({ group, member: member.name, reason: result.reason });
  }
  return { group, primary, secondaries };
}

/**
 * Desired topology of a Citus cluster: per group, the node its primary row should point at
 * (or `keep`), and the running replicas to register as secondaries. A view without Citus
 * groups (group null) yields no groups.
 */
export function desiredTopology(view: ClusterView): DesiredTopology {
  const ignored: IgnoredMember[] = [];
  const groups = view.groups
    .filter((g): g is GroupView & { group: number } => g.group !== null)
    .sort((a, b) => a.group - b.group)
    .map((g) => desiredGroup(g, ignored));
  return { groups, ignored };
}
