// planMetadata: the minimal, ordered list of statements that makes the coordinator's
// pg_dist_node and pg_dist_poolinfo describe the desired topology. Pure; the executor runs the
// list in one transaction. Replanning after the list has been applied yields an empty list.
import type { DesiredNode, DesiredTopology, PgDistNodeRow, PoolinfoRow, Statement } from './types.ts';

/**
 * The statements a plan is made of, exactly Citus 12/13's API. Parameters are left untyped on
 * purpose: PostgreSQL infers each from the function's signature (`citus_add_node(nodename text,
 * nodeport integer, groupid integer, noderole noderole, nodecluster name)`,
 * `citus_update_node(node_id integer, new_node_name text, new_node_port integer, force boolean,
 * lock_cooldown integer)`, `citus_remove_node(nodename text, nodeport integer)`), so `'primary'`
 * and `'secondary'` arrive as the `noderole` enum without a cast that would tie the SQL to
 * where that type lives.
 */
export const SQL = {
  addNode: "SELECT pg_catalog.citus_add_node($1, $2, $3, $4, 'default')",
  updateNode: 'SELECT pg_catalog.citus_update_node($1, $2, $3, $4, $5)',
  removeNode: 'SELECT pg_catalog.citus_remove_node($1, $2)',
  insertPoolinfo: 'INSERT INTO pg_catalog.pg_dist_poolinfo (nodeid, poolinfo) VALUES ($1, $2)',
  /**
   * For a node added earlier in the same transaction, whose nodeid the planner cannot know:
   * the row is found by its address, which pg_dist_node keeps unique.
   */
  insertPoolinfoByAddress:
    'INSERT INTO pg_catalog.pg_dist_poolinfo (nodeid, poolinfo) SELECT nodeid, $3::text FROM pg_catalog.pg_dist_node WHERE nodename = $1 AND nodeport = $2',
  updatePoolinfo: 'UPDATE pg_catalog.pg_dist_poolinfo SET poolinfo = $2 WHERE nodeid = $1',
  deletePoolinfo: 'DELETE FROM pg_catalog.pg_dist_poolinfo WHERE nodeid = $1',
} as const;

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

/** Suffix of the temporary name a secondary row takes while its address changes hands. */
export const SWAP_SUFFIX = '-swapping';

const CLUSTER = 'default';

type Key = string;
const keyOf = (host: string, port: number): Key => JSON.stringify([host, port]);
const show = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
const rowAddr = (row: PgDistNodeRow): string => show(row.nodename, row.nodeport);

/** Where a kept or moved row ends up; `node` null means etcd says nothing about it (keep poolinfo). */
interface Final {
  row: PgDistNodeRow;
  host: string;
  port: number;
  node: DesiredNode | null;
}

interface Addition {
  group: number;
  role: 'primary' | 'secondary';
  node: DesiredNode;
}

/**
 * Statements, in this order: moves out of the way (early removals and temporary names), primary
 * repoints, secondaries moving into place, removals, additions, poolinfo. Rows of another
 * `nodecluster` and `unavailable` rows are never touched, and their addresses are never reused.
 * A desired node whose address another row keeps is left out rather than failing the plan.
 */
