// Runs the whole PostgreSQL control sequence as an unprivileged user and prints one JSON line
// of results for lifecycle.test.ts: initdb, replica clone, crash, promotion, rewind, rejoin.
// Usage: node --import tsx driver.ts '{"baseDir": "...", "ports": [p1, p2]}'
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { basebackup } from '../../../src/postgres/basebackup.ts';
import { resolveBinaries } from '../../../src/postgres/binaries.ts';
import { writeManagedConfig } from '../../../src/postgres/configFiles.ts';
import type { StandbySettings } from '../../../src/postgres/confRender.ts';
import { clientConfig, type ConnParams } from '../../../src/postgres/connInfo.ts';
import { readControlData } from '../../../src/postgres/controlData.ts';
import { dataDirectoryState, removeDataDirectory } from '../../../src/postgres/dataDir.ts';
import { initdb } from '../../../src/postgres/initdb.ts';
import { writePgpass } from '../../../src/postgres/pgpass.ts';
import { assertNotRoot } from '../../../src/postgres/privileges.ts';
import { PostgresProcess, type PostmasterExit } from '../../../src/postgres/process.ts';
import { readStatus, readStatusReport, replicationState, systemIdentifier } from '../../../src/postgres/queries.ts';
import { rewind } from '../../../src/postgres/rewind.ts';
import { bootstrapRoles } from '../../../src/postgres/roles.ts';
import { slotNameFromMemberName, syncSlots } from '../../../src/postgres/slots.ts';

assertNotRoot();

const { baseDir, ports } = JSON.parse(process.argv[2] ?? '{}') as { baseDir: string; ports: [number, number] };
const HOST = '127.0.0.1';
const TIMEOUT = 60_000;
const bin = resolveBinaries('');
const pgpass = join(baseDir, 'pgpass');
const auth = {
  superuser: { username: 'postgres', password: 'super-secret' },
  replication: { username: 'replicator', password: 'repl-secret' },
  rewind: { username: 'rewinder', password: 'rewind-secret' },
};
const hba = [
  'local all all trust',
  `host replication ${auth.replication.username} 127.0.0.1/32 scram-sha-256`,
  'host all all 127.0.0.1/32 scram-sha-256',
];

interface Member {
  name: string;
  port: number;
  dataDir: string;
  proc: PostgresProcess;
  exits: PostmasterExit[];
}

function member(name: string, port: number): Member {
  const dataDir = join(baseDir, name);
  const proc = new PostgresProcess({ bin, dataDir, logFile: join(baseDir, `${name}.log`) });
  const m: Member = { name, port, dataDir, proc, exits: [] };
  proc.onExit((exit) => m.exits.push(exit));
  return m;
}

function standbyOf(self: Member, upstream: Member): StandbySettings {
  return {
    upstream: { host: HOST, port: upstream.port },
    user: auth.replication.username,
    memberName: self.name,
    passfile: pgpass,
    slotName: slotNameFromMemberName(self.name),
  };
}

async function configure(m: Member, standby: StandbySettings | null): Promise<void> {
  await writeManagedConfig(m.dataDir, {
    listen: { hosts: [HOST], port: m.port },
    parameters: { unix_socket_directories: baseDir, wal_keep_size: '64MB' },
    useRewind: true,
    standby,
    hba,
  });
}

async function connect(m: Member): Promise<pg.Client> {
  const client = new pg.Client(
    clientConfig({ host: HOST, port: m.port, user: auth.superuser.username, password: auth.superuser.password }),
  );
  await client.connect();
  return client;
}

