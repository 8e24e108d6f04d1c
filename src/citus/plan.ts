// planMetadata: the changes that make the coordinator's pg_dist_node and pg_dist_poolinfo describe
// the desired topology, in two phases shaped by Citus's rules (docs/design.md, "Citus manager").
// Pure; the manager and the pause protocol run the changes, one transaction each. The rows as
// planned statements leave them are planRows.ts, the statements' SQL planSql.ts.
import {
  addressKey,
  isManagedRow,
  PlanRows,
  rowAddress,
  showAddress,
  SWAP_SUFFIX,
  type AddressKey,
} from './planRows.ts';
import { SQL } from './planSql.ts';
import type { DesiredNode, DesiredTopology, PgDistNodeRow, PoolinfoRow, Statement } from './types.ts';

export interface PlanOptions {
  /** `force` of citus_update_node for primary repoints: end backends that block the move. */
  force: boolean;
  /** `lock_cooldown` of citus_update_node, in milliseconds. */
  lockCooldownMs: number;
}

/**
 * A failover repoint is forced: the old primary is usually gone, and backends waiting on it
 * would otherwise hold the move up. 10 s is Citus's own default cooldown.
 */
export const DEFAULT_PLAN_OPTIONS: PlanOptions = { force: true, lockCooldownMs: 10000 };

/**
 * One transaction's worth of statements.
 * - `repoint`: a group's primary row follows its new primary by `citus_update_node` only (with a
 *   swap of addresses when the new primary was registered as a secondary), plus the poolinfo of
 *   the rows it moves. Contacts no other node, so it works while the old primary is dead.
 * - `poolinfo`: pg_dist_poolinfo rows only; local to the coordinator.
 * - `membership`: one `citus_add_node` or `citus_remove_node` (plus its poolinfo). Citus runs it
 *   on every metadata worker, so it fails while one is down, read-only or out of sync.
 */
export interface Change {
  kind: 'repoint' | 'poolinfo' | 'membership';
  /** The group the change is about; null for a poolinfo clean-up across groups. */
  group: number | null;
  statements: Statement[];
}

export interface MetadataPlan {
  /** Repoints (in dependency order) and poolinfo fixes: safe whatever state the workers are in. */
  local: Change[];
  /** Adds and removes, removals first; to run only once every metadata worker is up and synced. */
  membership: Change[];
}

const byGroup = (a: PgDistNodeRow, b: PgDistNodeRow): number => a.groupid - b.groupid || a.nodeid - b.nodeid;
const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Statements of all changes in order, as one list (for logs and tests). */
export function flattenPlan(plan: MetadataPlan): Statement[] {
  return [...plan.local, ...plan.membership].flatMap((c) => c.statements);
}

/**
 * The plan from the desired topology and the current rows. Replanning after every change has
 * been applied yields an empty plan. A desired node whose address another row keeps is left
 * out rather than failing the plan.
 */
export function planMetadata(
  desired: DesiredTopology,
  current: PgDistNodeRow[],
  poolinfo: PoolinfoRow[],
  options: PlanOptions = DEFAULT_PLAN_OPTIONS,
): MetadataPlan {
  const state = new PlanRows(current, poolinfo);
  const desiredByGroup = new Map(desired.groups.map((g) => [g.group, g]));
  const desiredPrimary = (g: number): DesiredNode | null => {
    const p = desiredByGroup.get(g)?.primary;
    return p?.kind === 'node' ? p.node : null;
  };
  const local = planRepoints(state, desiredByGroup, desiredPrimary, options);
  const membership = planMembership(state, desiredByGroup, desiredPrimary);
  const cleanup = planPoolinfo(state, desiredByGroup, desiredPrimary);
  if (cleanup.length > 0) local.push({ kind: 'poolinfo', group: null, statements: cleanup });
  return { local, membership };
}

/**
 * Phase 1: each group's primary row moves to its new primary with citus_update_node, keeping its
 * nodeid. A row at the target address is moved first: the group's own secondary row (the
 * promoted replica) takes the old primary's address, so both rows keep their nodeids; another
 * group's secondary row is parked under a temporary name for phase 2 to remove. Repoints run in
 * dependency order; a repoint onto a primary row that stays (or a cycle) is given up.
 */
