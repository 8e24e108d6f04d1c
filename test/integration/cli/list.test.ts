// `shardherd list` and `shardherd topology` as a user runs them: a real etcd holding three Citus
// groups written by the etcd layer, the CLI spawned from the repository root, and patronictl
// 3.0.2 reading the same keys for comparison.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import YAML from 'yaml';
import type { MemberData } from '../../../src/dcs/types.ts';
import {
  freePort,
  runCommand,
  startEtcd,
  tableRows,
  tempDir,
  useHarness,
  type CommandRun,
  type EtcdServer,
} from '../../harness/index.ts';
import { dcsOn } from '../dcs/helpers.ts';

useHarness();

const PATRONICTL = '/usr/bin/patronictl';
const MB = 1024 * 1024;
const SCOPE = 'shop';

function shardherd(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CommandRun> {
  return runCommand(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env, timeoutMs: 60_000 });
}

function member(port: number, role: 'primary' | 'replica', extra: Partial<MemberData>): MemberData {
  return {
    conn_url: `postgres://127.0.0.1:${port}/postgres`,
    api_url: `http://127.0.0.1:${port + 1000}/patroni`,
    state: role === 'primary' ? 'running' : 'streaming',
    role,
    version: '3.0.2',
    timeline: 1,
    ...extra,
  };
}

const EXPECTED = [
  { Cluster: SCOPE, Group: 0, Member: 'coord-a', Host: '127.0.0.1:6000', Role: 'Leader', State: 'running', TL: 1 },
  {
    Cluster: SCOPE,
    Group: 0,
    Member: 'coord-b',
    Host: '127.0.0.1:6001',
    Role: 'Replica',
    State: 'streaming',
    TL: 1,
    'Lag in MB': 0,
  },
  { Cluster: SCOPE, Group: 1, Member: 'work1-a', Host: '127.0.0.1:6010', Role: 'Leader', State: 'running', TL: 1 },
  {
    Cluster: SCOPE,
    Group: 1,
    Member: 'work1-b',
    Host: '127.0.0.1:6011',
    Role: 'Replica',
    State: 'streaming',
    TL: 1,
    'Lag in MB': 2,
  },
  { Cluster: SCOPE, Group: 2, Member: 'work2-a', Host: '127.0.0.1:6020', Role: 'Leader', State: 'running', TL: 1 },
  {
    Cluster: SCOPE,
    Group: 2,
    Member: 'work2-b',
    Host: '127.0.0.1:6021',
    Role: 'Replica',
    State: 'streaming',
    TL: 1,
    'Lag in MB': 0,
    Tags: { nofailover: true },
  },
];

