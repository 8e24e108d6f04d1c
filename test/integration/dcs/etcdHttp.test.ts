// The etcd client's connection: several members (one refusing, one that stops answering), TLS with
// a private CA and client certificates, and user authentication with tokens that expire.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { before, describe, test } from 'node:test';
import { etcdEndpoints } from '../../../src/dcs/etcdHttp.ts';
import { DcsError } from '../../../src/errors.ts';
import type { ClusterView, DcsEvent } from '../../../src/dcs/types.ts';
import {
  certificates,
  freePort,
  startEtcd,
  TcpProxy,
  useHarness,
  waitFor,
  type EtcdServer,
} from '../../harness/index.ts';
import { dcsOn } from './helpers.ts';

useHarness();
const run = promisify(execFile);

/** The leader of the one group of the view that has one. */
const leaderOf = (view: ClusterView): string | undefined => view.groups.find((g) => g.leader)?.leader?.name;

describe('etcd members', () => {
  let etcd: EtcdServer;
  before(async () => {
    etcd = await startEtcd();
  });

  test('a member refusing connections is passed over for the next', async () => {
    const closed = await freePort();
    const direct = dcsOn(etcd, { scope: 'refused' });
    assert.equal(await direct.attemptToAcquireLeader('m1'), true);
    const far = dcsOn(etcd, {
      scope: 'refused',
      retryTimeout: 4,
      hosts: [`127.0.0.1:${closed}`, `127.0.0.1:${etcd.clientPort}`],
    });
    const view = await far.loadCluster();
    assert.equal(leaderOf(view), 'm1');
  });

  test('a member that stops answering: reads and the watch move to the next member', async () => {
    const proxy = await TcpProxy.start(await freePort(), etcd.clientPort);
    const hosts = [`127.0.0.1:${proxy.port}`, `127.0.0.1:${etcd.clientPort}`];
    const watcher = dcsOn(etcd, { scope: 'hung', group: 0, retryTimeout: 4, hosts });
    const writer = dcsOn(etcd, { scope: 'hung', group: 1 });
    const seen: DcsEvent[] = [];
    const view = await watcher.loadCluster();
    watcher.watch(view.revision, (events) => seen.push(...events));
    assert.equal(await writer.attemptToAcquireLeader('before'), true);
    await waitFor(() => seen.some((e) => e.value === 'before'), { timeout: 5_000, message: 'the first put arrives' });

    // The proxy now holds every byte: the first member looks alive but answers nothing.
    const hold = proxy.blackhole(30_000);
    // retry_timeout 4 s shared between two members: the read gives the first 2 s, then asks the second.
    const reread = await watcher.loadCluster();
    assert.equal(leaderOf(reread), 'before');

    assert.equal(await writer.deleteLeader('before'), true);
    assert.equal(await writer.attemptToAcquireLeader('after'), true);
    await waitFor(() => seen.some((e) => e.value === 'after'), {
      timeout: 5_000,
      message: 'the watch, reopened on the second member, sees a put made while the first holds still',
    });
    assert.ok(
      seen.some((e) => e.type === 'delete' && e.name === 'leader'),
      'and the delete before it',
    );
    await proxy.close();
    await hold.catch(() => undefined);
  });
});

describe('etcd over TLS', () => {
  test('etcd3.cacert, cert and key reach a member that requires client certificates', async () => {
    const files = await certificates();
    const etcd = await startEtcd({
      tls: {
        certFile: files.serverCert,
        keyFile: files.serverKey,
        clientCa: files.ca,
        client: { certFile: files.clientCert, keyFile: files.clientKey },
      },
    });
    const endpoints = etcdEndpoints({
      hosts: [`127.0.0.1:${etcd.clientPort}`],
      protocol: 'https',
      cacert: files.ca,
      cert: files.clientCert,
      key: files.clientKey,
    });
    const dcs = dcsOn(etcd, { scope: 'tls', ...endpoints });
    assert.equal(await dcs.attemptToAcquireLeader('m1'), true);
    assert.equal(leaderOf(await dcs.loadCluster()), 'm1');

    const untrusting = dcsOn(etcd, { scope: 'tls', retryTimeout: 2, hosts: endpoints.hosts });
    await assert.rejects(untrusting.loadCluster(), (err: unknown) => {
      assert.ok(err instanceof DcsError);
      assert.match(err.message, /certificate/);
      return true;
    });
  });

  test('a TLS file that cannot be read is refused naming its key', () => {
    assert.throws(
      () => etcdEndpoints({ hosts: ['127.0.0.1:2379'], protocol: 'https', cacert: '/nonexistent/ca.pem' }),
      /etcd3\.cacert: cannot read \/nonexistent\/ca\.pem/,
    );
  });
});

describe('etcd with authentication', () => {
  let etcd: EtcdServer;
  before(async () => {
    // Tokens expire after a second of disuse, so the test can see a request renew its token.
    etcd = await startEtcd({ extraArgs: ['--auth-token-ttl=1'] });
    const ctl = (...args: string[]) =>
      run('etcdctl', [`--endpoints=${etcd.endpoint}`, ...args], { env: { ...process.env, ETCDCTL_API: '3' } });
    await ctl('user', 'add', 'root:secret');
    await ctl('user', 'grant-role', 'root', 'root');
    await ctl('auth', 'enable');
  });

  test('etcd3.username and password: requests carry a token, renewed when etcd dropped it', async () => {
    const post = async (path: string, body: object, token?: string) => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (token !== undefined) headers.authorization = token;
      const res = await fetch(`${etcd.endpoint}/v3/${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as { token?: string; code?: number } };
    };
    // A token of its own shows that etcd really drops an idle one here.
    const { token } = (await post('auth/authenticate', { name: 'root', password: 'secret' })).body;
    const range = { key: Buffer.from('/service/auth/').toString('base64') };
    assert.equal((await post('kv/range', range, token)).status, 200);

    const dcs = dcsOn(etcd, { scope: 'auth', username: 'root', password: 'secret' });
    assert.equal(await dcs.attemptToAcquireLeader('m1'), true);
    // Idle for longer than --auth-token-ttl: both tokens expire.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const stale = await post('kv/range', range, token);
    assert.equal(stale.body.code, 16, `an idle token is refused (${JSON.stringify(stale.body)})`);
    assert.equal(leaderOf(await dcs.loadCluster()), 'm1');
  });

  test('a wrong password fails at once, not after retry_timeout', { timeout: 20_000 }, async () => {
    // Retried, the call would last retry_timeout (60 s) and outlive the test's own timeout.
    const dcs = dcsOn(etcd, { scope: 'auth', username: 'root', password: 'wrong', retryTimeout: 60 });
    await assert.rejects(dcs.loadCluster(), /authentication failed/);
  });

  test('without credentials etcd refuses at once, and the error says so', { timeout: 20_000 }, async () => {
    const dcs = dcsOn(etcd, { scope: 'auth', retryTimeout: 60 });
    await assert.rejects(dcs.loadCluster(), /user name is empty|permission denied|token/i);
  });
});