/** Polls until fn returns a truthy value; the driver's own small deadline helper. */
async function until<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + TIMEOUT;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${String(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startReady(m: Member): Promise<string> {
  const result = await m.proc.start({ timeoutMs: TIMEOUT });
  if (result.kind !== 'ready') throw new Error(`${m.name} did not start: ${JSON.stringify(result)}`);
  return result.status;
}

async function rows(client: pg.Client): Promise<number[]> {
  return (await client.query<{ id: number }>('SELECT id FROM items ORDER BY id')).rows.map((r) => r.id);
}

const a = member('member-a', ports[0]);
const b = member('member-b', ports[1]);
const out: Record<string, unknown> = {};

await writePgpass(pgpass, [
  { host: '*', port: '*', database: '*', user: auth.replication },
  { host: '*', port: '*', database: '*', user: auth.rewind },
]);

// 1. Bootstrap the primary.
await initdb(bin, { dataDir: a.dataDir, options: [{ encoding: 'UTF8' }, { locale: 'C' }], superuser: auth.superuser });
await configure(a, null);
const dirInfo = await stat(a.dataDir);
out.dataDirMode = (dirInfo.mode & 0o777).toString(8);
out.dataDirUid = dirInfo.uid;
out.agentUid = process.geteuid?.();
out.primaryStart = await startReady(a);
const dbA = await connect(a);
await bootstrapRoles(dbA, auth);
await dbA.query('CREATE TABLE items (id int PRIMARY KEY)');
await dbA.query('INSERT INTO items VALUES (1)');
out.slotsOnA = await syncSlots(dbA, [b.name]);

// 2. Clone and start the replica, streaming through its slot.
out.basebackup = await basebackup(bin, {
  dataDir: b.dataDir,
  from: { host: HOST, port: a.port, user: auth.replication.username, passfile: pgpass, application_name: b.name },
  options: [],
});
await configure(b, standbyOf(b, a));
out.replicaStart = await startReady(b);
let dbB = await connect(b);
out.rowsOnReplica = await until('row on replica', async () => ((await rows(dbB)).length > 0 ? rows(dbB) : null));
out.replicasOfA = await until('replica streaming', async () => {
  const list = (await readStatusReport(dbA)).replicas;
  return list.some((r) => r.state === 'streaming') ? list : null;
});
out.statusA = await readStatus(dbA);
out.statusB = await until('receiver streaming', async () => {
  const s = await readStatus(dbB);
  return s.role === 'replica' && s.receiver?.status === 'streaming' ? s : null;
});
out.reportA = await readStatusReport(dbA);
out.reportB = await readStatusReport(dbB);
out.replicationOfA = await replicationState(dbA);
await dbB.query('SELECT pg_catalog.pg_wal_replay_pause()');
out.pausedB = await until('replay paused', async () => {
  const s = await readStatus(dbB);
  return s.role === 'replica' && s.replayPaused ? s : null;
});
await dbB.query('SELECT pg_catalog.pg_wal_replay_resume()');
out.systemIdA = await systemIdentifier(dbA);
out.systemIdB = await systemIdentifier(dbB);

// 3. The primary crashes: its exit arrives as an event.
await dbA.end().catch(() => undefined);
const crashedPid = a.proc.pid!;
process.kill(crashedPid, 'SIGKILL');
await until('exit event', async () => a.exits.length > 0);
out.crashExit = a.exits[0];
out.stateAfterCrash = a.proc.state;
const crashedControl = await readControlData(bin, a.dataDir);
out.crashedControl = {
  state: crashedControl.state,
  timeline: crashedControl.timeline,
  cleanShutdown: crashedControl.cleanShutdown,
};

// 4. Promote the replica.
await b.proc.promote({ timeoutMs: TIMEOUT });
await configure(b, null);
b.proc.reload();
await dbB.end();
dbB = await connect(b);
out.statusAfterPromote = await readStatus(dbB);
await dbB.query('INSERT INTO items VALUES (2)');

// 5. Rewind the old primary and make it follow the new one.
const source: ConnParams = {
  host: HOST,
  port: b.port,
  user: auth.rewind.username,
  password: auth.rewind.password,
  passfile: pgpass,
};
out.rewind = await rewind(bin, { dataDir: a.dataDir, source });
await configure(a, standbyOf(a, b));
out.slotsOnB = await syncSlots(dbB, [a.name]);
out.rejoinStart = await startReady(a);
await dbB.query('INSERT INTO items VALUES (3)');
const dbA2 = await connect(a);
out.rowsOnRejoined = await until('new row on rejoined member', async () => {
  const ids = await rows(dbA2);
  return ids.includes(3) ? ids : null;
});
out.statusRejoined = await until('rejoined member streaming', async () => {
  const s = await readStatus(dbA2);
  return s.role === 'replica' && s.receiver?.status === 'streaming' ? s : null;
});
out.replicasOfB = (await readStatusReport(dbB)).replicas;
out.systemIdRejoined = await systemIdentifier(dbA2);

// 6. Clean stops.
await dbA2.end();
await dbB.end();
out.stopA = await a.proc.stop('fast', { timeoutMs: TIMEOUT });
out.stopB = await b.proc.stop('smart', { timeoutMs: TIMEOUT });
const stoppedControl = await readControlData(bin, a.dataDir);
out.stoppedControl = {
  state: stoppedControl.state,
  timeline: stoppedControl.timeline,
  systemIdentifier: stoppedControl.systemIdentifier,
};

// 7. A postmaster left running by an earlier agent: a new owner refuses to start a second one
// and adopts it instead; its stop is still an exit event.
await startReady(b);
const successor = new PostgresProcess({ bin, dataDir: b.dataDir, adoptPollMs: 50 });
const successorExits: PostmasterExit[] = [];
successor.onExit((exit) => successorExits.push(exit));
out.startOverRunning = await successor.start({ timeoutMs: TIMEOUT }).then(
  () => 'started',
  (err: Error) => err.message,
);
out.adoptedPid = await successor.adoptRunning();
out.runningPid = b.proc.pid;
out.adoptedState = successor.state;
out.removeWhileRunning = await removeDataDirectory(b.dataDir).then(
  () => 'removed',
  (err: Error) => err.message,
);
out.adoptedStop = await successor.stop('fast', { timeoutMs: TIMEOUT });
await until('adopted exit event', async () => successorExits.length > 0);
out.adoptedExitEvents = successorExits.length;

// 8. A postmaster.pid naming a live process that is not postgres is stale and does not block a start.
await writeFile(join(b.dataDir, 'postmaster.pid'), `${process.pid}\n${b.dataDir}\n0\n${b.port}\n`);
out.startOverStalePid = await startReady(b);
const pidBeforeRestart = b.proc.pid;
const restarted = await b.proc.restart('fast', { timeoutMs: TIMEOUT });
out.restart = { kind: restarted.kind, newPid: restarted.kind === 'ready' && restarted.pid !== pidBeforeRestart };
out.stopImmediate = await b.proc.stop('immediate', { timeoutMs: TIMEOUT });

// 9. A failed clone leaves an empty directory; removing a data directory empties it.
const c = join(baseDir, 'member-c');
out.failedBasebackup = await basebackup(bin, {
  dataDir: c,
  from: { host: HOST, port: b.port, user: auth.replication.username, passfile: pgpass, connect_timeout: 2 },
  options: [],
});
out.afterFailedBasebackup = await dataDirectoryState(c);
await removeDataDirectory(b.dataDir);
out.afterRemove = await dataDirectoryState(b.dataDir);
out.removedDirMode = ((await stat(b.dataDir)).mode & 0o777).toString(8);

process.stdout.write(JSON.stringify(out) + '\n');
