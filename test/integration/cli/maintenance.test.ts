// Maintenance on a real Citus cluster (a coordinator group and a worker group, two members each):
// `pause` leaves a killed primary down with no failover, `resume` brings the group back, `history`
// prints what patronictl prints, patronictl's own pause goes through PATCH /config; and `remove`
// of a decommissioned group (keys written by the etcd layer under a scope of their own).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type { Dcs } from '../../../src/dcs/dcs.ts';
import { groupOf } from '../../../src/dcs/view.ts';
import { tempDir, useHarness, waitForLeader, waitForReplicas, type TestMember } from '../../harness/index.ts';
import { dcsOn, memberData } from '../dcs/helpers.ts';
import { PATRONICTL, run, shardherd, shown, useCliCluster } from './helpers.ts';

useHarness();

const TIMING = { ttl: 10, loopWait: 2, retryTimeout: 3 };
const GROUPS = [0, 1];

const cli = useCliCluster({ groups: GROUPS, membersPerGroup: 2, ...TIMING });

async function isPrimary(member: TestMember): Promise<boolean> {
  const { rows } = await member.query<{ primary: boolean }>('select not pg_is_in_recovery() as primary');
  return rows[0]!.primary;
}

describe('pause, resume and history', () => {
  test('pause --wait: every member of the group shows pause; a second pause is refused', async () => {
    const paused = await shardherd(['pause', '-c', cli.ctl, '--group', '1', '--wait']);
    assert.equal(paused.code, 0, shown(paused));
    assert.match(paused.stdout, /^Waiting up to \d+ s for g1-m1, g1-m2 \(group 1\) to show pause: true in their/m);
    assert.match(paused.stdout, /^Success: cluster management is paused \(group 1\)$/m);
    const view = await cli.groupView(1);
    assert.equal(view.config?.value.pause, true);
    assert.deepEqual(
      view.members.map((m) => [m.name, m.data.pause]),
      [
        ['g1-m1', true],
        ['g1-m2', true],
      ],
    );
    assert.equal((await cli.groupView(0)).config?.value.pause, undefined, 'group 0 is not paused');
    const again = await shardherd(['pause', '-c', cli.ctl, '--group', '1']);
    assert.equal(again.code, 1, shown(again));
    assert.match(again.stderr, /cluster management of group 1 is already paused/);
  });

  test('paused: kill -9 of the primary postmaster causes no failover and no restart', async () => {
    const primary = await waitForLeader(cli.cluster, 1, { timeout: 30_000 });
    const replica = cli.cluster.group(1).find((m) => m !== primary)!;
    const history = (await cli.groupView(1)).history?.value ?? [];
    await primary.killPostgres('SIGKILL');
    // Several cycles of both agents: the primary stays down and the replica stays a replica.
    const watchUntil = Date.now() + 4 * TIMING.loopWait * 1000;
    while (Date.now() < watchUntil) {
      assert.equal(primary.postmasterPid(), null, `${primary.name} was not started again`);
      assert.equal(await isPrimary(replica), false, `${replica.name} was not promoted`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const view = await cli.groupView(1);
    assert.equal(view.leader?.name === replica.name, false, 'the replica did not take the leader key');
    assert.deepEqual(view.history?.value ?? [], history, 'no promotion in the history');
  });

  test('resume --wait: the group gets a running primary and a streaming replica again', async () => {
    const resumed = await shardherd(['resume', '-c', cli.ctl, '--group', '1', '--wait']);
    assert.equal(resumed.code, 0, shown(resumed));
    assert.match(resumed.stdout, /^Success: cluster management is resumed \(group 1\)$/m);
    assert.equal('pause' in ((await cli.groupView(1)).config?.value ?? {}), false, 'pause removed from the key');
    await waitForLeader(cli.cluster, 1, { timeout: 60_000 });
    await waitForReplicas(cli.cluster, 1, { timeout: 60_000 });
  });

  test('history prints the promotion byte for byte as patronictl history, in every format', async () => {
    const entries = (await cli.groupView(1)).history?.value ?? [];
    assert.ok(entries.length >= 1, 'the failover after resume is in the history');
    for (const format of ['pretty', 'json', 'yaml', 'tsv']) {
      const args = ['history', '--group', '1', '-f', format];
      const [ours, theirs] = await Promise.all([
        shardherd([...args, '-c', cli.ctl]),
        run(PATRONICTL, ['-c', cli.ctl, ...args]),
      ]);
      assert.equal(theirs.code, 0, shown(theirs));
      assert.equal(ours.stdout, theirs.stdout, `history -f ${format}`);
    }
  });

  test('pause --all-groups, then patronictl resume through PATCH /config, then resume --all-groups', async () => {
    const paused = await shardherd(['pause', '-c', cli.ctl, '--all-groups']);
    assert.equal(paused.code, 0, shown(paused));
    for (const group of GROUPS) assert.equal((await cli.groupView(group)).config?.value.pause, true, `group ${group}`);
    const theirs = await run(PATRONICTL, ['-c', cli.ctl, 'resume', '--group', '0']);
    assert.equal(theirs.code, 0, shown(theirs));
    assert.match(theirs.stdout, /Success: cluster management is resumed/);
    assert.equal('pause' in ((await cli.groupView(0)).config?.value ?? {}), false);
    const resumed = await shardherd(['resume', '-c', cli.ctl, '--all-groups', '--wait']);
    assert.equal(resumed.code, 0, shown(resumed));
    assert.match(resumed.stderr, /^group 0: cluster management is not paused$/m);
    assert.match(resumed.stdout, /^Success: cluster management is resumed \(group 1\)$/m);
  });
});

describe('remove', () => {
  const SCOPE = 'gone';
  let removeCtl: string;
  let worker: Dcs;

  before(async () => {
    const { etcd } = cli.cluster;
    for (const group of [0, 2]) {
      const d = dcsOn(etcd, { scope: SCOPE, group, ttl: 600 });
      await d.setConfig({ ttl: 30, loop_wait: 10, retry_timeout: 10 });
      await d.initialize(`7300000000000000${group}`);
      await d.touchMember(`w${group}`, memberData('127.0.0.1', 'primary'));
      assert.equal(await d.attemptToAcquireLeader(`w${group}`), true);
      if (group === 2) worker = d;
    }
    removeCtl = join(await tempDir('cli-remove-'), 'ctl.yml');
    await writeFile(
      removeCtl,
      `scope: ${SCOPE}\netcd3:\n  hosts: 127.0.0.1:${etcd.clientPort}\ncitus:\n  group: 0\n  database: citus\n`,
    );
  });

  async function keysOf(group: number): Promise<number> {
    const view = groupOf(await worker.loadCluster({ allGroups: true }), group);
    return [view.config, view.initialize, view.leader].filter((k) => k !== null).length + view.members.length;
  }

  test('refused while a member key is live, for the coordinator while workers exist, and without --group', async () => {
    const live = await shardherd(['remove', '-c', removeCtl, '--group', '2'], { input: `${SCOPE}\n2\n` });
    assert.equal(live.code, 1, shown(live));
    assert.match(live.stderr, /not removing group 2: group 2 still has live member keys \(w2\).*--force/);
    const coordinator = await shardherd(['remove', '-c', removeCtl, '--group', '0', '--force']);
    assert.match(coordinator.stderr, /group 0 is the coordinator of worker groups 2: remove those first/);
    const noGroup = await shardherd(['remove', '-c', removeCtl]);
    assert.match(noGroup.stderr, /remove of a Citus cluster needs --group N/);
    const wrong = await shardherd(['remove', '-c', removeCtl, '--group', '2', '--force'], { input: 'shop\n' });
    assert.equal(wrong.code, 1, shown(wrong));
    assert.match(wrong.stderr, /the cluster name typed is not gone: nothing was removed/);
    const cut = await shardherd(['remove', '-c', removeCtl, '--group', '2', '--force'], { input: `${SCOPE}\n2\n` });
    assert.match(cut.stderr, /the input ended before an answer was typed/);
    assert.equal(await keysOf(2), 4, 'every key of group 2 is still there');
  });

  test('--force with the typed confirmation removes every key of the group and nothing else', async () => {
    const input = `${SCOPE}\n2\nYes I am aware\nw2\n`;
    const removed = await shardherd(['remove', '-c', removeCtl, '--group', '2', '--force'], { input });
    assert.equal(removed.code, 0, shown(removed));
    assert.equal(removed.stdout, `Removed every key of group 2 of cluster ${SCOPE}\n`);
    assert.equal(await keysOf(2), 0);
    assert.equal(await keysOf(0), 4, 'group 0 keeps its keys');
  });
});