export function planMetadata(
  desired: DesiredTopology,
  current: PgDistNodeRow[],
  poolinfo: PoolinfoRow[],
  options: PlanOptions = DEFAULT_PLAN_OPTIONS,
): Statement[] {
  const rows = [...current].sort((a, b) => a.nodeid - b.nodeid);
  const managed = (r: PgDistNodeRow) =>
    r.nodecluster === CLUSTER && (r.noderole === 'primary' || r.noderole === 'secondary');

  // One primary row per group; a second one (Citus forbids it) is left alone like a foreign row.
  const primaryRow = new Map<number, PgDistNodeRow>();
  for (const r of rows) if (managed(r) && r.noderole === 'primary' && !primaryRow.has(r.groupid)) primaryRow.set(r.groupid, r);
  const secondaryRows = rows.filter((r) => managed(r) && r.noderole === 'secondary');
  const fixedRows = rows.filter((r) => !managed(r) || (r.noderole === 'primary' && primaryRow.get(r.groupid) !== r));

  const desiredByGroup = new Map(desired.groups.map((g) => [g.group, g]));
  const groups = [...new Set([...desiredByGroup.keys(), ...primaryRow.keys(), ...secondaryRows.map((r) => r.groupid)])].sort(
    (a, b) => a - b,
  );
  const desiredPrimary = (g: number): DesiredNode | null => {
    const p = desiredByGroup.get(g)?.primary;
    return p?.kind === 'node' ? p.node : null;
  };

  // 1. Primaries. A primary that stays where it is holds its address; a repoint or addition
  //    whose address is held by such a row (or a foreign one) is given up, which can in turn pin
  //    its own row, hence the loop until nothing changes.
  const pinned = new Set<number>();
  for (const g of groups) {
    const r = primaryRow.get(g);
    const p = desiredPrimary(g);
    if (p === null || (r !== undefined && keyOf(p.host, p.port) === keyOf(r.nodename, r.nodeport))) pinned.add(g);
  }
  let claimed: Map<Key, string>;
  for (;;) {
    claimed = new Map<Key, string>();
    for (const r of fixedRows) claimed.set(keyOf(r.nodename, r.nodeport), `row ${r.nodeid}`);
    for (const g of pinned) {
      const r = primaryRow.get(g);
      if (r) claimed.set(keyOf(r.nodename, r.nodeport), `group ${g} primary`);
    }
    let changed = false;
    for (const g of groups) {
      if (pinned.has(g)) continue;
      const p = desiredPrimary(g)!;
      const k = keyOf(p.host, p.port);
      if (claimed.has(k)) {
        pinned.add(g);
        changed = true;
        break;
      }
      claimed.set(k, `group ${g} primary`);
    }
    if (!changed) break;
  }

  const finals = new Map<number, Final>();
  const additions: Addition[] = [];
  const hasPrimary = new Set<number>();
  for (const g of groups) {
    const r = primaryRow.get(g);
    const p = desiredPrimary(g);
    if (pinned.has(g)) {
      if (r) {
        const same = p !== null && keyOf(p.host, p.port) === keyOf(r.nodename, r.nodeport);
        finals.set(r.nodeid, { row: r, host: r.nodename, port: r.nodeport, node: same ? p : null });
        hasPrimary.add(g);
      }
    } else if (r) {
      finals.set(r.nodeid, { row: r, host: p!.host, port: p!.port, node: p });
      hasPrimary.add(g);
    } else {
      additions.push({ group: g, role: 'primary', node: p! });
      hasPrimary.add(g);
    }
  }

  // 2. Secondaries: registered only under a group that has (or gets) a primary row, and only at
  //    an address nobody else keeps.
  const wantedSecondaries = new Map<number, DesiredNode[]>();
  for (const g of groups) {
    const list: DesiredNode[] = [];
    for (const s of desiredByGroup.get(g)?.secondaries ?? []) {
      const k = keyOf(s.host, s.port);
      if (claimed.has(k)) continue;
      const existing = secondaryRows.find((r) => r.groupid === g && keyOf(r.nodename, r.nodeport) === k);
      if (!hasPrimary.has(g) && existing === undefined) continue;
      claimed.set(k, `group ${g} secondary`);
      list.push(s);
    }
    wantedSecondaries.set(g, list);
  }

  const unmatchedRows: PgDistNodeRow[] = [];
  const unmatchedWanted = new Map<Key, { group: number; node: DesiredNode }>();
  for (const [g, list] of wantedSecondaries) for (const s of list) unmatchedWanted.set(keyOf(s.host, s.port), { group: g, node: s });
  for (const r of secondaryRows) {
    const k = keyOf(r.nodename, r.nodeport);
    const wanted = unmatchedWanted.get(k);
    if (wanted && wanted.group === r.groupid) {
      finals.set(r.nodeid, { row: r, host: r.nodename, port: r.nodeport, node: wanted.node });
      unmatchedWanted.delete(k);
    } else {
      unmatchedRows.push(r);
    }
  }

  // Swap: the promoted node was a registered secondary and the old primary now runs as a replica
  // of the same group. The secondary row takes the old primary's address, so both rows keep
  // their nodeids.
  for (const g of groups) {
    const r = primaryRow.get(g);
    const f = r ? finals.get(r.nodeid) : undefined;
    if (!r || !f || (f.host === r.nodename && f.port === r.nodeport)) continue;
    const promotedRow = unmatchedRows.find((x) => x.groupid === g && keyOf(x.nodename, x.nodeport) === keyOf(f.host, f.port));
    const oldPrimary = unmatchedWanted.get(keyOf(r.nodename, r.nodeport));
    if (!promotedRow || !oldPrimary || oldPrimary.group !== g) continue;
    finals.set(promotedRow.nodeid, { row: promotedRow, host: r.nodename, port: r.nodeport, node: oldPrimary.node });
    unmatchedRows.splice(unmatchedRows.indexOf(promotedRow), 1);
    unmatchedWanted.delete(keyOf(r.nodename, r.nodeport));
  }
  const removals = unmatchedRows;
  for (const { group, node } of unmatchedWanted.values()) additions.push({ group, role: 'secondary', node });

  return sequence(rows, finals, removals, additions, claimed, poolinfo, options);
}

