// The planner's working copy of pg_dist_node and pg_dist_poolinfo (plan.ts): addresses and
// poolinfo values as the statements planned so far leave them, and which rows the manager owns.
import { SQL } from './planSql.ts';
import type { PgDistNodeRow, PoolinfoRow, Statement } from './types.ts';

/** Suffix of the temporary name a row takes while its address changes hands. */
export const SWAP_SUFFIX = '-swapping';

const CLUSTER = 'default';

/** An address as a map key: pg_dist_node keeps (nodename, nodeport) unique. */
export type AddressKey = string;
export const addressKey = (host: string, port: number): AddressKey => JSON.stringify([host, port]);
/** `host:port` for messages, IPv6 hosts in brackets. */
export const showAddress = (host: string, port: number): string =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
export const rowAddress = (row: PgDistNodeRow): string => showAddress(row.nodename, row.nodeport);

/** Rows the manager owns; other clusters' rows and `unavailable` rows are never touched. */
export function isManagedRow(r: PgDistNodeRow): boolean {
  return r.nodecluster === CLUSTER && (r.noderole === 'primary' || r.noderole === 'secondary');
}

/** A primary row that Citus contacts on every add and remove (the coordinator's is not one). */
export function isMetadataWorker(r: PgDistNodeRow): boolean {
  return r.noderole === 'primary' && r.isactive && r.hasmetadata && r.groupid > 0;
}

/** The rows as the planned statements leave them: addresses and poolinfo values by nodeid. */
export class PlanRows {
  readonly rows: PgDistNodeRow[];
  readonly pool: Map<number, string>;
  private readonly occupant = new Map<AddressKey, PgDistNodeRow>();

  constructor(current: PgDistNodeRow[], poolinfo: PoolinfoRow[]) {
    this.rows = [...current].sort((a, b) => a.nodeid - b.nodeid).map((r) => ({ ...r }));
    for (const r of this.rows) this.occupant.set(addressKey(r.nodename, r.nodeport), r);
    this.pool = new Map(poolinfo.map((p) => [p.nodeid, p.poolinfo]));
  }

  at(host: string, port: number): PgDistNodeRow | undefined {
    return this.occupant.get(addressKey(host, port));
  }

  primaryOf(group: number): PgDistNodeRow | undefined {
    return this.rows.find((r) => isManagedRow(r) && r.noderole === 'primary' && r.groupid === group);
  }

  groups(): number[] {
    return [...new Set(this.rows.filter(isManagedRow).map((r) => r.groupid))];
  }

  move(row: PgDistNodeRow, host: string, port: number): void {
    this.occupant.delete(addressKey(row.nodename, row.nodeport));
    row.nodename = host;
    row.nodeport = port;
    this.occupant.set(addressKey(host, port), row);
  }

  /** A free temporary name for `row`, unique among every address there is. */
  placeholder(row: PgDistNodeRow): string {
    for (let i = 1; ; i++) {
      const host = `${row.nodename}${SWAP_SUFFIX}${i === 1 ? '' : `-${i}`}`;
      if (!this.occupant.has(addressKey(host, row.nodeport))) return host;
    }
  }

  /** Statements that set `nodeid`'s poolinfo to `want` (null: no row), recorded as done. */
  setPool(nodeid: number, want: string | null, why: string): Statement[] {
    const have = this.pool.get(nodeid);
    if (want === null) {
      if (have === undefined) return [];
      this.pool.delete(nodeid);
      return [{ sql: SQL.deletePoolinfo, params: [nodeid], why }];
    }
    if (have === want) return [];
    this.pool.set(nodeid, want);
    return have === undefined
      ? [{ sql: SQL.insertPoolinfo, params: [nodeid, want], why }]
      : [{ sql: SQL.updatePoolinfo, params: [nodeid, want], why }];
  }
}