function planRepoints(
  state: PlanRows,
  desiredByGroup: Map<number, { secondaries: DesiredNode[] }>,
  desiredPrimary: (g: number) => DesiredNode | null,
  options: PlanOptions,
): Change[] {
  const update = (r: PgDistNodeRow, host: string, port: number, force: boolean, why: string): Statement => ({
    sql: SQL.updateNode,
    params: [r.nodeid, host, port, force, options.lockCooldownMs],
    why,
  });
  const pending = state
    .groups()
    .sort((a, b) => a - b)
    .flatMap((g) => {
      const r = state.primaryOf(g);
      const p = desiredPrimary(g);
      return r && p && addressKey(p.host, p.port) !== addressKey(r.nodename, r.nodeport) ? [{ g, r, p }] : [];
    });
  const out: Change[] = [];
  for (;;) {
    const i = pending.findIndex(({ r, p }) => {
      const holder = state.at(p.host, p.port);
      return holder === undefined || holder === r || (isManagedRow(holder) && holder.noderole === 'secondary');
    });
    if (i === -1) break;
    const [{ g, r, p }] = pending.splice(i, 1);
    const from = { host: r.nodename, port: r.nodeport };
    const fromAt = showAddress(from.host, from.port);
    const formerPool = state.pool.get(r.nodeid) ?? null;
    const holder = state.at(p.host, p.port);
    const statements: Statement[] = [];
    let swapped: PgDistNodeRow | null = null;
    if (holder !== undefined && holder !== r && holder.groupid === g) {
      const temp = state.placeholder(r);
      statements.push(
        update(
          r,
          temp,
          r.nodeport,
          options.force,
          `group ${g}: move primary nodeid ${r.nodeid} from ${rowAddress(r)} to a temporary name, ` +
            `its address goes to secondary nodeid ${holder.nodeid}`,
        ),
      );
      state.move(r, temp, r.nodeport);
      statements.push(
        update(
          holder,
          from.host,
          from.port,
          false,
          `group ${g}: secondary nodeid ${holder.nodeid} (${p.member}, promoted) ` +
            `now stands for the former primary ${fromAt}`,
        ),
      );
      state.move(holder, from.host, from.port);
      swapped = holder;
    } else if (holder !== undefined && holder !== r) {
      const temp = state.placeholder(holder);
      statements.push(
        update(
          holder,
          temp,
          holder.nodeport,
          false,
          `group ${holder.groupid}: park secondary nodeid ${holder.nodeid} ${rowAddress(holder)} ` +
            `under a temporary name, group ${g}'s primary needs the address`,
        ),
      );
      state.move(holder, temp, holder.nodeport);
    }
    statements.push(
      update(
        r,
        p.host,
        p.port,
        options.force,
        `group ${g}: repoint primary nodeid ${r.nodeid} from ${fromAt} to ${showAddress(p.host, p.port)} (${p.member})`,
      ),
    );
    state.move(r, p.host, p.port);
    statements.push(
      ...state.setPool(r.nodeid, p.poolinfo, `group ${g}: poolinfo of primary nodeid ${r.nodeid} follows ${p.member}`),
    );
    if (swapped !== null) {
      // The swapped row now stands for the former primary: its pooler, as etcd or the old row says.
      const old = desiredByGroup
        .get(g)
        ?.secondaries.find((s) => addressKey(s.host, s.port) === addressKey(from.host, from.port));
      const want = old !== undefined ? old.poolinfo : formerPool;
      statements.push(
        ...state.setPool(
          swapped.nodeid,
          want,
          `group ${g}: poolinfo of secondary nodeid ${swapped.nodeid} follows the former primary`,
        ),
      );
    }
    out.push({ kind: 'repoint', group: g, statements });
  }
  return out;
}

/**
 * Phase 2 on the rows as phase 1 leaves them: secondaries that are no longer running replicas
 * (and parked rows) are removed, then missing primaries and secondaries are added, one change
 * each. A secondary is registered only under a group that has (or gets) a primary row, and only
 * at an address no other kept row holds.
 */
