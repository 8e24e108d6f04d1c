// Proves the shared test harness: polling, process cleanup, etcd and PostgreSQL servers.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { test } from 'node:test';
import {
  cleanup,
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
