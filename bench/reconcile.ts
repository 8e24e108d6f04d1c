// Benchmark of the Citus manager: cold reconcile for N groups (1 primary + 1 replica each, fake
// member keys in a real etcd, a real PostgreSQL with the stand-in) and one leader change at 500.
// The members are not servers: a worker primary's add makes Citus contact it and every metadata
// worker, so the primaries' rows are preloaded without metadata, and the figures are the
// manager's own work (planning, the repoint, one transaction per secondary add), not Citus's.
// Run: node --import tsx bench/reconcile.ts [--groups 10,100,500] [--failovers 5]

import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Etcd3 } from 'etcd3';
import pg from 'pg';
import { readFileSync } from 'node:fs';
import { COMPAT_SQL_PATH } from '../src/citus/extension.ts';
import { CitusManager } from '../src/citus/manager.ts';
import { Dcs } from '../src/dcs/dcs.ts';
import { compactJson } from '../src/dcs/json.ts';
import { keyLayout } from '../src/dcs/keys.ts';
import type { MemberData } from '../src/dcs/types.ts';
import { silentLogger } from '../src/log.ts';
import { cleanup, createPostgres, startEtcd, type EtcdServer, type PgServer } from '../test/harness/index.ts';

const NAMESPACE = 'service';
const PORT_BASE = 30000;

interface ColdFigure {
  groups: number;
  /** Rows registered by the cold reconcile. */
  statements: number;
  /** start(): one range read, plan, one transaction, watch opened. */
  startMs: number;
  /** The reconcile attempt alone: connect, read rows, plan, apply and commit. */
  reconcileMs: number;
  /** A second reconcile with nothing to change (the view is settled: no planning). */
  noopMs: number;
}

interface IncrementalFigure {
  groups: number;
  samples: number[];
  medianMs: number;
  minMs: number;
  maxMs: number;
}

const port = (group: number, replica: boolean): number => PORT_BASE + group * 2 + (replica ? 1 : 0);
const memberName = (group: number, replica: boolean): string => `g${group}-${replica ? 'b' : 'a'}`;

function memberData(p: number, role: 'primary' | 'replica'): MemberData {
  return {
    conn_url: `postgres://127.0.0.1:${p}/postgres`,
    api_url: `http://127.0.0.1:${p}/patroni`,
    state: 'running',
    role,
    version: '3.0.2',
  };
}

/** Writes leader and member keys for groups 0..n-1 straight into etcd, 64 puts at a time. */
async function writeKeys(etcd: Etcd3, scope: string, n: number, coordinatorPort: number): Promise<void> {
  const puts: Array<[string, string]> = [];
  for (let g = 0; g < n; g++) {
    const layout = keyLayout({ namespace: NAMESPACE, scope, group: g });
    const primaryPort = g === 0 ? coordinatorPort : port(g, false);
    puts.push([layout.member(memberName(g, false)), compactJson(memberData(primaryPort, 'primary'))]);
    puts.push([layout.member(memberName(g, true)), compactJson(memberData(port(g, true), 'replica'))]);
    puts.push([layout.key('leader'), memberName(g, false)]);
  }
  for (let i = 0; i < puts.length; i += 64) {
    await Promise.all(puts.slice(i, i + 64).map(([k, v]) => etcd.put(k).value(v)));
  }
}

async function connect(server: PgServer, db: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: server.connectionString(db), application_name: 'shardherd-bench' });
  await client.connect();
  return client;
}

/** The stand-in, the coordinator's row, and each worker group's primary row without metadata. */
async function prepareDatabase(server: PgServer, db: string, n: number): Promise<void> {
  await server.query(`CREATE DATABASE ${db}`);
  const client = await connect(server, db);
  try {
    await client.query(readFileSync(COMPAT_SQL_PATH, 'utf8'));
    await client.query("SELECT pg_catalog.citus_set_coordinator_host('127.0.0.1', $1)", [server.port]);
    await client.query(
      `INSERT INTO pg_catalog.pg_dist_node (groupid, nodename, nodeport, hasmetadata, metadatasynced)
       SELECT g, '127.0.0.1', $1::int + g * 2, false, false FROM generate_series(1, $2::int - 1) AS g`,
      [PORT_BASE, n],
    );
  } finally {
    await client.end();
  }
}

function managerFor(
  etcdServer: EtcdServer,
  server: PgServer,
  scope: string,
  db: string,
): { manager: CitusManager; dcs: Dcs } {
  const dcs = new Dcs({
    hosts: [etcdServer.endpoint],
    namespace: NAMESPACE,
    scope,
    group: 0,
    retryTimeout: 10,
    ttl: 30,
  });
  const manager = new CitusManager({ dcs, connect: () => connect(server, db), logger: silentLogger, retryTimeout: 10 });
  return { manager, dcs };
}

async function cold(etcdServer: EtcdServer, etcd: Etcd3, server: PgServer, n: number): Promise<ColdFigure> {
  const scope = `bench-${n}`;
  const db = `bench_${n}`;
  await prepareDatabase(server, db, n);
  await writeKeys(etcd, scope, n, server.port);
  const { manager, dcs } = managerFor(etcdServer, server, scope, db);
  try {
    const t0 = performance.now();
    await manager.start();
    const startMs = performance.now() - t0;
    const first = manager.stats().lastResult;
    if (first?.kind !== 'applied' || first.waiting !== null)
      throw new Error(`cold reconcile of ${n} groups failed: ${manager.stats().lastError}`);
    const noop = await manager.reconcileNow();
    if (noop.kind !== 'applied' || noop.statements.length !== 0) throw new Error('second reconcile was not a no-op');
    return {
      groups: n,
      statements: first.statements.length,
      startMs,
      reconcileMs: first.durationMs,
      noopMs: noop.durationMs,
    };
  } finally {
    await manager.stop();
    dcs.close();
  }
}

