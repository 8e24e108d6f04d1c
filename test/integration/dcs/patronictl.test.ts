// Compatibility with a client nobody here wrote: Debian's patronictl 3.0.2 lists what this
// etcd layer wrote, with and without Citus groups.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { before, describe, test } from 'node:test';
import type { Dcs } from '../../../src/dcs/dcs.ts';
import { startEtcd, tableRows, tempDir, useHarness, type EtcdServer } from '../../harness/index.ts';
import { dcsOn, memberData } from './helpers.ts';

useHarness();

const PATRONICTL = '/usr/bin/patronictl';
const MB = 1024 * 1024;

/** Runs `patronictl -c <config> list <scope>` and returns its output. */
async function patronictlList(etcd: EtcdServer, scope: string, citusGroup: number | null): Promise<string> {
  const dir = await tempDir('patronictl-');
  const config = join(dir, 'patronictl.yml');
  // patronictl 3.0 has no etcd3:// URL form; hosts are host:port without a scheme.
  const lines = [`scope: ${scope}`, 'namespace: /service/', 'etcd3:', `  hosts: 127.0.0.1:${etcd.clientPort}`];
  if (citusGroup !== null) lines.push('citus:', `  group: ${citusGroup}`, '  database: citus');
  await writeFile(config, lines.join('\n') + '\n');
  const { stdout } = await promisify(execFile)(PATRONICTL, ['-c', config, 'list', scope], { timeout: 30_000 });
  return stdout;
}

/** Writes one group the way a running agent pair would: two members, leader, status. */
async function writeGroup(
  primary: Dcs,
  replica: Dcs,
  names: [string, string],
  hosts: [string, string],
  timeline: number,
): Promise<void> {
  const optime = 64 * MB;
  await primary.touchMember(names[0], memberData(hosts[0], 'primary', { timeline, xlog_location: optime }));
  await replica.touchMember(names[1], memberData(hosts[1], 'replica', { timeline, xlog_location: optime - 3 * MB }));
  assert.equal(await primary.attemptToAcquireLeader(names[0]), true);
  await primary.setStatus({ optime });
  assert.equal(await primary.initialize('7300000000000000001'), true);
}

describe('patronictl 3.0.2 compatibility', () => {
  let etcd: EtcdServer;
  before(async () => {
    etcd = await startEtcd();
  });

  test('patronictl list shows a cluster without citus with leader, replica, state, timeline and lag', async () => {
    const scope = 'compat';
    await writeGroup(dcsOn(etcd, { scope }), dcsOn(etcd, { scope }), ['pg-a', 'pg-b'], ['127.0.0.1', '127.0.0.2'], 3);
    const output = await patronictlList(etcd, scope, null);
    assert.match(output, /Cluster: compat/);
    assert.deepEqual(tableRows(output), [
      { Member: 'pg-a', Host: '127.0.0.1', Role: 'Leader', State: 'running', TL: '3', 'Lag in MB': '' },
      { Member: 'pg-b', Host: '127.0.0.2', Role: 'Replica', State: 'streaming', TL: '3', 'Lag in MB': '3' },
    ]);
  });

  test('patronictl list in citus mode shows groups 0 and 1 with their own leaders and timelines', async () => {
    const scope = 'citus-compat';
    await writeGroup(
      dcsOn(etcd, { scope, group: 0 }),
      dcsOn(etcd, { scope, group: 0 }),
      ['coord-a', 'coord-b'],
      ['127.0.0.1', '127.0.0.2'],
      1,
    );
    await writeGroup(
      dcsOn(etcd, { scope, group: 1 }),
      dcsOn(etcd, { scope, group: 1 }),
      ['work-a', 'work-b'],
      ['127.0.1.1', '127.0.1.2'],
      4,
    );
    const output = await patronictlList(etcd, scope, 0);
    assert.match(output, /Citus cluster: citus-compat/);
    assert.deepEqual(tableRows(output), [
      { Group: '0', Member: 'coord-a', Host: '127.0.0.1', Role: 'Leader', State: 'running', TL: '1', 'Lag in MB': '' },
      {
        Group: '0',
        Member: 'coord-b',
        Host: '127.0.0.2',
        Role: 'Replica',
        State: 'streaming',
        TL: '1',
        'Lag in MB': '3',
      },
      { Group: '1', Member: 'work-a', Host: '127.0.1.1', Role: 'Leader', State: 'running', TL: '4', 'Lag in MB': '' },
      {
        Group: '1',
        Member: 'work-b',
        Host: '127.0.1.2',
        Role: 'Replica',
        State: 'streaming',
        TL: '4',
        'Lag in MB': '3',
      },
    ]);
  });
});
