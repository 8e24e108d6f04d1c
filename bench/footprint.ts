// Footprint of idle agents: one group of three real members (ttl 30, loop_wait 10, retry_timeout 10,
// log level INFO, nothing polling their REST APIs), and for each member every process of its agent
// except PostgreSQL (the agent, the software watchdog, anything else it started): RSS and CPU over a
// measuring window after the group settled.
// Run: npm run bench -- footprint [--agent dist|source|patroni] [--settle 20] [--seconds 120]
//   [--checks SECONDS] [--node-options='--flag ...'] (node flags before the script, in place of
//   bin/shardherd.js's own)
//   --checks: during the window, what HAProxy does in deploy/compose/haproxy.cfg, to every member:
//   `OPTIONS /primary` and `OPTIONS /replica` every SECONDS, each on a connection of its own.
//   dist (default): the compiled build as an installed package runs it (`npm run build` first);
//   source: bin/shardherd.js of this checkout (the TypeScript sources through tsx's loader);
//   patroni: Debian's Patroni on the same configuration files, for comparison.
// CPU comes from /proc/<pid>/stat, in 10 ms ticks charged to whichever process runs when one
// falls: a process waking briefly and often (the watchdog, once a second) is charged more
// than it uses, by a factor that depends on the machine; compare figures from one machine.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  cleanup,
  listProcesses,
  MARKER_ENV,
  startCluster,
  waitForLeader,
  waitForReplicas,
  type TestMember,
} from '../test/harness/index.ts';
import { environValue } from '../test/harness/procfs.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PATRONI = '/usr/bin/patroni';
/** Processes of an agent's tree that are not the agent's own footprint. */
const NOT_COUNTED = new Set(['postgres', 'postmaster', 'pgbouncer']);
const MB = 1024 * 1024;

type AgentKind = 'dist' | 'source' | 'patroni';

interface Sample {
  pid: number;
  name: string;
  rssBytes: number;
  /** Of rssBytes: private memory (heaps, stacks), and pages of files (the program, its libraries: shared, clean). */
  anonBytes: number;
  fileBytes: number;
  /** utime + stime, in clock ticks. */
  ownTicks: number;
  /** cutime + cstime: children it waited for (a shell's `sleep`, a `pg_controldata` run). */
  reapedTicks: number;
}

export interface ProcessFigure {
  member: string;
  pid: number;
  process: string;
  rssMb: number;
  maxRssMb: number;
  /** Averages of the private and the file-backed parts of rssMb. */
  anonMb: number;
  fileMb: number;
  /** Percent of one core over the window: its own time, and that of the children it reaped. */
  cpuPercent: number;
  reapedCpuPercent: number;
}

function ticksPerSecond(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

/** What a process is, for the table: the agent, its watchdog, or its program name. */
function processName(pid: number, comm: string): string {
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return comm;
  }
  if (cmdline.includes('shardherd-watchdog')) return `watchdog (${comm})`;
  if (/\bagent -c\b/.test(cmdline)) return `agent (${comm})`;
  if (comm === 'patroni' || /\bpatroni\b/.test(cmdline)) return `patroni (${comm})`;
  return comm;
}

function sample(pid: number): Sample | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after the name, from 0: state ppid ... utime(11) stime(12) cutime(13) cstime(14).
    const ticks = (i: number): number => Number(fields[i]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return {
      pid,
      name: processName(pid, comm),
      rssBytes: kb('VmRSS') * 1024,
      anonBytes: kb('RssAnon') * 1024,
      fileBytes: (kb('RssFile') + kb('RssShmem')) * 1024,
      ownTicks: ticks(11) + ticks(12),
      reapedTicks: ticks(13) + ticks(14),
    };
  } catch {
    return null; // exited meanwhile
  }
}

/** The counted processes of a member's current agent: every process carrying its marker but PostgreSQL's. */
function agentPids(member: TestMember): number[] {
  const tag = member.agent?.tag;
  if (tag === undefined) return [];
  return listProcesses()
    .filter((p) => environValue(p.pid, MARKER_ENV) === tag)
    .filter((p) => {
      const s = sample(p.pid);
      return s !== null && !NOT_COUNTED.has(s.name);
    })
    .map((p) => p.pid);
}