function planMembership(
  state: PlanRows,
  desiredByGroup: Map<number, { group: number; secondaries: DesiredNode[] }>,
  desiredPrimary: (g: number) => DesiredNode | null,
): Change[] {
  const removals: PgDistNodeRow[] = [];
  const primaryAdds: Array<{ group: number; node: DesiredNode }> = [];
  const secondaryAdds: Array<{ group: number; node: DesiredNode }> = [];
  const claimed = new Set<AddressKey>();
  const kept = new Set<number>();

  const groups = [...new Set([...desiredByGroup.keys(), ...state.groups()])].sort((a, b) => a - b);
  // Rows that stay whatever the secondaries want: primaries, foreign and unavailable rows.
  for (const r of state.rows) {
    if (!isManagedRow(r) || r.noderole === 'primary') {
      claimed.add(addressKey(r.nodename, r.nodeport));
      kept.add(r.nodeid);
    }
  }
  const releasable = (host: string, port: number): boolean => {
    const holder = state.at(host, port);
    return holder === undefined || !kept.has(holder.nodeid);
  };
  for (const g of groups) {
    const p = desiredPrimary(g);
    if (state.primaryOf(g) !== undefined || p === null) continue;
    const k = addressKey(p.host, p.port);
    if (claimed.has(k) || !releasable(p.host, p.port)) continue;
    claimed.add(k);
    primaryAdds.push({ group: g, node: p });
  }
  for (const g of groups) {
    const hasPrimary = state.primaryOf(g) !== undefined || primaryAdds.some((a) => a.group === g);
    for (const s of [...(desiredByGroup.get(g)?.secondaries ?? [])].sort((a, b) => byName(a.member, b.member))) {
      const k = addressKey(s.host, s.port);
      if (claimed.has(k)) continue;
      const holder = state.at(s.host, s.port);
      const mine =
        holder !== undefined && holder.groupid === g && holder.noderole === 'secondary' && !kept.has(holder.nodeid);
      if (mine) {
        claimed.add(k);
        kept.add(holder.nodeid);
        continue;
      }
      if (!hasPrimary || !releasable(s.host, s.port)) continue;
      claimed.add(k);
      secondaryAdds.push({ group: g, node: s });
    }
  }
  for (const r of state.rows) if (isManagedRow(r) && !kept.has(r.nodeid)) removals.push(r);

  const out: Change[] = [];
  for (const r of removals.sort(byGroup)) {
    const why = r.nodename.includes(SWAP_SUFFIX)
      ? `group ${r.groupid}: remove parked ${r.noderole} ${rowAddress(r)} (nodeid ${r.nodeid})`
      : `group ${r.groupid}: secondary ${rowAddress(r)} (nodeid ${r.nodeid}) is no longer a running replica`;
    out.push({
      kind: 'membership',
      group: r.groupid,
      statements: [
        ...state.setPool(r.nodeid, null, `nodeid ${r.nodeid} is being removed: drop its poolinfo`),
        { sql: SQL.removeNode, params: [r.nodename, r.nodeport], why },
      ],
    });
  }
  const add = (group: number, role: 'primary' | 'secondary', node: DesiredNode): Change => {
    const at = showAddress(node.host, node.port);
    const statements: Statement[] = [
      {
        sql: SQL.addNode,
        params: [node.host, node.port, group, role],
        why:
          role === 'primary'
            ? `group ${group}: register primary ${at} (${node.member})`
            : `group ${group}: register running replica ${at} (${node.member}) as secondary`,
      },
    ];
    if (node.poolinfo !== null) {
      statements.push({
        sql: SQL.insertPoolinfoByAddress,
        params: [node.host, node.port, node.poolinfo],
        why: `new ${role} ${at} (${node.member}) advertises a pooler: ${node.poolinfo}`,
      });
    }
    return { kind: 'membership', group, statements };
  };
  for (const a of primaryAdds) out.push(add(a.group, 'primary', a.node));
  for (const a of secondaryAdds.sort((x, y) => x.group - y.group || byName(x.node.member, y.node.member))) {
    out.push(add(a.group, 'secondary', a.node));
  }
  return out;
}

/**
 * pg_dist_poolinfo of rows that stay where they are: set for nodes that advertise a pooler,
 * deleted for nodes that stopped advertising one and for nodeids no longer in pg_dist_node. Rows
 * of nodes etcd says nothing about (a primary kept while its leader is missing, foreign rows,
 * rows phase 2 removes) are left alone.
 */
function planPoolinfo(
  state: PlanRows,
  desiredByGroup: Map<number, { secondaries: DesiredNode[] }>,
  desiredPrimary: (g: number) => DesiredNode | null,
): Statement[] {
  const out: Statement[] = [];
  const known = new Set(state.rows.map((r) => r.nodeid));
  for (const nodeid of [...state.pool.keys()].sort((a, b) => a - b)) {
    if (!known.has(nodeid))
      out.push(...state.setPool(nodeid, null, `nodeid ${nodeid} is not in pg_dist_node: drop its poolinfo`));
  }
  for (const r of state.rows) {
    if (!isManagedRow(r)) continue;
    const k = addressKey(r.nodename, r.nodeport);
    const p = desiredPrimary(r.groupid);
    const node =
      r.noderole === 'primary'
        ? p !== null && addressKey(p.host, p.port) === k
          ? p
          : null
        : (desiredByGroup.get(r.groupid)?.secondaries.find((s) => addressKey(s.host, s.port) === k) ?? null);
    if (node === null) continue;
    const have = state.pool.get(r.nodeid);
    const why =
      node.poolinfo === null
        ? `nodeid ${r.nodeid} (${node.member}) advertises no pooler`
        : have === undefined
          ? `nodeid ${r.nodeid} (${node.member}) advertises a pooler: ${node.poolinfo}`
          : `nodeid ${r.nodeid} (${node.member}) pooler changed from ${have} to ${node.poolinfo}`;
    out.push(...state.setPool(r.nodeid, node.poolinfo, why));
  }
  return out;
}
