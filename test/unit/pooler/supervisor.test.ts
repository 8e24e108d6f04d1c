// PgbouncerSupervisor against stand-in executables: a missing binary never blocks the caller and
// is retried with backoff; a child that dies is started again; stop() ends it and any retry.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pgbouncerPaths, type PgbouncerSettings } from '../../../src/pooler/render.ts';
import { PgbouncerSupervisor } from '../../../src/pooler/supervisor.ts';
import { waitFor } from '../../harness/poll.ts';

const root = mkdtempSync(join(tmpdir(), 'shardherd-pooler-'));
after(() => rmSync(root, { recursive: true, force: true }));

const TIMING = { initialMs: 20, maxMs: 200, stableMs: 60_000 };

function settings(dir: string): PgbouncerSettings {
  const paths = pgbouncerPaths({ bin: '', pool_mode: 'session', default_pool_size: 20, max_client_conn: 200, dir });
  return {
    paths,
    // Certificates are openssl's business; these tests are about the process.
    generateCertificate: false,
    listen: { host: '127.0.0.1', port: 6432 },
    server: { host: '127.0.0.1', port: 5432 },
    poolMode: 'session',
    defaultPoolSize: 20,
    maxClientConn: 200,
    superuser: { username: 'postgres', password: 'secret' },
  };
}

/** A stand-in for pgbouncer: waits, ignores SIGHUP as a reload, ends on SIGINT (exec keeps the pid). */
function sleeper(): string {
  const file = join(root, 'fake-pgbouncer');
  writeFileSync(file, "#!/bin/sh\ntrap '' HUP\nexec sleep 600\n");
  chmodSync(file, 0o755);
  return file;
}

test('a missing binary does not block start() and is retried with backoff', async () => {
  const dir = join(root, 'missing');
  const bin = join(root, 'no-such-pgbouncer');
  const supervisor = new PgbouncerSupervisor({ bin, settings: () => settings(dir), timing: TIMING });
  supervisor.start();
  assert.equal(supervisor.state.kind === 'running', false);
  const waiting = await waitFor(
    () => {
      const state = supervisor.state;
      return state.kind === 'waiting' && state.failures >= 3 ? state : undefined;
    },
    { timeout: 10_000, interval: 10, message: 'three failed starts' },
  );
  assert.ok(waiting);
  assert.match(waiting.reason, /cannot run .*no-such-pgbouncer/);
  await supervisor.stop();
  assert.deepEqual(supervisor.state, { kind: 'stopped' });
});

test('a child that is killed is started again; stop() ends it', async () => {
  const dir = join(root, 'restart');
  const supervisor = new PgbouncerSupervisor({ bin: sleeper(), settings: () => settings(dir), timing: TIMING });
  supervisor.start();
  const first = await waitFor(() => (supervisor.state.kind === 'running' ? supervisor.state.pid : 0), {
    timeout: 10_000,
    interval: 10,
    message: 'the child runs',
  });
  process.kill(first, 'SIGKILL');
  const second = await waitFor(
    () => (supervisor.state.kind === 'running' && supervisor.state.pid !== first ? supervisor.state.pid : 0),
    { timeout: 10_000, interval: 10, message: 'a new child runs' },
  );
  await supervisor.stop();
  assert.deepEqual(supervisor.state, { kind: 'stopped' });
  assert.throws(() => process.kill(second, 0), /ESRCH/);
});

test('a reload writes the files and signals the child only when they changed', async () => {
  const dir = join(root, 'reload');
  let current = settings(dir);
  const supervisor = new PgbouncerSupervisor({ bin: sleeper(), settings: () => current, timing: TIMING });
  supervisor.start();
  const pid = await waitFor(() => (supervisor.state.kind === 'running' ? supervisor.state.pid : 0), {
    timeout: 10_000,
    interval: 10,
    message: 'the child runs',
  });
  assert.deepEqual(await supervisor.reload(), { kind: 'unchanged' });
  current = { ...current, defaultPoolSize: 33 };
  assert.deepEqual(await supervisor.reload(), { kind: 'signalled', pid });
  assert.match(readFileSync(current.paths.ini, 'utf8'), /^default_pool_size = 33$/m);
  assert.equal((statSync(current.paths.authFile).mode & 0o777).toString(8), '600');
  assert.deepEqual(supervisor.state, { kind: 'running', pid });
  await supervisor.stop();
});
