// A tiny model of what the plan's statements do to pg_dist_node and pg_dist_poolinfo, strict
// where Citus is strict (unique addresses, one primary per group, unknown nodes) and stricter
// where a silent outcome would hide a planner bug (adding a known address, 0-row poolinfo writes).
import type { NodeRole, PgDistNodeRow, PoolinfoRow, Statement } from '../../../src/citus/types.ts';

export interface Metadata {
  rows: PgDistNodeRow[];
  poolinfo: PoolinfoRow[];
}

/** A statement reduced to what it does, recognised from its SQL text. */
export type Effect =
  | { op: 'add'; host: string; port: number; group: number; role: NodeRole }
  | { op: 'update'; nodeid: number; host: string; port: number; force: boolean; cooldown: number }
  | { op: 'remove'; host: string; port: number }
  | { op: 'pool-insert'; nodeid: number; poolinfo: string }
  | { op: 'pool-insert-by-address'; host: string; port: number; poolinfo: string }
  | { op: 'pool-update'; nodeid: number; poolinfo: string }
  | { op: 'pool-delete'; nodeid: number };

/** The one statement recognised by its whole text, written out here rather than taken from planSql.ts. */
const INSERT_POOLINFO_BY_ADDRESS =
  'INSERT INTO pg_catalog.pg_dist_poolinfo (nodeid, poolinfo) ' +
  'SELECT nodeid, $3::text FROM pg_catalog.pg_dist_node WHERE nodename = $1 AND nodeport = $2';

export function effectOf(s: Statement): Effect {
  const p = s.params;
  const sql = s.sql.replace(/\s+/g, ' ');
  if (/pg_catalog\.citus_add_node\(\$1, \$2, \$3, \$4, 'default'\)/.test(sql)) {
    return { op: 'add', host: p[0] as string, port: p[1] as number, group: p[2] as number, role: p[3] as NodeRole };
  }
  if (/pg_catalog\.citus_update_node\(\$1, \$2, \$3, \$4, \$5\)/.test(sql)) {
    return {
      op: 'update',
      nodeid: p[0] as number,
      host: p[1] as string,
      port: p[2] as number,
      force: p[3] as boolean,
      cooldown: p[4] as number,
    };
  }
  if (/pg_catalog\.citus_remove_node\(\$1, \$2\)/.test(sql))
    return { op: 'remove', host: p[0] as string, port: p[1] as number };
  if (/^INSERT INTO pg_catalog\.pg_dist_poolinfo \(nodeid, poolinfo\) VALUES/.test(sql)) {
    return { op: 'pool-insert', nodeid: p[0] as number, poolinfo: p[1] as string };
  }
  if (sql === INSERT_POOLINFO_BY_ADDRESS) {
    return { op: 'pool-insert-by-address', host: p[0] as string, port: p[1] as number, poolinfo: p[2] as string };
  }
  if (/^UPDATE pg_catalog\.pg_dist_poolinfo SET poolinfo = \$2 WHERE nodeid = \$1$/.test(sql)) {
    return { op: 'pool-update', nodeid: p[0] as number, poolinfo: p[1] as string };
  }
  if (/^DELETE FROM pg_catalog\.pg_dist_poolinfo WHERE nodeid = \$1$/.test(sql))
    return { op: 'pool-delete', nodeid: p[0] as number };
  throw new Error(`unrecognised statement: ${s.sql}`);
}

/** Citus's rules the simulator enforces besides the catalog's: nodes that cannot be reached. */
export interface SimulateOptions {
  /** Addresses (`host:port`) of nodes that are down: an add or remove fails while one is a metadata worker. */
  down?: ReadonlySet<string>;
}

const isMetadataWorker = (r: PgDistNodeRow): boolean =>
  r.noderole === 'primary' && r.isactive && r.hasmetadata && r.groupid > 0;

/** What Citus's metadata sync does once every metadata worker is reachable: all flags true again. */
export function syncAll(m: Metadata): Metadata {
  return {
    rows: m.rows.map((r) => (isMetadataWorker(r) ? { ...r, metadatasynced: true } : { ...r })),
    poolinfo: m.poolinfo.map((p) => ({ ...p })),
  };
}