describe('shardherd list and topology on a real etcd', () => {
  let etcd: EtcdServer;
  let config: string;

  before(async () => {
    etcd = await startEtcd();
    const names = ['coord', 'work1', 'work2'];
    for (const group of [0, 1, 2]) {
      // Long leases: the keys must outlive the test, nobody renews them.
      const primary = dcsOn(etcd, { scope: SCOPE, group, ttl: 600 });
      const replica = dcsOn(etcd, { scope: SCOPE, group, ttl: 600 });
      const optime = 512 * MB;
      const port = 6000 + 10 * group;
      // Group 1's leader publishes a pooler: only -e shows it, so patronictl's output stays ours.
      const pooler = group === 1 ? { proxy_url: 'postgres://127.0.0.1:6432/citus' } : {};
      await primary.touchMember(`${names[group]}-a`, member(port, 'primary', { xlog_location: optime, ...pooler }));
      await replica.touchMember(
        `${names[group]}-b`,
        member(port + 1, 'replica', {
          xlog_location: group === 1 ? optime - 2 * MB : optime,
          ...(group === 2 ? { tags: { nofailover: true } } : {}),
        }),
      );
      assert.equal(await primary.attemptToAcquireLeader(`${names[group]}-a`), true);
      await primary.setStatus({ optime });
      assert.equal(await primary.initialize(`730000000000000000${group}`), true);
    }
    config = join(await tempDir('cli-list-'), 'ctl.yml');
    await writeFile(
      config,
      [
        `scope: ${SCOPE}`,
        'namespace: /service/',
        'etcd3:',
        `  hosts: 127.0.0.1:${etcd.clientPort}`,
        'citus:',
        '  group: 0',
        '  database: citus',
        '',
      ].join('\n'),
    );
  });

  test('list prints every group with host:port, role, state, timeline, lag in MB and tags', async () => {
    const { code, stdout, stderr } = await shardherd(['list', '-c', config]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, new RegExp(`^\\+ Citus cluster: ${SCOPE} -`));
    assert.deepEqual(
      tableRows(stdout),
      EXPECTED.map((m) => ({
        Group: String(m.Group),
        Member: m.Member,
        Host: m.Host,
        Role: m.Role,
        State: m.State,
        TL: String(m.TL),
        'Lag in MB': m['Lag in MB'] === undefined ? '' : String(m['Lag in MB']),
        Tags: m.Tags ? 'nofailover: true' : '',
      })),
    );
  });

  test('list -f json and -f yaml print the members as objects with patronictl keys', async () => {
    const json = await shardherd(['list', '-c', config, '-f', 'json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), EXPECTED);
    const yaml = await shardherd(['list', '-c', config, '-f', 'yaml']);
    assert.equal(yaml.code, 0, yaml.stderr);
    assert.deepEqual(YAML.parse(yaml.stdout), EXPECTED);
  });

  test('list -f tsv prints a header and one tab-separated line per member', async () => {
    const { code, stdout, stderr } = await shardherd(['list', '-c', config, '-f', 'tsv']);
    assert.equal(code, 0, stderr);
    const lines = stdout.trimEnd().split('\n');
    assert.equal(lines[0], 'Cluster\tGroup\tMember\tHost\tRole\tState\tTL\tLag in MB\tTags');
    assert.equal(lines[4], `${SCOPE}\t1\twork1-b\t127.0.0.1:6011\tReplica\tstreaming\t1\t2\t`);
    assert.equal(lines[6], `${SCOPE}\t2\twork2-b\t127.0.0.1:6021\tReplica\tstreaming\t1\t0\t{nofailover: true}`);
    assert.equal(lines.length, 7);
  });

  test('list --group 1 shows that group and its system id; SHARDHERD_CONFIG can name the configuration', async () => {
    const { code, stdout, stderr } = await shardherd(['list', '--group', '1'], { SHARDHERD_CONFIG: config });
    assert.equal(code, 0, stderr);
    assert.match(stdout, new RegExp(`^\\+ Citus cluster: ${SCOPE} \\(group: 1, 7300000000000000001\\) `));
    assert.deepEqual(
      tableRows(stdout).map((r) => [r.Member, r['Lag in MB']]),
      [
        ['work1-a', ''],
        ['work1-b', '2'],
      ],
    );
  });

  test('topology draws each group as its leader with the replica indented under it', async () => {
    const { code, stdout, stderr } = await shardherd(['topology', '-c', config]);
    assert.equal(code, 0, stderr);
    assert.deepEqual(
      tableRows(stdout).map((r) => `${r.Group} ${r.Member}`),
      ['0 coord-a', '0 + coord-b', '1 work1-a', '1 + work1-b', '2 work2-a', '2 + work2-b'],
    );
  });

  test('list -e and topology -e add a Pooler column from proxy_url in every format', async () => {
    const pretty = await shardherd(['list', '-c', config, '-e']);
    assert.equal(pretty.code, 0, pretty.stderr);
    assert.deepEqual(
      tableRows(pretty.stdout).map((r) => [r.Member, r.Pooler]),
      [
        ['coord-a', ''],
        ['coord-b', ''],
        ['work1-a', '127.0.0.1:6432'],
        ['work1-b', ''],
        ['work2-a', ''],
        ['work2-b', ''],
      ],
    );
    const json = await shardherd(['list', '-c', config, '-e', '-f', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const members = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(
      members.map((m) => m.Pooler ?? null),
      [null, null, '127.0.0.1:6432', null, null, null],
    );
    const yaml = await shardherd(['list', '-c', config, '-e', '-f', 'yaml']);
    assert.equal((YAML.parse(yaml.stdout) as Array<Record<string, unknown>>)[2].Pooler, '127.0.0.1:6432');
    const tsv = await shardherd(['list', '-c', config, '-e', '-f', 'tsv']);
    const lines = tsv.stdout.trimEnd().split('\n');
    assert.equal(lines[0].split('\t').at(-1), 'Pooler');
    assert.equal(lines[3].split('\t').at(-1), '127.0.0.1:6432');
    const topology = await shardherd(['topology', '-c', config, '-e']);
    assert.equal(topology.code, 0, topology.stderr);
    const tree = tableRows(topology.stdout).map((r) => [r.Member, r.Pooler]);
    assert.deepEqual(tree.slice(2, 4), [
      ['work1-a', '127.0.0.1:6432'],
      ['+ work1-b', ''],
    ]);
  });

  test('every format prints the same bytes as patronictl 3.0.2 list and topology', async () => {
    for (const args of [
      ['list'],
      ['list', '-f', 'json'],
      ['list', '-f', 'yaml'],
      ['list', '-f', 'tsv'],
      ['topology'],
      ['list', '--group', '2'],
    ]) {
      const [ours, theirs] = await Promise.all([
        shardherd([...args, '-c', config]),
        runCommand(PATRONICTL, ['-c', config, ...args], { timeoutMs: 60_000 }),
      ]);
      assert.equal(theirs.code, 0, theirs.stderr);
      assert.equal(ours.stdout, theirs.stdout, `shardherd ${args.join(' ')} differs from patronictl`);
    }
  });

  test('an unreachable etcd gives one error line and exit code 1 after retry_timeout', async () => {
    const port = await freePort();
    const unreachable = join(await tempDir('cli-list-'), 'down.yml');
    await writeFile(
      unreachable,
      `scope: ${SCOPE}\netcd3:\n  hosts: 127.0.0.1:${port}\ncitus:\n  group: 0\n  database: citus\n` +
        'bootstrap:\n  dcs:\n    retry_timeout: 2\n',
    );
    const { code, stdout, stderr } = await shardherd(['list', '-c', unreachable]);
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(
      stderr,
      new RegExp(
        `^shardherd: cannot read cluster ${SCOPE} from etcd \\(127\\.0\\.0\\.1:${port}\\) ` +
          'within retry_timeout 2 s: .+\\n$',
      ),
    );
  });

  test('no configuration, a broken one, or an unknown format give one error line and exit code 1', async () => {
    const none = await shardherd(['list']);
    assert.deepEqual(
      [none.code, none.stderr],
      [1, 'shardherd: no configuration: pass -c FILE or set SHARDHERD_CONFIG\n'],
    );
    const broken = join(await tempDir('cli-list-'), 'broken.yml');
    await writeFile(broken, `scope: ${SCOPE}\n`);
    const bad = await shardherd(['list', '-c', broken]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^shardherd: configuration .*broken\.yml: etcd3: required[^\n]*\n$/);
    const format = await shardherd(['list', '-c', config, '-f', 'xml']);
    assert.deepEqual(
      [format.code, format.stderr],
      [1, 'shardherd: unknown format "xml": expected pretty, json, yaml or tsv\n'],
    );
  });
});