/**
 * With n groups registered and the manager watching, fails one worker group over to its replica
 * and times the new leader's member key write (running as primary) until pg_dist_node's
 * primary row of that group shows the new address.
 */
async function incremental(
  etcdServer: EtcdServer,
  etcd: Etcd3,
  server: PgServer,
  n: number,
  failovers: number,
): Promise<IncrementalFigure> {
  const scope = `bench-${n}`;
  const db = `bench_${n}`;
  const { manager, dcs } = managerFor(etcdServer, server, scope, db);
  const probe = await connect(server, db);
  const samples: number[] = [];
  try {
    await manager.start();
    for (let i = 0; i < failovers; i++) {
      const g = 1 + Math.floor(((i + 0.5) * (n - 1)) / failovers);
      const layout = keyLayout({ namespace: NAMESPACE, scope, group: g });
      // The order of a real failover: the old primary's key goes, the replica takes the leader
      // key (the row stays: it is not primary yet), then reports itself running as primary.
      await etcd.delete().key(layout.member(memberName(g, false)));
      const moved = await etcd.put(layout.key('leader')).value(memberName(g, true));
      // Let the manager settle on that state, so the figure is the last step alone.
      await settledAt(manager, BigInt(moved.header.revision));
      const t0 = performance.now();
      await etcd.put(layout.member(memberName(g, true))).value(compactJson(memberData(port(g, true), 'primary')));
      const deadline = t0 + 10_000;
      for (;;) {
        const r = await probe.query(
          "SELECT nodeport FROM pg_catalog.pg_dist_node WHERE groupid = $1 AND noderole = 'primary'",
          [g],
        );
        if (r.rows[0]?.nodeport === port(g, true)) break;
        if (performance.now() > deadline) throw new Error(`group ${g} was not repointed within 10 s`);
      }
      samples.push(performance.now() - t0);
    }
  } finally {
    await probe.end();
    await manager.stop();
    dcs.close();
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    groups: n,
    samples,
    medianMs: sorted[Math.floor(sorted.length / 2)],
    minMs: sorted[0],
    maxMs: sorted[sorted.length - 1],
  };
}

async function settledAt(manager: CitusManager, revision: bigint): Promise<void> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const last = manager.stats().lastResult;
    if (last?.kind === 'applied' && BigInt(last.revision) >= revision) return;
    if (performance.now() > deadline) throw new Error(`manager did not reach revision ${revision}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

const ms = (v: number): string => v.toFixed(1).padStart(9);

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { groups: { type: 'string', default: '10,100,500' }, failovers: { type: 'string', default: '5' } },
  });
  const sizes = values.groups.split(',').map((s) => Number(s.trim()));
  if (sizes.some((s) => !Number.isInteger(s) || s < 2))
    throw new Error(`--groups: want integers >= 2, got ${values.groups}`);
  const failovers = Number(values.failovers);
  const largest = Math.max(...sizes);

  const [etcdServer, server] = await Promise.all([
    startEtcd(),
    createPostgres({ parameters: { 'citus.local_hostname': '127.0.0.1', shared_buffers: '64MB', fsync: 'off' } }),
  ]);
  const etcd = new Etcd3({ hosts: [etcdServer.endpoint] });
  try {
    const coldFigures: ColdFigure[] = [];
    for (const n of sizes) coldFigures.push(await cold(etcdServer, etcd, server, n));
    const inc = failovers > 0 ? await incremental(etcdServer, etcd, server, largest, failovers) : null;

    console.log('groups  statements   start ms  reconcile ms   no-op ms');
    for (const f of coldFigures) {
      const cells = [
        String(f.groups).padStart(6),
        String(f.statements).padStart(10),
        ms(f.startMs),
        ms(f.reconcileMs).padStart(12),
        ms(f.noopMs),
      ];
      console.log(cells.join('  '));
    }
    if (inc) {
      console.log(
        `new leader's member key (primary) -> primary row repointed, ` +
          `${inc.groups} groups, ${inc.samples.length} samples: ` +
          `median ${inc.medianMs.toFixed(1)} ms, min ${inc.minMs.toFixed(1)} ms, max ${inc.maxMs.toFixed(1)} ms`,
      );
    }
    const round = (v: number) => Math.round(v * 10) / 10;
    console.log(
      JSON.stringify({
        bench: 'reconcile',
        cold: coldFigures.map((f) => ({
          ...f,
          startMs: round(f.startMs),
          reconcileMs: round(f.reconcileMs),
          noopMs: round(f.noopMs),
        })),
        incremental: inc && {
          groups: inc.groups,
          samplesMs: inc.samples.map(round),
          medianMs: round(inc.medianMs),
          minMs: round(inc.minMs),
          maxMs: round(inc.maxMs),
        },
      }),
    );
  } finally {
    etcd.close();
    await cleanup();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
