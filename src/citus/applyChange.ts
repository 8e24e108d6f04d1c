// One change of a plan run by the reconcile against the coordinator, in a transaction of its own:
// each statement logged as it goes, and once committed, the poolers it registered probed.
import type { Logger } from '../log.ts';
import { applyPlan, type MetadataRows, type Queryable } from './metadataStore.ts';
import type { Change } from './plan.ts';
import { SQL } from './planSql.ts';
import { probePooler } from './poolerProbe.ts';
import type { Statement } from './types.ts';

/** Where a statement stands in the run it belongs to (numbered from 1), for its log line. */
export interface StatementStep {
  kind?: Change['kind'];
  group: number | null;
  step: number;
  of: number;
}

/** The log line of a metadata statement about to run, the reconcile's and a pause's alike. */
export function logStatement(logger: Logger, statement: Statement, at: StatementStep): void {
  logger.info({ action: 'citus-metadata', ...at, sql: statement.sql, params: statement.params }, statement.why);
}

/**
 * `change` in its own transaction, its statements counted from `run.done` of `run.planned`. With
 * `readBack`, returns the rows as they are just before its COMMIT (the last change of a run reads
 * them once for all); null otherwise.
 */
export async function applyChange(
  client: Queryable,
  change: Change,
  run: { done: number; planned: number },
  readBack: boolean,
  logger: Logger,
): Promise<MetadataRows | null> {
  const rows = await applyPlan(
    client,
    change.statements,
    (s, i) =>
      logStatement(logger, s, { kind: change.kind, group: change.group, step: run.done + i + 1, of: run.planned }),
    { readBack },
  );
  probeRegisteredPoolers(change, logger);
  return rows;
}

/** Poolers a committed change registered are probed in the background; one that does not answer is logged. */
function probeRegisteredPoolers(change: Change, logger: Logger): void {
  for (const s of change.statements) {
    const value =
      s.sql === SQL.insertPoolinfoByAddress
        ? s.params[2]
        : s.sql === SQL.insertPoolinfo || s.sql === SQL.updatePoolinfo
          ? s.params[1]
          : null;
    if (typeof value !== 'string') continue;
    void probePooler(value).then((problem) => {
      if (problem !== null) {
        logger.warn(
          { action: 'citus-pooler', group: change.group, poolinfo: value, reason: problem },
          'pooler in pg_dist_poolinfo cannot be reached',
        );
      }
    });
  }
}
