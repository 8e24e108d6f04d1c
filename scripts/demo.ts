// `npm run demo`: a Citus cluster on loopback from a clean state — etcd plus the six members of
// groups/ (a coordinator group and two worker groups, two members each) — until Ctrl-C.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import YAML from 'yaml';
import { errorText } from '../src/errors.ts';
import { startStandInSync, type StandInSync } from './standInSync.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const STATE = '/tmp/shardherd-demo';
const ETCD_CLIENT = 23790;
const ETCD_PEER = 23800;
const MEMBERS = ['coord1', 'coord2', 'worker1a', 'worker1b', 'worker2a', 'worker2b'];
const COORDINATOR_PORTS = [5440, 5441];
const SUPERUSER_PASSWORD = 'demo-super';
/**
 * What the demo (and the test suite) run on, by Debian package; openssl makes each PgBouncer's
 * certificate. postgresql-contrib-15 (dblink, for the stand-in's routed writes) is provided by
 * postgresql-15 on Debian 12, so it is not checked on its own.
 */
const PACKAGES = ['postgresql-15', 'etcd-server', 'etcd-client', 'patroni', 'pgbouncer', 'openssl'];

interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

const children: ChildProcess[] = [];
const syncs: StandInSync[] = [];

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

function which(program: string): string | null {
  const found = spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : null;
}

function missingPackages(): string[] {
  return PACKAGES.filter((pkg) => {
    const status = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
    return !status.stdout.includes('install ok installed');
  });
}

function ensurePackages(isRoot: boolean): void {
  const missing = missingPackages();
  const havePostgres = existsSync('/usr/lib/postgresql/15/bin/postgres') || which('postgres') !== null;
  const haveEtcd = which('etcd') !== null;
  if (missing.length === 0 || (havePostgres && haveEtcd && !isRoot)) return;
  if (!isRoot) {
    throw new Error(
      `missing Debian packages: ${missing.join(' ')}; ` +
        `install them with: sudo apt-get install -y ${missing.join(' ')} postgresql-contrib-15`,
    );
  }
  say(`installing Debian packages: ${missing.join(' ')}`);
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing, 'postgresql-contrib-15'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

/** PostgreSQL refuses root: as root, everything runs as the `postgres` system user. */
function runAs(): RunAs | null {
  if (process.geteuid?.() !== 0) return null;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid, name: 'postgres' };
}

function freshState(user: RunAs | null): void {
  if (existsSync(STATE)) {
    for (const member of readdirSync(STATE)) {
      if (existsSync(join(STATE, member, 'data', 'postmaster.pid'))) {
        const pid = Number(
          spawnSync('head', ['-1', join(STATE, member, 'data', 'postmaster.pid')], { encoding: 'utf8' }).stdout,
        );
        if (pid > 0 && spawnSync('kill', ['-0', String(pid)]).status === 0) {
          throw new Error(`a PostgreSQL of an earlier demo still runs (pid ${pid}); stop it first`);
        }
      }
    }
    rmSync(STATE, { recursive: true, force: true });
  }
  mkdirSync(STATE, { recursive: true, mode: 0o755 });
  if (user) chownSync(STATE, user.uid, user.gid);
}