/** Orders the changes so that every statement is valid where it runs: addresses stay unique. */
function sequence(
  rows: PgDistNodeRow[],
  finals: Map<number, Final>,
  removals: PgDistNodeRow[],
  additions: Addition[],
  claimed: Map<Key, string>,
  poolinfo: PoolinfoRow[],
  options: PlanOptions,
): Statement[] {
  const outOfTheWay: Statement[] = [];
  const primaryRepoints: Statement[] = [];
  const secondaryMoves: Statement[] = [];
  const removalStatements: Statement[] = [];
  const additionStatements: Statement[] = [];

  // Who sits at each address as the statements run.
  const occupant = new Map<Key, number>();
  for (const r of rows) occupant.set(keyOf(r.nodename, r.nodeport), r.nodeid);
  const position = new Map<number, { host: string; port: number }>();
  for (const r of rows) position.set(r.nodeid, { host: r.nodename, port: r.nodeport });
  const move = (nodeid: number, host: string, port: number) => {
    const from = position.get(nodeid)!;
    occupant.delete(keyOf(from.host, from.port));
    occupant.set(keyOf(host, port), nodeid);
    position.set(nodeid, { host, port });
  };

  const byGroup = (a: PgDistNodeRow, b: PgDistNodeRow) => a.groupid - b.groupid || a.nodeid - b.nodeid;
  const moving = [...finals.values()]
    .filter((f) => f.host !== f.row.nodename || f.port !== f.row.nodeport)
    .sort((a, b) => byGroup(a.row, b.row));
  const targets = new Set(moving.map((f) => keyOf(f.host, f.port)));

  const removeStatement = (r: PgDistNodeRow, why: string): Statement => ({
    sql: SQL.removeNode,
    params: [r.nodename, r.nodeport],
    why,
  });

  // Rows that leave and sit where a row has to move: removed first.
  const early = new Set<number>();
  for (const r of [...removals].sort(byGroup)) {
    if (!targets.has(keyOf(r.nodename, r.nodeport))) continue;
    outOfTheWay.push(
      removeStatement(r, `group ${r.groupid}: remove ${r.noderole} ${rowAddr(r)} (nodeid ${r.nodeid}) first, its address is needed by a repoint`),
    );
    occupant.delete(keyOf(r.nodename, r.nodeport));
    early.add(r.nodeid);
  }

  const placeholder = (f: Final): { host: string; port: number } => {
    for (let i = 1; ; i++) {
      const host = `${f.row.nodename}${SWAP_SUFFIX}${i === 1 ? '' : `-${i}`}`;
      const k = keyOf(host, f.row.nodeport);
      if (!occupant.has(k) && !claimed.has(k)) return { host, port: f.row.nodeport };
    }
  };
  const park = (f: Final, why: string) => {
    const to = placeholder(f);
    outOfTheWay.push({
      sql: SQL.updateNode,
      params: [f.row.nodeid, to.host, to.port, f.row.noderole === 'primary' && options.force, options.lockCooldownMs],
      why: `group ${f.row.groupid}: move ${f.row.noderole} nodeid ${f.row.nodeid} from ${rowAddr(f.row)} to a temporary name, ${why}`,
    });
    move(f.row.nodeid, to.host, to.port);
  };

  const primaryTargets = new Set(moving.filter((f) => f.row.noderole === 'primary').map((f) => keyOf(f.host, f.port)));
  for (const f of moving) {
    if (f.row.noderole === 'secondary' && primaryTargets.has(keyOf(f.row.nodename, f.row.nodeport))) {
      park(f, 'its address becomes the primary');
    }
  }

  // Repoints in dependency order; a cycle (rows trading addresses) is broken with a temporary name.
  const runMoves = (pending: Final[], out: Statement[], describe: (f: Final) => Statement) => {
    while (pending.length > 0) {
      const i = pending.findIndex((f) => {
        const holder = occupant.get(keyOf(f.host, f.port));
        return holder === undefined || holder === f.row.nodeid;
      });
      if (i === -1) {
        // Every pending row waits for another pending row to leave: park one that blocks another.
        const blocker = pending.find((f) => {
          const at = position.get(f.row.nodeid)!;
          return pending.some((o) => o !== f && keyOf(o.host, o.port) === keyOf(at.host, at.port));
        });
        if (blocker === undefined) throw new Error('planMetadata: a repoint waits for a row that does not move');
        park(blocker, 'rows trade addresses');
        continue;
      }
      const [f] = pending.splice(i, 1);
      out.push(describe(f));
      move(f.row.nodeid, f.host, f.port);
    }
  };
  runMoves(
    moving.filter((f) => f.row.noderole === 'primary'),
    primaryRepoints,
    (f) => ({
      sql: SQL.updateNode,
      params: [f.row.nodeid, f.host, f.port, options.force, options.lockCooldownMs],
      why: `group ${f.row.groupid}: repoint primary nodeid ${f.row.nodeid} from ${rowAddr(f.row)} to ${show(f.host, f.port)} (${f.node?.member ?? 'unknown member'})`,
    }),
  );
  runMoves(
    moving.filter((f) => f.row.noderole === 'secondary'),
    secondaryMoves,
    (f) => ({
      sql: SQL.updateNode,
      params: [f.row.nodeid, f.host, f.port, false, options.lockCooldownMs],
      why: `group ${f.row.groupid}: secondary nodeid ${f.row.nodeid} now points at ${show(f.host, f.port)} (${f.node?.member ?? 'unknown member'}), the former primary`,
    }),
  );

  for (const r of [...removals].sort(byGroup)) {
    if (early.has(r.nodeid)) continue;
    const why =
      r.noderole === 'primary'
        ? `group ${r.groupid}: remove primary ${rowAddr(r)} (nodeid ${r.nodeid})`
        : `group ${r.groupid}: secondary ${rowAddr(r)} (nodeid ${r.nodeid}) is no longer a running replica`;
    removalStatements.push(removeStatement(r, why));
  }

  // Primaries first: Citus refuses a secondary in a group that has no primary row yet.
  const rank = (a: Addition) => (a.role === 'primary' ? 0 : 1);
  const ordered = [...additions].sort(
    (a, b) => rank(a) - rank(b) || a.group - b.group || (a.node.member < b.node.member ? -1 : a.node.member > b.node.member ? 1 : 0),
  );
  for (const a of ordered) {
    additionStatements.push({
      sql: SQL.addNode,
      params: [a.node.host, a.node.port, a.group, a.role],
      why:
        a.role === 'primary'
          ? `group ${a.group}: register primary ${show(a.node.host, a.node.port)} (${a.node.member})`
          : `group ${a.group}: register running replica ${show(a.node.host, a.node.port)} (${a.node.member}) as secondary`,
    });
  }

  return [
    ...outOfTheWay,
    ...primaryRepoints,
    ...secondaryMoves,
    ...removalStatements,
    ...additionStatements,
    ...planPoolinfo(rows, finals, removals, ordered, poolinfo),
  ];
}

