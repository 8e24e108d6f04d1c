// Benchmark of unplanned failover in one group of three real agents: node death (kill -9 of the
// leader's agent and PostgreSQL) and PostgreSQL crash (kill -9 of the leader's postmaster, with
// primary_start_timeout 0 so that it fails over), for two HA timings; median of N samples each.
// Run: node --import tsx bench/failover.ts [--samples 5] [--timings 30/10/10,10/2/3]
//      [--scenarios node-death,postgres-crash]

import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  cleanup,
  startCluster,
  startPrimaryChecker,
  waitFor,
  waitForLeader,
  waitForReplicas,
  type TestCluster,
  type TestMember,
} from '../test/harness/index.ts';

type Scenario = 'node-death' | 'postgres-crash';
const SCENARIOS: readonly Scenario[] = ['node-death', 'postgres-crash'];

interface Timing {
  ttl: number;
  loopWait: number;
  retryTimeout: number;
}

interface Sample {
  /** Kill -> the new leader's agent logs that etcd accepted its leader key. */
  keyMs: number;
  /** Kill -> the first INSERT another member accepts. */
  writableMs: number;
}

interface Figure {
  scenario: Scenario;
  timing: Timing;
  samples: Sample[];
  medianKeyMs: number;
  medianWritableMs: number;
  minWritableMs: number;
  maxWritableMs: number;
  /** Rounds in which the two-primaries checker saw more than one writable primary. */
  violations: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function parseTiming(text: string): Timing {
  const [ttl, loopWait, retryTimeout] = text.split('/').map((s) => Number(s.trim()));
  if (![ttl, loopWait, retryTimeout].every((v) => Number.isInteger(v) && v! > 0)) {
    throw new Error(`--timings: want ttl/loop_wait/retry_timeout as positive integers, got ${text}`);
  }
  return { ttl: ttl!, loopWait: loopWait!, retryTimeout: retryTimeout! };
}

/** When the member's agent logged "leader lock acquired" at or after `since` (epoch ms), if it did. */
function lockAcquiredAt(member: TestMember, since: number): number | null {
  let text = '';
  try {
    text = readFileSync(member.logFile, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    if (!line.includes('"leader lock acquired"')) continue;
    try {
      const entry = JSON.parse(line) as { time: number; msg: string };
      if (entry.msg === 'leader lock acquired' && entry.time >= since) return entry.time;
    } catch {
      // A line cut short: not the one we look for.
    }
  }
  return null;
}

/** Tries one INSERT on every candidate at once until one accepts it; returns that member. */
async function firstWritable(candidates: TestMember[], id: number): Promise<TestMember> {
  const member = await waitFor(
    async () => {
      const results = await Promise.all(
        candidates.map((m) =>
          m.query('insert into failover_bench (id) values ($1) on conflict do nothing', [id]).then(
            () => m,
            () => null,
          ),
        ),
      );
      return results.find((m) => m !== null) ?? null;
    },
    { timeout: 180_000, interval: 20, message: 'a surviving member accepts writes' },
  );
  if (member === null) throw new Error('no surviving member accepts writes');
  return member;
}

/** Waits until the group is whole again: one leader and every other member streaming from it. */
async function settle(cluster: TestCluster): Promise<TestMember> {
  await waitForReplicas(cluster, null, { timeout: 180_000, count: cluster.members.length - 1 });
  return waitForLeader(cluster, null, { timeout: 60_000 });
}

async function measure(scenario: Scenario, timing: Timing, count: number): Promise<Figure> {
  const cluster = await startCluster({
    membersPerGroup: 3,
    ...timing,
    logLevel: 'info',
    ...(scenario === 'postgres-crash' && { dcsExtra: { primary_start_timeout: 0 } }),
  });
  const checker = startPrimaryChecker(cluster);
  cluster.startAll();
  let leader = await settle(cluster);
  await leader.query('create table failover_bench (id int primary key)');
  const samples: Sample[] = [];
  for (let i = 0; i < count; i++) {
    const victim = leader;
    const survivors = cluster.members.filter((m) => m !== victim);
    const killedAt = Date.now();
    if (scenario === 'node-death') await victim.killAll();
    else await victim.killPostgres('SIGKILL');
    const next = await firstWritable(survivors, i + 1);
    const writableMs = Date.now() - killedAt;
    const acquired = lockAcquiredAt(next, killedAt);
    if (acquired === null) throw new Error(`${next.name} accepts writes but never logged taking the leader key`);
    samples.push({ keyMs: acquired - killedAt, writableMs });
    process.stderr.write(
      `${scenario} ttl ${timing.ttl}/loop_wait ${timing.loopWait}: sample ${i + 1}/${count}: ` +
        `key ${acquired - killedAt} ms, writable ${writableMs} ms (${victim.name} -> ${next.name})\n`,
    );
    if (scenario === 'node-death') victim.start();
    leader = await settle(cluster);
  }
  await cluster.stopAll();
  const report = await checker.stop();
  const writable = samples.map((s) => s.writableMs);
  return {
    scenario,
    timing,
    samples,
    medianKeyMs: median(samples.map((s) => s.keyMs)),
    medianWritableMs: median(writable),
    minWritableMs: Math.min(...writable),
    maxWritableMs: Math.max(...writable),
    violations: report.violations.length,
  };
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      samples: { type: 'string', default: '5' },
      timings: { type: 'string', default: '30/10/10,10/2/3' },
      scenarios: { type: 'string', default: SCENARIOS.join(',') },
    },
  });
  const count = Number(values.samples);
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`--samples: want a positive integer, got ${values.samples}`);
  const timings = values.timings.split(',').map(parseTiming);
  const scenarios = values.scenarios.split(',').map((s) => s.trim());
  for (const s of scenarios) if (!SCENARIOS.includes(s as Scenario)) throw new Error(`--scenarios: unknown ${s}`);

  const figures: Figure[] = [];
  try {
    for (const timing of timings) {
      for (const scenario of scenarios as Scenario[]) figures.push(await measure(scenario, timing, count));
    }
  } finally {
    await cleanup();
  }

  console.log(
    'scenario        ttl/loop_wait/retry  samples  key median ms  writable median ms  min ms  max ms  two primaries',
  );
  for (const f of figures) {
    const t = `${f.timing.ttl}/${f.timing.loopWait}/${f.timing.retryTimeout}`;
    const cells = [
      f.scenario.padEnd(14),
      t.padStart(19),
      String(f.samples.length).padStart(7),
      String(f.medianKeyMs).padStart(13),
      String(f.medianWritableMs).padStart(18),
      String(f.minWritableMs).padStart(6),
      String(f.maxWritableMs).padStart(6),
      String(f.violations).padStart(13),
    ];
    console.log(cells.join('  '));
  }
  console.log(
    JSON.stringify({
      bench: 'failover',
      results: figures.map((f) => ({
        scenario: f.scenario,
        ttl: f.timing.ttl,
        loopWait: f.timing.loopWait,
        retryTimeout: f.timing.retryTimeout,
        keyMs: f.samples.map((s) => s.keyMs),
        writableMs: f.samples.map((s) => s.writableMs),
        medianKeyMs: f.medianKeyMs,
        medianWritableMs: f.medianWritableMs,
        violations: f.violations,
      })),
    }),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
