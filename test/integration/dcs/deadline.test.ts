// Every etcd call is bounded by retry_timeout: a hung or absent etcd fails the call with a
// DcsError naming the key instead of blocking the caller.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DcsError } from '../../../src/errors.ts';
import { freePort, startEtcd, useHarness } from '../../harness/index.ts';
import { dcsOn } from './helpers.ts';

useHarness();

describe('deadlines', () => {
  test('calls against a hung etcd fail with a DcsError naming the key within retry_timeout', async () => {
    const etcd = await startEtcd();
    const dcs = dcsOn(etcd, { scope: 'hung', retryTimeout: 1 });
    await dcs.ensureLease();
    etcd.process?.kill('SIGSTOP');
    try {
      const started = Date.now();
      await assert.rejects(
        dcs.loadCluster(),
        (err: unknown) => err instanceof DcsError && err.key === '/service/hung/',
      );
      await assert.rejects(
        dcs.attemptToAcquireLeader('a'),
        (err: unknown) => err instanceof DcsError && /^lease/.test(err.key),
      );
      await assert.rejects(
        dcs.setConfig({ a: 1 }),
        (err: unknown) => err instanceof DcsError && err.key === '/service/hung/config',
      );
      // Three calls of one second each, with generous slack for a loaded machine.
      assert.ok(Date.now() - started < 3 * 1000 + 2000, `took ${Date.now() - started} ms`);
    } finally {
      etcd.process?.kill('SIGCONT');
    }
    assert.equal(await dcs.attemptToAcquireLeader('a'), true, 'works again once etcd resumes');
  });

  test('calls with no etcd listening fail with a DcsError within retry_timeout', async () => {
    const port = await freePort();
    const dcs = dcsOn({ clientPort: port }, { scope: 'absent', retryTimeout: 1 });
    const started = Date.now();
    await assert.rejects(
      dcs.touchMember('m', { conn_url: '', api_url: '', state: 'running', role: 'replica', version: '' }),
      (err: unknown) => err instanceof DcsError,
    );
    assert.ok(Date.now() - started < 1000 + 2000, `took ${Date.now() - started} ms`);
  });
});
