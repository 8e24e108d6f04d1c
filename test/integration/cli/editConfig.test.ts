// The dynamic configuration of a real Citus cluster (a coordinator group and a worker group, two
// members each): `edit-config` reaching every running server, values refused before anything is
// written, a postmaster setting pending until `restart --pending`, PATCH and PUT /config, and
// patronictl 3.0.2 reading what Shardherd wrote.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import YAML from 'yaml';
import type { JsonObject } from '../../../src/config/types.ts';
import { useHarness, waitFor, type TestMember } from '../../harness/index.ts';
import { PATRONICTL, REPO, run, shardherd, shown, useCliCluster } from './helpers.ts';

useHarness();

const TIMING = { ttl: 15, loopWait: 3, retryTimeout: 5 };
const GROUPS = [0, 1];

const cli = useCliCluster({ groups: GROUPS, membersPerGroup: 2, ...TIMING });

async function configKey(group: number): Promise<{ value: JsonObject; modRevision: string }> {
  const config = (await cli.groupView(group)).config;
  assert.ok(config, `group ${group} has a config key`);
  return config;
}

async function show(member: TestMember, name: string): Promise<string> {
  const { rows } = await member.query<{ value: string }>(`select current_setting($1) as value`, [name]);
  return rows[0]!.value;
}

describe('edit-config and show-config', () => {
  test('-p work_mem on every group reaches every running server within one loop_wait', async () => {
    const edited = await shardherd(['edit-config', '-c', cli.ctl, '--all-groups', '-p', 'work_mem=7MB', '--force']);
    assert.equal(edited.code, 0, shown(edited));
    assert.match(edited.stdout, /^--- group 0 config\n\+\+\+ group 0 config \(edited\)\n@@ /m);
    assert.match(edited.stdout, /^\+ {4}work_mem: 7MB$/m);
    assert.match(edited.stdout, /^Configuration changed in group 0, group 1$/m);
    const written = Date.now();
    for (const group of GROUPS) {
      const params = (await configKey(group)).value.postgresql as JsonObject;
      assert.equal((params.parameters as JsonObject).work_mem, '7MB');
    }
    // The watch wakes every agent at once; one loop_wait is the bound the HA loop promises.
    await waitFor(
      async () => (await Promise.all(cli.cluster.members.map((m) => show(m, 'work_mem')))).every((v) => v === '7MB'),
      { timeout: Math.max(100, written + TIMING.loopWait * 1000 - Date.now()), interval: 100, message: 'work_mem' },
    );
  });

  test('show-config prints the config key as YAML, byte for byte as patronictl 3.0.2 show-config', async () => {
    for (const group of GROUPS) {
      const ours = await shardherd(['show-config', '-c', cli.ctl, '--group', String(group)]);
      const theirs = await run(PATRONICTL, ['-c', cli.ctl, 'show-config', '--group', String(group)]);
      assert.equal(ours.code, 0, shown(ours));
      assert.equal(theirs.code, 0, shown(theirs));
      assert.deepEqual(YAML.parse(ours.stdout), (await configKey(group)).value);
      assert.equal(ours.stdout, theirs.stdout);
    }
  });

  test('bad values are refused naming the parameter and the reason; the config key is unchanged', async () => {
    const before = await configKey(1);
    const cases: Array<[string[], RegExp]> = [
      [['-p', 'work_mem=banana'], /postgresql\.parameters\.work_mem: expected an integer .*got "banana"/],
      [['-p', 'max_connections=-5'], /postgresql\.parameters\.max_connections: must be at least 25, got -5/],
      [['-p', 'shared_buffers=99TB'], /postgresql\.parameters\.shared_buffers: "99TB" \(\d+ 8kB\) is outside/],
      [['-p', 'no_such_setting=1'], /postgresql\.parameters\.no_such_setting: unknown parameter/],
      [['-p', 'wal_level=loud'], /postgresql\.parameters\.wal_level: expected one of hot_standby, replica, logical/],
      [['-s', 'loop_wait=20'], /ttl: loop_wait \+ 2\*retry_timeout must not exceed ttl, got 20 \+ 2\*5 = 30 > 15/],
      [['-s', 'postgresql.use_slots=maybe'], /postgresql\.use_slots: expected true or false, got "maybe"/],
    ];
    for (const [args, reason] of cases) {
      const r = await shardherd(['edit-config', '-c', cli.ctl, '--group', '1', ...args, '--force']);
      assert.equal(r.code, 1, shown(r));
      assert.match(r.stderr, /^shardherd: refusing to write the config key: /, shown(r));
      assert.match(r.stderr, reason, shown(r));
      assert.doesNotMatch(r.stdout, /Configuration changed/);
    }
    assert.deepEqual(await configKey(1), before, 'the config key did not change');
  });

  test('without --force on a non-interactive input nothing is written; an unchanged edit says so', async () => {
    const before = await configKey(0);
    const asked = await shardherd([
      'edit-config',
      '-c',
      cli.ctl,
      '--group',
      '0',
      '-s',
      'maximum_lag_on_failover=2097152',
    ]);
    assert.equal(asked.code, 1, shown(asked));
    assert.match(asked.stdout, /^\+maximum_lag_on_failover: 2097152$/m);
    assert.match(asked.stderr, /non-interactive input .*pass --force/);
    const same = await shardherd(['edit-config', '-c', cli.ctl, '--group', '0', '-p', 'work_mem=7MB', '--force']);
    assert.deepEqual([same.code, same.stdout], [0, 'Not changed\n'], shown(same));
    const citus = await shardherd(['edit-config', '-c', cli.ctl, '-p', 'work_mem=8MB', '--force']);
    assert.match(citus.stderr, /edit-config of a Citus cluster needs --group N or --all-groups/);
    assert.deepEqual(await configKey(0), before);
  });

  test('a change of the key between the read and the confirmation is refused; nothing is written', async () => {
    // On a terminal (util-linux `script` gives the command one) edit-config asks before writing;
    // the key changes while it waits for the answer.
    const command = [process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'edit-config', '-c', cli.ctl]
      .concat(['--group', '0', '-s', 'maximum_lag_on_failover=3000000'])
      .join(' ');
    const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { cwd: REPO });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    await waitFor(() => output.includes('Apply these changes? [y/N]'), { timeout: 30_000, message: 'the question' });
    const concurrent = { ...(await configKey(0)).value, maximum_lag_on_failover: 4000000 };
    assert.equal(await cli.dcs.setConfig(concurrent), true);
    child.stdin.write('y\n');
    assert.equal(await exited, 1, output);
    assert.match(output, /the config key of group 0 changed since it was read \(a concurrent change\): nothing was/);
    assert.deepEqual((await configKey(0)).value, concurrent);
  });

  test('-p max_connections sets pending_restart on the members; restart --pending clears it', async () => {
    const edited = await shardherd([
      'edit-config',
      '-c',
      cli.ctl,
      '--group',
      '1',
      '-p',
      'max_connections=60',
      '--force',
    ]);
    assert.equal(edited.code, 0, shown(edited));
    assert.match(edited.stdout, /^Pending restart in group 1: max_connections \(context postmaster\).*--pending$/m);
    const members = cli.cluster.group(1);
    const pending = async (): Promise<boolean[]> =>
      (await cli.groupView(1)).members.map((m) => m.data.pending_restart === true);
    await waitFor(async () => (await pending()).length === 2 && (await pending()).every(Boolean), {
      timeout: 30_000,
      message: 'both members of group 1 publish pending_restart',
    });
    const restarted = await shardherd(['restart', '-c', cli.ctl, '--group', '1', '--pending', '--force']);
    assert.equal(restarted.code, 0, shown(restarted));
    await waitFor(async () => (await pending()).length === 2 && !(await pending()).some(Boolean), {
      timeout: 30_000,
      message: 'pending_restart is cleared on both members of group 1',
    });
    for (const m of members) assert.equal(await show(m, 'max_connections'), '60', m.name);
  });
});