/** The node flags of bin/shardherd.js's first line (`#!/usr/bin/env -S node FLAGS`): an installed `shardherd`'s. */
function binNodeOptions(): string[] {
  const shebang = readFileSync(join(REPO, 'bin/shardherd.js'), 'utf8').split('\n')[0]!;
  const words = shebang.split(/\s+/);
  const at = words.indexOf('node');
  return at < 0 ? [] : words.slice(at + 1);
}

function agentCommand(kind: AgentKind, nodeOptions: string[] | undefined): (configPath: string) => readonly string[] {
  const node = (script: string) => (config: string) =>
    nodeOptions === undefined
      ? [script, 'agent', '-c', config]
      : [process.execPath, ...nodeOptions, script, 'agent', '-c', config];
  switch (kind) {
    case 'dist':
      return node(join(REPO, 'dist/cli/main.js'));
    case 'source':
      return node(join(REPO, 'bin/shardherd.js'));
    case 'patroni':
      return (config) => [PATRONI, config];
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One health check as HAProxy sends it: a connection of its own, the status line read, closed. */
function healthCheck(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'OPTIONS', agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Checks every member's /primary and /replica each `seconds` until `stop` is set; the count of answers. */
async function runChecks(members: readonly TestMember[], seconds: number, stop: { done: boolean }): Promise<number> {
  let answered = 0;
  while (!stop.done) {
    const round = members.flatMap((m) => ['/primary', '/replica'].map((path) => healthCheck(`${m.apiUrl}${path}`)));
    answered += (await Promise.all(round)).filter((code) => code !== 0).length;
    await sleep(seconds * 1000);
  }
  return answered;
}

async function measure(members: readonly TestMember[], seconds: number): Promise<ProcessFigure[]> {
  const hz = ticksPerSecond();
  const pids = new Map(members.map((m) => [m, agentPids(m)]));
  const first = new Map<number, Sample>();
  const seen = new Map<number, Sample[]>();
  for (const list of pids.values()) {
    for (const pid of list) {
      const s = sample(pid);
      if (s !== null) first.set(pid, s);
    }
  }
  const startedAt = Date.now();
  const end = startedAt + seconds * 1000;
  let last = new Map<number, Sample>();
  while (Date.now() < end) {
    await sleep(Math.min(5000, Math.max(0, end - Date.now())));
    last = new Map();
    for (const pid of first.keys()) {
      const s = sample(pid);
      if (s === null) continue;
      last.set(pid, s);
      seen.set(pid, [...(seen.get(pid) ?? []), s]);
    }
  }
  const elapsed = (Date.now() - startedAt) / 1000;
  const figures: ProcessFigure[] = [];
  for (const [member, list] of pids) {
    for (const pid of list) {
      const a = first.get(pid);
      const b = last.get(pid);
      if (a === undefined || b === undefined) continue; // not alive for the whole window
      const samples = seen.get(pid) ?? [b];
      const average = (pick: (s: Sample) => number): number =>
        Math.round((samples.reduce((total, s) => total + pick(s), 0) / samples.length / MB) * 10) / 10;
      const percent = (ticks: number): number => Math.round((ticks / hz / elapsed) * 100 * 1000) / 1000;
      figures.push({
        member: member.name,
        pid,
        process: b.name,
        rssMb: average((s) => s.rssBytes),
        maxRssMb: Math.round((Math.max(...samples.map((s) => s.rssBytes)) / MB) * 10) / 10,
        anonMb: average((s) => s.anonBytes),
        fileMb: average((s) => s.fileBytes),
        cpuPercent: percent(b.ownTicks - a.ownTicks),
        reapedCpuPercent: percent(b.reapedTicks - a.reapedTicks),
      });
    }
  }
  return figures;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')).join('\n');
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      agent: { type: 'string', default: 'dist' },
      settle: { type: 'string', default: '20' },
      seconds: { type: 'string', default: '120' },
      checks: { type: 'string', default: '0' },
      'node-options': { type: 'string' },
    },
  });
  const kind = values.agent as AgentKind;
  if (!['dist', 'source', 'patroni'].includes(kind)) throw new Error(`--agent: dist, source or patroni, got ${kind}`);
  const nodeOptions =
    values['node-options'] !== undefined
      ? values['node-options'].split(/\s+/).filter(Boolean)
      : kind === 'patroni'
        ? undefined
        : binNodeOptions();
  const settle = Number(values.settle);
  const seconds = Number(values.seconds);
  const checks = Number(values.checks);
  if (!(checks >= 0)) throw new Error(`--checks: seconds between health checks (0 for none), got ${values.checks}`);
  if (kind === 'dist') {
    process.stdout.write('building: npm run build\n');
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: 'inherit' });
  }
  if (kind === 'patroni' && !existsSync(PATRONI)) throw new Error(`${PATRONI} is missing (Debian's patroni package)`);

  try {
    const cluster = await startCluster({
      membersPerGroup: 3,
      ttl: 30,
      loopWait: 10,
      retryTimeout: 10,
      logLevel: 'INFO',
      agentCommand: agentCommand(kind, nodeOptions),
    });
    cluster.startAll();
    await waitForLeader(cluster, null, { timeout: 120_000 });
    await waitForReplicas(cluster, null, { timeout: 120_000 });
    process.stdout.write(`group running; settling ${settle} s, then measuring ${seconds} s\n`);
    await sleep(settle * 1000);
    const stop = { done: false };
    const checked = checks > 0 ? runChecks(cluster.members, checks, stop) : Promise.resolve(0);
    const figures = await measure(cluster.members, seconds);
    stop.done = true;
    const answered = await checked;

    const rows = [
      ['member', 'pid', 'process', 'RSS MB (avg)', 'RSS MB (max)', 'private MB', 'file MB', 'CPU %', 'reaped CPU %'],
    ];
    for (const f of figures) {
      rows.push([
        f.member,
        String(f.pid),
        f.process,
        f.rssMb.toFixed(1),
        f.maxRssMb.toFixed(1),
        f.anonMb.toFixed(1),
        f.fileMb.toFixed(1),
        f.cpuPercent.toFixed(3),
        f.reapedCpuPercent.toFixed(3),
      ]);
    }
    const perMember = cluster.members.map((m) => {
      const own = figures.filter((f) => f.member === m.name);
      const sum = (pick: (f: ProcessFigure) => number): number =>
        Math.round(own.reduce((total, f) => total + pick(f), 0) * 1000) / 1000;
      return {
        member: m.name,
        rssMb: Math.round(sum((f) => f.rssMb) * 10) / 10,
        privateMb: Math.round(sum((f) => f.anonMb) * 10) / 10,
        fileMb: Math.round(sum((f) => f.fileMb) * 10) / 10,
        cpuPercent: sum((f) => f.cpuPercent + f.reapedCpuPercent),
      };
    });
    for (const m of perMember) {
      const [rss, own, file] = [m.rssMb, m.privateMb, m.fileMb].map((v) => v.toFixed(1)) as [string, string, string];
      rows.push([m.member, '', 'all counted', rss, '', own, file, m.cpuPercent.toFixed(3), '']);
    }
    process.stdout.write(
      `\nagent: ${kind} ${nodeOptions?.join(' ') ?? ''}; window ${seconds} s; ` +
        (checks > 0 ? `health checks every ${checks} s (${answered} answered); ` : 'no health checks; ') +
        'CPU in percent of one core\n' +
        `${table(rows)}\n`,
    );
    const worst = {
      rssMb: Math.max(...perMember.map((m) => m.rssMb)),
      privateMb: Math.max(...perMember.map((m) => m.privateMb)),
      cpuPercent: Math.max(...perMember.map((m) => m.cpuPercent)),
    };
    const summary = { bench: 'footprint', agent: kind, nodeOptions, seconds, checks, worst, members: perMember };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    await cleanup();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await main(process.argv.slice(2));
}
