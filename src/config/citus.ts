// The `citus` section: the member's Citus group, the database the extension lives in, and the
// optional address of the PgBouncer other nodes connect through (`citus.pooler`).
import { Findings, readInt, readString } from './findings.ts';
import { formatHostPort, isWildcardHost, parseHostPort, recorded } from './hostPort.ts';
import * as K from './keys.ts';
import type { CitusConfig, HostPort } from './types.ts';

/** null: not a Citus cluster; undefined: invalid (a problem was recorded). */
export function readCitus(value: unknown, f: Findings): CitusConfig | null | undefined {
  if (value === undefined || value === null) return null;
  const map = K.readSection(value, 'citus', K.CITUS, f);
  if (!map) return undefined;
  const group =
    map.group === undefined || map.group === null
      ? f.problem('citus.group', 'required (0 for the coordinator, 1.. for workers)')
      : readInt(map.group, 'citus.group', f, { min: 0 });
  const database =
    map.database === undefined || map.database === null
      ? f.problem('citus.database', 'required (the database where the citus extension lives)')
      : readString(map.database, 'citus.database', f, { nonEmpty: true });
  let pooler: HostPort | undefined;
  if (map.pooler !== undefined && map.pooler !== null) {
    pooler = recorded(parseHostPort(map.pooler, 'citus.pooler'), f);
    if (pooler === undefined) return undefined;
    if (isWildcardHost(pooler.host)) {
      return f.problem('citus.pooler', `must be an address other nodes can connect to, got ${formatHostPort(pooler)}`);
    }
  }
  if (group === undefined || database === undefined) return undefined;
  return pooler === undefined ? { group, database } : { group, database, pooler };
}