describe('PATCH and PUT /config', () => {
  async function request(member: TestMember, method: string, body: unknown): Promise<{ status: number; text: string }> {
    const res = await fetch(`${member.apiUrl}/config`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, text: await res.text() };
  }

  test('PATCH merges (null deletes) and PUT replaces; each answers the config and GET /config reads it', async () => {
    const member = cli.cluster.group(1)[1]!;
    const before = await configKey(1);
    const patched = await request(member, 'PATCH', {
      maximum_lag_on_failover: 2097152,
      postgresql: { parameters: { work_mem: '9MB', wal_keep_size: null } },
    });
    assert.equal(patched.status, 200, patched.text);
    const merged = JSON.parse(patched.text) as JsonObject;
    assert.equal(merged.maximum_lag_on_failover, 2097152);
    const params = (merged.postgresql as JsonObject).parameters as JsonObject;
    assert.equal(params.work_mem, '9MB');
    assert.equal('wal_keep_size' in params, false);
    assert.equal(params.shared_buffers, '16MB', 'other parameters stay');
    assert.deepEqual((await configKey(1)).value, merged);
    const got = await fetch(`${member.apiUrl}/config`);
    assert.deepEqual(await got.json(), merged);

    const put = await request(member, 'PUT', before.value);
    assert.equal(put.status, 200, put.text);
    assert.deepEqual(JSON.parse(put.text), before.value);
    assert.deepEqual((await configKey(1)).value, before.value);
  });

  test('an invalid PATCH or PUT answers 400 with the reason and writes nothing', async () => {
    const member = cli.cluster.group(0)[0]!;
    const before = await configKey(0);
    const bad = await request(member, 'PATCH', { postgresql: { parameters: { work_mem: 'banana' } } });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /postgresql\.parameters\.work_mem: expected an integer/);
    const timing = await request(member, 'PUT', { ...before.value, ttl: 5 });
    assert.equal(timing.status, 400);
    assert.match(timing.text, /loop_wait \+ 2\*retry_timeout must not exceed ttl/);
    const notMap = await request(member, 'PATCH', [1, 2]);
    assert.equal(notMap.status, 400);
    assert.deepEqual(await configKey(0), before);
  });
});