function start(name: string, command: string, args: string[], user: RunAs | null): ChildProcess {
  const log = openSync(join(STATE, `${name}.log`), 'a');
  const child = spawn(command, args, {
    cwd: REPO,
    stdio: ['ignore', log, log],
    // Own process groups: Ctrl-C reaches only the demo, which then stops agents gracefully.
    detached: true,
    uid: user?.uid,
    gid: user?.gid,
    env: { ...process.env, HOME: STATE },
  });
  children.push(child);
  return child;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch((err: unknown) => {
      if (err instanceof Error && err.message.startsWith('etcd exited')) throw err;
      return null;
    });
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; logs are in ${STATE}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface CoordinatorRows {
  port: number;
  rows: Array<Record<string, unknown>>;
  poolinfo: Array<Record<string, unknown>>;
  standIn: boolean;
}

async function coordinatorRows(): Promise<CoordinatorRows | null> {
  for (const port of COORDINATOR_PORTS) {
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: 'postgres',
      password: SUPERUSER_PASSWORD,
      database: 'citus',
      connectionTimeoutMillis: 1000,
    });
    try {
      await client.connect();
      const recovery = await client.query<{ r: boolean }>('SELECT pg_catalog.pg_is_in_recovery() AS r');
      if (recovery.rows[0]!.r) continue;
      const rows = await client.query(
        'SELECT nodeid, groupid, nodename, nodeport, noderole FROM pg_catalog.pg_dist_node ' +
          'ORDER BY groupid, noderole, nodeid',
      );
      const poolinfo = await client.query('SELECT nodeid, poolinfo FROM pg_catalog.pg_dist_poolinfo ORDER BY nodeid');
      const standIn = await client.query("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'citus_compat'");
      return { port, rows: rows.rows, poolinfo: poolinfo.rows, standIn: (standIn.rowCount ?? 0) > 0 };
    } catch {
      // not up yet
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return null;
}

/**
 * Citus runs its metadata sync inside every server; with the stand-in the demo runs it beside
 * each member's PostgreSQL, at the address, password and database of groups/<member>.yml.
 */
function standInSyncFor(member: string): StandInSync {
  const config = YAML.parse(readFileSync(join(REPO, 'groups', `${member}.yml`), 'utf8')) as {
    citus: { database: string };
    postgresql: { listen: string; authentication: { superuser: { username: string; password?: string } } };
  };
  const listen = config.postgresql.listen;
  const colon = listen.lastIndexOf(':');
  const superuser = config.postgresql.authentication.superuser;
  return startStandInSync({
    host: listen.slice(0, colon),
    port: Number(listen.slice(colon + 1)),
    user: superuser.username,
    password: superuser.password,
    database: config.citus.database,
    log: (line) => appendFileSync(join(STATE, 'stand-in-sync.log'), `${new Date().toISOString()} ${line}\n`),
  });
}

async function main(): Promise<void> {
  const user = runAs();
  ensurePackages(user !== null);
  freshState(user);
  say(`state and logs: ${STATE}`);

  const etcd = which('etcd') ?? '/usr/bin/etcd';
  const etcdProcess = start(
    'etcd',
    etcd,
    [
      '--name',
      'demo',
      '--data-dir',
      join(STATE, 'etcd'),
      '--listen-client-urls',
      `http://127.0.0.1:${ETCD_CLIENT}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${ETCD_CLIENT}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${ETCD_PEER}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${ETCD_PEER}`,
      '--initial-cluster',
      `demo=http://127.0.0.1:${ETCD_PEER}`,
    ],
    user,
  );
  await waitFor('etcd', 30_000, async () => {
    // Something else answering on the port is not our etcd: its keys would not be a clean state.
    if (etcdProcess.exitCode !== null)
      throw new Error(`etcd exited at start (port ${ETCD_CLIENT} or ${ETCD_PEER} in use?); see ${STATE}/etcd.log`);
    const res = await fetch(`http://127.0.0.1:${ETCD_CLIENT}/health`);
    return res.ok ? true : null;
  });
  say(`etcd is up on 127.0.0.1:${ETCD_CLIENT}`);

  for (const member of MEMBERS) {
    start(
      member,
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'agent', '-c', join('groups', `${member}.yml`)],
      user,
    );
  }
  for (const member of MEMBERS) syncs.push(standInSyncFor(member));
  say(`started ${MEMBERS.length} agents; waiting until pg_dist_node lists every group...`);

  const result = await waitFor('pg_dist_node to list all three groups with their secondaries', 240_000, async () => {
    const found = await coordinatorRows();
    if (found === null) return null;
    const primaries = new Set(found.rows.filter((r) => r.noderole === 'primary').map((r) => r.groupid));
    const secondaries = found.rows.filter((r) => r.noderole === 'secondary').length;
    // Each node's pooler row is written in the transaction that registers the node.
    return primaries.size === 3 && secondaries === 3 && found.poolinfo.length === found.rows.length ? found : null;
  });

  say('');
  say(
    result.standIn
      ? 'Citus is not installed on this machine: ' +
          'the coordinator runs the SQL stand-in of its metadata API (sql/citus-compat.sql).'
      : 'Running with the Citus extension.',
  );
  say('');
  say('pg_dist_node on the coordinator:');
  for (const row of result.rows)
    say(`  node ${row.nodeid}  group ${row.groupid}  ${row.nodename}:${row.nodeport}  ${row.noderole}`);
  say('');
  say('pg_dist_poolinfo on the coordinator (each agent runs a PgBouncer there; the coordinator connects through it):');
  for (const row of result.poolinfo) say(`  node ${row.nodeid}  ${row.poolinfo}`);
  say('');
  const list = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'list', '-c', 'groups/coord1.yml'], {
    cwd: REPO,
    encoding: 'utf8',
  });
  if (list.status === 0) say(list.stdout);
  say('Connect to the coordinator:');
  say(`  psql "host=127.0.0.1 port=${result.port} user=postgres password=${SUPERUSER_PASSWORD} dbname=citus"`);
  say('or through its PgBouncer (TLS; its admin console is dbname=pgbouncer):');
  const pooler = `host=127.0.0.1 port=${result.port + 1000}`;
  say(`  psql "${pooler} user=postgres password=${SUPERUSER_PASSWORD} dbname=citus sslmode=require"`);
  say('Try a switchover of worker group 1 (coordinator-routed writes wait, they do not fail):');
  say('  npm run shardherd -- switchover -c groups/coord1.yml --group 1 --force');
  say('or kill the agent and PostgreSQL of a worker leader; then watch pg_dist_node and the cluster follow:');
  say('  npm run shardherd -- list -c groups/coord1.yml');
  say('REST API of each member: http://127.0.0.1:8008/patroni ... :8013 (Patroni-compatible)');
  say('Live topology page (any member serves it): http://127.0.0.1:8008/ui');
  say('Prometheus metrics of each member: http://127.0.0.1:8008/metrics ... :8013/metrics');
  say('Press Ctrl-C to stop everything.');
  await new Promise<void>(() => undefined);
}

let stopping = false;
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  say('\nstopping the agents (each stops its PostgreSQL) and etcd...');
  await Promise.all(syncs.map((sync) => sync.stop()));
  const agents = children.slice(1);
  for (const child of agents) child.kill('SIGTERM');
  await Promise.all(
    agents.map(
      (child) => new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve))),
    ),
  );
  children[0]?.kill('SIGTERM');
  process.exit(code);
}

process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
main().catch((err: unknown) => {
  process.stderr.write(`demo: ${errorText(err)}\n`);
  void shutdown(1);
});
