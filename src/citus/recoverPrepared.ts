// After a worker group's primary row moved to a promoted node: the prepared transactions the old
// primary left behind were streamed there and hold their locks until Citus's own recovery (every
// minute), so they are resolved at once (docs/design.md, "Citus manager"), after a reconcile's
// repoint and after a pause's commit alike.
import type pg from 'pg';
import { errorText } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Queryable } from './metadataStore.ts';

/** Bound of one recover_prepared_transactions(): Citus retries on its own every minute anyway. */
const RECOVERY_TIMEOUT_MS = 10_000;

/**
 * Resolves the prepared transactions after a repoint of `group` and logs the outcome. Citus
 * contacts every group's primary for that, so it runs in the background on a connection of its
 * own, bounded, and never holds up a reconcile or a pause's answer when another node is down.
 */
export function recoverPreparedInBackground(connect: () => Promise<pg.Client>, logger: Logger, group: number): void {
  void (async () => {
    let client: pg.Client | null = null;
    try {
      client = await connect();
      client.on('error', () => undefined);
      await client.query("SELECT pg_catalog.set_config('statement_timeout', $1, false)", [String(RECOVERY_TIMEOUT_MS)]);
      const recovered = await recoverPreparedTransactions(client);
      logger.info(
        { action: 'recover-prepared', group, recovered },
        'prepared transactions recovered after a worker repoint',
      );
    } catch (err) {
      logger.warn(
        { action: 'recover-prepared', group, err: errorText(err) },
        'could not recover prepared transactions; Citus retries within a minute',
      );
    } finally {
      await client?.end().catch(() => undefined);
    }
  })();
}

/** How many prepared transactions Citus recovered. */
async function recoverPreparedTransactions(client: Queryable): Promise<number> {
  const r = await client.query('SELECT pg_catalog.recover_prepared_transactions() AS recovered');
  return Number(r.rows[0]?.recovered ?? 0);
}
