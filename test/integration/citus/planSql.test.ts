// Every planMetadata scenario run for real against the Citus stand-in on PostgreSQL, one
// transaction per change as the manager runs them: it ends where the simulator says it ends and
// replans to nothing. The rows carry no metadata workers (their hosts do not exist), so Citus's
// contact rules stay out of the way; the conformance table covers those.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';

import { readFileSync } from 'node:fs';

import { COMPAT_SQL_PATH } from '../../../src/citus/extension.ts';
import { planMetadata, type Change } from '../../../src/citus/plan.ts';
import type { PgDistNodeRow, PoolinfoRow } from '../../../src/citus/types.ts';
import { createPostgres, useHarness, type PgServer } from '../../harness/index.ts';
import { cases, describeStatement } from '../../unit/citus/planCases.ts';
import { simulate } from '../../unit/citus/simulate.ts';

useHarness();

let server: PgServer;
let client: pg.Client;

before(async () => {
  // force => true starts a helper that connects back through citus.local_hostname.
  server = await createPostgres({
    parameters: { shared_buffers: '16MB', max_connections: '20', 'citus.local_hostname': '127.0.0.1' },
  });
  client = new pg.Client({ connectionString: server.connectionString() });
  client.on('error', () => {});
  await client.connect();
  // The stand-in itself, also where Citus is installed: this test is about the SQL of the plans.
  await client.query(readFileSync(COMPAT_SQL_PATH, 'utf8'));
});

after(async () => {
  await client?.end().catch(() => {});
});

async function load(rows: PgDistNodeRow[], poolinfo: PoolinfoRow[]): Promise<void> {
  await client.query('DELETE FROM pg_catalog.pg_dist_poolinfo');
  await client.query('DELETE FROM pg_catalog.pg_dist_node');
  for (const r of rows) {
    await client.query(
      `INSERT INTO pg_catalog.pg_dist_node (nodeid, groupid, nodename, nodeport, noderack, hasmetadata, isactive,
         noderole, nodecluster, metadatasynced, shouldhaveshards) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`,
      [
        r.nodeid,
        r.groupid,
        r.nodename,
        r.nodeport,
        r.noderack,
        false,
        r.isactive,
        r.noderole,
        r.nodecluster,
        false,
        r.shouldhaveshards,
      ],
    );
  }
  // Plans may hold poolinfo of nodeids that are gone; the stand-in's foreign key would refuse
  // such rows, so those cases load only the rows it accepts.
  for (const p of poolinfo) {
    if (rows.some((r) => r.nodeid === p.nodeid))
      await client.query('INSERT INTO pg_catalog.pg_dist_poolinfo VALUES ($1, $2)', [p.nodeid, p.poolinfo]);
  }
  // New nodes get the next nodeid, as in the simulator.
  const max = Math.max(0, ...rows.map((r) => r.nodeid));
  await client.query("SELECT setval('pg_catalog.pg_dist_node_nodeid_seq', $1, $2)", [Math.max(max, 1), max > 0]);
}

async function read(): Promise<{ rows: PgDistNodeRow[]; poolinfo: PoolinfoRow[] }> {
  const rows = await client.query<PgDistNodeRow>(
    `SELECT nodeid, groupid, nodename, nodeport, noderack, hasmetadata, isactive, noderole::text AS noderole,
            nodecluster::text AS nodecluster, metadatasynced, shouldhaveshards
       FROM pg_catalog.pg_dist_node ORDER BY nodeid`,
  );
  const poolinfo = await client.query<PoolinfoRow>(
    'SELECT nodeid, poolinfo FROM pg_catalog.pg_dist_poolinfo ORDER BY nodeid',
  );
  return { rows: rows.rows, poolinfo: poolinfo.rows };
}

const brief = (rows: PgDistNodeRow[]) =>
  rows.map((r) => [r.nodeid, r.groupid, r.nodename, r.nodeport, r.noderole, r.nodecluster]);

describe('planMetadata against the Citus stand-in', () => {
  for (const c of cases) {
    test(c.name, async () => {
      const known = c.rows.map((r) => r.nodeid);
      const poolinfo = (c.poolinfo ?? []).filter((p) => known.includes(p.nodeid));
      await load(c.rows, poolinfo);
      const plan = planMetadata(c.desired, c.rows, poolinfo);
      // Adding a worker primary makes Citus copy the metadata to it, and these hosts do not exist.
      const addsWorker = (ch: Change) =>
        ch.statements.some((st) => /citus_add_node/.test(st.sql) && st.params[3] === 'primary' && st.params[2] !== 0);
      const skipped = new Set(plan.membership.filter(addsWorker).map((ch) => ch.group));
      const runnable = [...plan.local, ...plan.membership.filter((ch) => !skipped.has(ch.group))];
      for (const change of runnable) {
        await client.query('BEGIN');
        try {
          for (const st of change.statements) await client.query(st.sql, st.params);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw new Error(
            `${(err as Error).message} while running ${change.statements.map(describeStatement).join('; ')}`,
          );
        }
      }
      const actual = await read();
      const expected = simulate(
        { rows: c.rows.map((r) => ({ ...r, hasmetadata: false, metadatasynced: false })), poolinfo },
        runnable.flatMap((ch) => ch.statements),
      );
      assert.deepEqual(brief(actual.rows), brief([...expected.rows].sort((a, b) => a.nodeid - b.nodeid)));
      assert.deepEqual(
        actual.poolinfo,
        [...expected.poolinfo].sort((a, b) => a.nodeid - b.nodeid),
      );
      if (runnable.length === plan.local.length + plan.membership.length) {
        const again = planMetadata(c.desired, actual.rows, actual.poolinfo);
        assert.deepEqual([...again.local, ...again.membership], []);
      }
    });
  }
});