/**
 * Applies statements in order to a copy of the metadata; throws where the database would fail,
 * including Citus's own refusals: citus_update_node leaves every metadata worker out of sync,
 * and an add or remove fails while a metadata worker is out of sync or down.
 */
export function simulate(start: Metadata, statements: Statement[], options: SimulateOptions = {}): Metadata {
  const rows = start.rows.map((r) => ({ ...r }));
  const pool = start.poolinfo.map((p) => ({ ...p }));
  let nextId = Math.max(0, ...rows.map((r) => r.nodeid)) + 1;
  const at = (host: string, port: number) => rows.find((r) => r.nodename === host && r.nodeport === port);
  const contactWorkers = (what: string) => {
    for (const w of rows.filter(isMetadataWorker)) {
      if (!w.metadatasynced)
        throw new Error(`${what}: ${w.nodename}:${w.nodeport} is a metadata node, but is out of sync`);
      if (options.down?.has(`${w.nodename}:${w.nodeport}`))
        throw new Error(`${what}: connection to the remote node ${w.nodename}:${w.nodeport} failed`);
    }
  };

  for (const s of statements) {
    const e = effectOf(s);
    switch (e.op) {
      case 'add': {
        if (at(e.host, e.port)) throw new Error(`add: ${e.host}:${e.port} is already registered`);
        contactWorkers(`add ${e.host}:${e.port}`);
        const groupPrimary = rows.find(
          (r) => r.groupid === e.group && r.noderole === 'primary' && r.nodecluster === 'default',
        );
        if (e.role === 'primary' && groupPrimary) throw new Error(`add: group ${e.group} already has a primary node`);
        if (e.role === 'secondary' && !groupPrimary)
          throw new Error(`add: group ${e.group} has no primary for secondary ${e.host}:${e.port}`);
        const primary = e.role === 'primary';
        rows.push({
          nodeid: nextId++,
          groupid: e.group,
          nodename: e.host,
          nodeport: e.port,
          noderack: 'default',
          hasmetadata: primary,
          isactive: true,
          noderole: e.role,
          nodecluster: 'default',
          metadatasynced: primary,
          shouldhaveshards: primary && e.group !== 0,
        });
        break;
      }
      case 'update': {
        const row = rows.find((r) => r.nodeid === e.nodeid);
        if (!row) throw new Error(`update: node ${e.nodeid} not found`);
        const other = at(e.host, e.port);
        if (other && other !== row) throw new Error(`update: ${e.host}:${e.port} is held by node ${other.nodeid}`);
        if (row.nodename === e.host && row.nodeport === e.port) break;
        row.nodename = e.host;
        row.nodeport = e.port;
        for (const w of rows) if (isMetadataWorker(w)) w.metadatasynced = false;
        break;
      }
      case 'remove': {
        const row = at(e.host, e.port);
        if (!row) throw new Error(`remove: ${e.host}:${e.port} not found`);
        contactWorkers(`remove ${e.host}:${e.port}`);
        // pg_dist_poolinfo is left as it is: some Citus versions cascade, some do not, and the
        // plan must be right for both.
        rows.splice(rows.indexOf(row), 1);
        break;
      }
      case 'pool-insert':
      case 'pool-insert-by-address': {
        const nodeid = e.op === 'pool-insert' ? e.nodeid : at(e.host, e.port)?.nodeid;
        if (nodeid === undefined || !rows.some((r) => r.nodeid === nodeid))
          throw new Error(`poolinfo insert: no node for ${JSON.stringify(e)}`);
        if (pool.some((p) => p.nodeid === nodeid))
          throw new Error(`poolinfo insert: node ${nodeid} already has poolinfo`);
        pool.push({ nodeid, poolinfo: e.poolinfo });
        break;
      }
      case 'pool-update': {
        const row = pool.find((p) => p.nodeid === e.nodeid);
        if (!row) throw new Error(`poolinfo update: node ${e.nodeid} has no poolinfo`);
        row.poolinfo = e.poolinfo;
        break;
      }
      case 'pool-delete': {
        const i = pool.findIndex((p) => p.nodeid === e.nodeid);
        if (i === -1) throw new Error(`poolinfo delete: node ${e.nodeid} has no poolinfo`);
        pool.splice(i, 1);
        break;
      }
    }
  }
  return { rows, poolinfo: pool };
}