/**
 * pg_dist_poolinfo rows keyed by nodeid: set for nodes that advertise a pooler, deleted for
 * nodes that stopped advertising one, for removed nodes (Citus versions differ on whether the
 * row goes with the node) and for nodeids no longer in pg_dist_node. Rows of nodes etcd says
 * nothing about (a primary kept while its leader is missing, foreign rows) are left alone.
 */
function planPoolinfo(
  rows: PgDistNodeRow[],
  finals: Map<number, Final>,
  removals: PgDistNodeRow[],
  additions: Addition[],
  poolinfo: PoolinfoRow[],
): Statement[] {
  const out: Statement[] = [];
  const currentPool = new Map(poolinfo.map((p) => [p.nodeid, p.poolinfo]));
  const known = new Set(rows.map((r) => r.nodeid));
  const removed = new Set(removals.map((r) => r.nodeid));
  const nodeids = [...new Set([...finals.keys(), ...currentPool.keys()])].sort((a, b) => a - b);
  for (const nodeid of nodeids) {
    const have = currentPool.get(nodeid);
    const f = finals.get(nodeid);
    if (f === undefined) {
      if (have !== undefined && (removed.has(nodeid) || !known.has(nodeid))) {
        out.push({
          sql: SQL.deletePoolinfo,
          params: [nodeid],
          why: removed.has(nodeid) ? `nodeid ${nodeid} was removed: drop its poolinfo` : `nodeid ${nodeid} is not in pg_dist_node: drop its poolinfo`,
        });
      }
      continue;
    }
    if (f.node === null) continue;
    const want = f.node.poolinfo;
    const at = `nodeid ${nodeid} (${f.node.member})`;
    if (want !== null && have === undefined) {
      out.push({ sql: SQL.insertPoolinfo, params: [nodeid, want], why: `${at} advertises a pooler: ${want}` });
    } else if (want !== null && have !== want) {
      out.push({ sql: SQL.updatePoolinfo, params: [nodeid, want], why: `${at} pooler changed from ${have} to ${want}` });
    } else if (want === null && have !== undefined) {
      out.push({ sql: SQL.deletePoolinfo, params: [nodeid], why: `${at} advertises no pooler` });
    }
  }
  for (const a of additions) {
    if (a.node.poolinfo === null) continue;
    out.push({
      sql: SQL.insertPoolinfoByAddress,
      params: [a.node.host, a.node.port, a.node.poolinfo],
      why: `new ${a.role} ${show(a.node.host, a.node.port)} (${a.node.member}) advertises a pooler: ${a.node.poolinfo}`,
    });
  }
  return out;
}
