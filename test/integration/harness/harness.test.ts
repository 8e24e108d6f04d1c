// Proves the shared test harness: polling, process cleanup, etcd and PostgreSQL servers.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import {
  cleanup,
  createPostgres,
  isAlive,
  spawnManaged,
  startEtcd,
  tempDir,
  unprivilegedUser,
  useHarness,
  waitFor,
} from '../../harness/index.ts';

useHarness();

test('waitFor returns the first truthy value', async () => {
  let calls = 0;
  const value = await waitFor(() => (++calls >= 3 ? { calls } : null), {
    timeout: 5000,
    interval: 10,
    message: 'third call',
  });
  assert.deepEqual(value, { calls: 3 });
});

test('waitFor treats a throw as not yet and returns once the function succeeds', async () => {
  let calls = 0;
  const value = await waitFor(
    async () => {
      if (++calls < 3) throw new Error('not ready');
      return 'ready';
    },
    { timeout: 5000, interval: 10, message: 'ready' },
  );
  assert.equal(value, 'ready');
});

test('waitFor times out with its message and the last error', async () => {
  await assert.rejects(
    waitFor(
      () => {
        throw new Error('still broken');
      },
      { timeout: 200, interval: 20, message: 'the thing never happened' },
    ),
    (err: Error) => err.message.startsWith('the thing never happened') && err.message.includes('still broken'),
  );
});

test('tempDir is owned by the unprivileged user and removed at cleanup', async () => {
  const dir = await tempDir('harness-test');
  const user = unprivilegedUser();
  const stat = statSync(dir);
  assert.equal(stat.mode & 0o777, 0o755);
  if (user !== null) assert.equal(stat.uid, user.uid);
  await cleanup();
  assert.throws(() => statSync(dir), { code: 'ENOENT' });
});

/** Starts `sh` printing the pid of a `sleep` it started (via `launcher`, e.g. setsid). */
async function shellWithGrandchild(launcher: string): Promise<{ shell: number; grandchild: number }> {
  const proc = spawnManaged('sh', ['-c', `${launcher} sleep 1000 & echo "child=$!"; wait`], {
    name: 'sh-with-sleep',
  });
  const grandchild = await waitFor(() => Number(/child=(\d+)/.exec(proc.output())?.[1]), {
    timeout: 5000,
    message: 'shell reports the pid of its child',
  });
  await waitFor(() => isAlive(grandchild), { timeout: 5000, message: 'grandchild runs' });
  return { shell: proc.pid, grandchild };
}

test('cleanup kills a spawned process and the child it started', async () => {
  const { shell, grandchild } = await shellWithGrandchild('');
  await cleanup();
  assert.equal(isAlive(shell), false);
  assert.equal(isAlive(grandchild), false);
});

test('cleanup kills a descendant that left the process group (setsid)', async () => {
  const { shell, grandchild } = await shellWithGrandchild('setsid');
  await cleanup();
  assert.equal(isAlive(shell), false);
  assert.equal(isAlive(grandchild), false);
});

test('spawnManaged runs a process as the unprivileged user when asked', async (t) => {
  const user = unprivilegedUser();
  if (user === null) return t.skip('not running as root');
  const proc = spawnManaged('id', ['-u'], { name: 'id', asUnprivileged: true });
  const status = await proc.exited;
  assert.equal(status.code, 0);
  assert.equal(proc.output().trim(), String(user.uid));
});

test('stop() ends a process gracefully and reports its exit', async () => {
  const proc = spawnManaged('sleep', ['1000'], { name: 'sleep' });
  const status = await proc.stop();
  assert.deepEqual(status, { code: null, signal: 'SIGTERM' });
  assert.equal(isAlive(proc.pid), false);
});

function etcdctl(endpoint: string, ...args: string[]): string {
  return execFileSync('etcdctl', [`--endpoints=${endpoint}`, ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 10_000,
  });
}

test('startEtcd answers a put and get through etcdctl', async () => {
  const etcd = await startEtcd();
  assert.match(etcd.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
  etcdctl(etcd.endpoint, 'put', '/harness/key', 'value-1');
  assert.equal(etcdctl(etcd.endpoint, 'get', '--print-value-only', '/harness/key').trim(), 'value-1');
});

test('etcd keeps its data and endpoint across stop() and start()', async () => {
  const etcd = await startEtcd();
  const endpoint = etcd.endpoint;
  etcdctl(endpoint, 'put', '/harness/kept', 'still-here');
  await etcd.stop();
  assert.throws(() => etcdctl(endpoint, '--command-timeout=1s', 'get', '/harness/kept'));
  await etcd.start();
  assert.equal(etcd.endpoint, endpoint);
  assert.equal(etcdctl(endpoint, 'get', '--print-value-only', '/harness/kept').trim(), 'still-here');
});

test('etcd comes back with its data after kill()', async () => {
  const etcd = await startEtcd();
  etcdctl(etcd.endpoint, 'put', '/harness/crash', 'survived');
  await etcd.kill();
  await etcd.start();
  assert.equal(etcdctl(etcd.endpoint, 'get', '--print-value-only', '/harness/crash').trim(), 'survived');
});

function uidOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Uid:'));
  return Number(line?.split(/\s+/)[1]);
}

test('createPostgres answers select 1 with its postmaster running as the unprivileged user', async () => {
  const server = await createPostgres();
  const { rows } = await server.query<{ one: number }>('select 1 as one');
  assert.deepEqual(rows, [{ one: 1 }]);

  const dataDir = await server.query<{ dir: string }>("select current_setting('data_directory') as dir");
  assert.equal(dataDir.rows[0]?.dir, server.dataDir);
  const postmaster = Number(readFileSync(join(server.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  assert.equal(postmaster, server.process?.pid);
  const user = unprivilegedUser();
  assert.equal(uidOf(postmaster), user?.uid ?? process.getuid?.());
  assert.equal(statSync(server.dataDir).uid, user?.uid ?? process.getuid?.());
});

test('createPostgres applies parameters and connects through connectionString', async () => {
  const server = await createPostgres({ parameters: { application_name: "harness 'quoted'" } });
  const client = new pg.Client({ connectionString: server.connectionString() });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string }>("select current_setting('application_name') as name");
    assert.equal(rows[0]?.name, "harness 'quoted'");
  } finally {
    await client.end();
  }
});

test('PostgreSQL keeps its data across stop() and start()', async () => {
  const server = await createPostgres();
  await server.query('create table kept (v text)');
  await server.query('insert into kept values ($1)', ['after restart']);
  await server.stop();
  assert.equal(server.process?.running, false);
  await server.start();
  const { rows } = await server.query<{ v: string }>('select v from kept');
  assert.deepEqual(rows, [{ v: 'after restart' }]);
});
