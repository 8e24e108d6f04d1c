// formatListing: each output format, byte for byte as patronictl 3.0.2 prints the same cluster
// (the expected texts were captured from patronictl reading the same keys from etcd).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatListing, parseListFormat, type OutputFormat } from '../../../src/cli/listOutput.ts';
import { listRows, type ListRowsOptions } from '../../../src/cli/listRows.ts';
import { pythonJson } from '../../../src/cli/pythonJson.ts';
import type { ClusterView, GroupView, Member, MemberData } from '../../../src/dcs/types.ts';

const MB = 1024 * 1024;

function member(name: string, port: number, data: Partial<MemberData>): Member {
  return {
    name,
    data: {
      conn_url: `postgres://127.0.0.1:${port}/postgres`,
      api_url: `http://127.0.0.1:${port + 1000}/patroni`,
      state: 'streaming',
      role: 'replica',
      version: '3.0.2',
      timeline: 1,
      ...data,
    },
    modRevision: '1',
    lease: '7',
  };
}

/**
 * Groups 0..2: group 0 paused, group 1's replica 2 MB behind with a pending restart and a
 * switchover scheduled, group 2's replica tagged.
 */

function demoView(): ClusterView {
  const groups = [0, 1, 2].map((g): GroupView => ({
    group: g,
    initialize: `73000000000000000${g}`,
    config: g === 0 ? { value: { pause: true }, modRevision: '9' } : null,
    leader: { name: `g${g}-a`, modRevision: '2', createRevision: '2', lease: '7' },
    members: [
      member(`g${g}-a`, 5430 + 10 * g, { role: 'primary', state: 'running', xlog_location: 100 * MB }),
      member(`g${g}-b`, 5431 + 10 * g, {
        xlog_location: g === 1 ? 98 * MB : 100 * MB,
        ...(g === 1 ? { pending_restart: true } : {}),
        ...(g === 2 ? { tags: { nofailover: true, replicatefrom: 'x' } } : {}),
      }),
    ],
    sync: null,
    failover:
      g === 1
        ? { value: { leader: 'g1-a', member: 'g1-b', scheduled_at: '2030-01-02T03:04:05+00:00' }, modRevision: '8' }
        : null,
    history: null,
    status: { optime: 100 * MB },
    failsafe: null,
  }));
  return { revision: '10', groups };
}

const ALL = { scope: 'demo', citus: true, group: null };
const FOOTER = [
  'Citus group: 0',
  ' Maintenance mode: on',
  'Citus group: 1',
  ' Switchover scheduled at: 2030-01-02T03:04:05+00:00',
  '                    from: g1-a',
  '                      to: g1-b',
];
const lines = (...l: string[]): string => l.join('\n') + '\n';

test('pretty: a boxed table without the Cluster column, tags as YAML lines, rules between rows, notes below', () => {
  assert.equal(
    formatListing(listRows(demoView(), ALL), 'pretty'),
    lines(
      '+ Citus cluster: demo ------------+---------+-----------+----+-----------+-----------------+------------------+',
      '| Group | Member | Host           | Role    | State     | TL | Lag in MB | Pending restart | Tags             |',
      '+-------+--------+----------------+---------+-----------+----+-----------+-----------------+------------------+',
      '|     0 | g0-a   | 127.0.0.1:5430 | Leader  | running   |  1 |           |                 |                  |',
      '+-------+--------+----------------+---------+-----------+----+-----------+-----------------+------------------+',
      '|     0 | g0-b   | 127.0.0.1:5431 | Replica | streaming |  1 |         0 |                 |                  |',
      '+-------+--------+----------------+---------+-----------+----+-----------+-----------------+------------------+',
      '|     1 | g1-a   | 127.0.0.1:5440 | Leader  | running   |  1 |           |                 |                  |',
      '+-------+--------+----------------+---------+-----------+----+-----------+-----------------+------------------+',
      '|     1 | g1-b   | 127.0.0.1:5441 | Replica | streaming |  1 |         2 | *               |                  |',
      '+-------+--------+----------------+---------+-----------+----+-----------+-----------------+------------------+',
      '|     2 | g2-a   | 127.0.0.1:5450 | Leader  | running   |  1 |           |                 |                  |',
      '+-------+--------+----------------+---------+-----------+----+-----------+-----------------+------------------+',
      '|     2 | g2-b   | 127.0.0.1:5451 | Replica | streaming |  1 |         0 |                 | nofailover: true |',
      '|       |        |                |         |           |    |           |                 | replicatefrom: x |',
      '+-------+--------+----------------+---------+-----------+----+-----------+-----------------+------------------+',
      ...FOOTER,
    ),
  );
});

test('topology: the tree in the Member column, tags on one line', () => {
  assert.equal(
    formatListing(listRows(demoView(), { ...ALL, topology: true }), 'topology'),
    lines(
      '+ Citus cluster: demo ------------+---------+-----------+----+' +
        '-----------+-----------------+--------------------------------------+',
      '| Group | Member | Host           | Role    | State     | TL |' +
        ' Lag in MB | Pending restart | Tags                                 |',
      '+-------+--------+----------------+---------+-----------+----+' +
        '-----------+-----------------+--------------------------------------+',
      '|     0 | g0-a   | 127.0.0.1:5430 | Leader  | running   |  1 |' +
        '           |                 |                                      |',
      '|     0 | + g0-b | 127.0.0.1:5431 | Replica | streaming |  1 |' +
        '         0 |                 |                                      |',
      '|     1 | g1-a   | 127.0.0.1:5440 | Leader  | running   |  1 |' +
        '           |                 |                                      |',
      '|     1 | + g1-b | 127.0.0.1:5441 | Replica | streaming |  1 |' +
        '         2 | *               |                                      |',
      '|     2 | g2-a   | 127.0.0.1:5450 | Leader  | running   |  1 |' +
        '           |                 |                                      |',
      '|     2 | + g2-b | 127.0.0.1:5451 | Replica | streaming |  1 |' +
        '         0 |                 | {nofailover: true, replicatefrom: x} |',
      '+-------+--------+----------------+---------+-----------+----+' +
        '-----------+-----------------+--------------------------------------+',
      ...FOOTER,
    ),
  );
});

test('pretty with --group leaves Cluster and Group out of the table and notes only that group', () => {
  assert.equal(
    formatListing(listRows(demoView(), { ...ALL, group: 1 }), 'pretty'),
    lines(
      '+ Citus cluster: demo (group: 1, 730000000000000001) +-----------+-----------------+',
      '| Member | Host           | Role    | State     | TL | Lag in MB | Pending restart |',
      '+--------+----------------+---------+-----------+----+-----------+-----------------+',
      '| g1-a   | 127.0.0.1:5440 | Leader  | running   |  1 |           |                 |',
      '| g1-b   | 127.0.0.1:5441 | Replica | streaming |  1 |         2 | *               |',
      '+--------+----------------+---------+-----------+----+-----------+-----------------+',
      ' Switchover scheduled at: 2030-01-02T03:04:05+00:00',
      '                    from: g1-a',
      '                      to: g1-b',
    ),
  );
});

test('json: one object per member with Cluster and Group, empty cells left out, Python spacing', () => {
  assert.equal(
    formatListing(listRows(demoView(), ALL), 'json'),
    '[{"Cluster": "demo", "Group": 0, "Member": "g0-a", "Host": "127.0.0.1:5430", ' +
      '"Role": "Leader", "State": "running", "TL": 1}, ' +
      '{"Cluster": "demo", "Group": 0, "Member": "g0-b", "Host": "127.0.0.1:5431", ' +
      '"Role": "Replica", "State": "streaming", "TL": 1, "Lag in MB": 0}, ' +
      '{"Cluster": "demo", "Group": 1, "Member": "g1-a", "Host": "127.0.0.1:5440", ' +
      '"Role": "Leader", "State": "running", "TL": 1}, ' +
      '{"Cluster": "demo", "Group": 1, "Member": "g1-b", "Host": "127.0.0.1:5441", ' +
      '"Role": "Replica", "State": "streaming", "TL": 1, "Lag in MB": 2, "Pending restart": "*"}, ' +
      '{"Cluster": "demo", "Group": 2, "Member": "g2-a", "Host": "127.0.0.1:5450", ' +
      '"Role": "Leader", "State": "running", "TL": 1}, ' +
      '{"Cluster": "demo", "Group": 2, "Member": "g2-b", "Host": "127.0.0.1:5451", ' +
      '"Role": "Replica", "State": "streaming", "TL": 1, "Lag in MB": 0, ' +
      '"Tags": {"nofailover": true, "replicatefrom": "x"}}]\n',
  );
});

test('yaml: a list of members with sorted keys, tags nested, ending with an empty line', () => {
  const out = formatListing(listRows(demoView(), { ...ALL, group: 1 }), 'yaml');
  assert.equal(
    out,
    lines(
      '- Cluster: demo',
      '  Group: 1',
      '  Host: 127.0.0.1:5440',
      '  Member: g1-a',
      '  Role: Leader',
      '  State: running',
      '  TL: 1',
      '- Cluster: demo',
      '  Group: 1',
      '  Host: 127.0.0.1:5441',
      '  Lag in MB: 2',
      '  Member: g1-b',
      "  Pending restart: '*'",
      '  Role: Replica',
      '  State: streaming',
      '  TL: 1',
      '',
    ),
  );
  const tagged = formatListing(listRows(demoView(), { ...ALL, group: 2 }), 'yaml');
  assert.ok(tagged.endsWith('  TL: 1\n  Tags:\n    nofailover: true\n    replicatefrom: x\n\n'), tagged);
});

test('tsv: a header line with every column, then one line per member, tags as one-line YAML', () => {
  assert.equal(
    formatListing(listRows(demoView(), ALL), 'tsv'),
    lines(
      'Cluster\tGroup\tMember\tHost\tRole\tState\tTL\tLag in MB\tPending restart\tTags',
      'demo\t0\tg0-a\t127.0.0.1:5430\tLeader\trunning\t1\t\t\t',
      'demo\t0\tg0-b\t127.0.0.1:5431\tReplica\tstreaming\t1\t0\t\t',
      'demo\t1\tg1-a\t127.0.0.1:5440\tLeader\trunning\t1\t\t\t',
      'demo\t1\tg1-b\t127.0.0.1:5441\tReplica\tstreaming\t1\t2\t*\t',
      'demo\t2\tg2-a\t127.0.0.1:5450\tLeader\trunning\t1\t\t\t',
      'demo\t2\tg2-b\t127.0.0.1:5451\tReplica\tstreaming\t1\t0\t\t{nofailover: true, replicatefrom: x}',
    ),
  );
});

test('an empty cluster prints an empty table, [] in JSON and YAML, and the header line in TSV', () => {
  const empty = listRows({ revision: '1', groups: [] }, { scope: 'plain', citus: false, group: null });
  assert.equal(
    formatListing(empty, 'pretty'),
    lines(
      '+ Cluster: plain ------+-------+----+-----------+',
      '| Member | Host | Role | State | TL | Lag in MB |',
      '+--------+------+------+-------+----+-----------+',
      '+--------+------+------+-------+----+-----------+',
    ),
  );
  assert.equal(formatListing(empty, 'json'), '[]\n');
  assert.equal(formatListing(empty, 'yaml'), '[]\n\n');
  assert.equal(formatListing(empty, 'tsv'), 'Cluster\tMember\tHost\tRole\tState\tTL\tLag in MB\n');
});

test('-f accepts pretty, json, yaml (or yml) and tsv, nothing else', () => {
  assert.deepEqual(['pretty', 'json', 'yaml', 'yml', 'tsv', 'topology', 'xml', ''].map(parseListFormat), [
    'pretty',
    'json',
    'yaml',
    'yaml',
    'tsv',
    null,
    null,
    null,
  ]);
});

test('pythonJson escapes non-ASCII and spaces separators as Python json.dumps', () => {
  assert.equal(
    pythonJson({ a: 'é"\n', b: [1, 2.5, true, null], c: {} }),
    '{"a": "\\u00e9\\"\\n", "b": [1, 2.5, true, null], "c": {}}',
  );
  assert.equal(pythonJson([]), '[]');
});

/** demoView with poolers beside group 1's members. */
function pooledView(): ClusterView {
  const view = demoView();
  view.groups[1].members[0].data.proxy_url = 'postgres://10.0.1.1:6432/citus';
  view.groups[1].members[1].data.proxy_url = 'postgres://10.0.1.2:6432/citus';
  return view;
}

test('every format prints the same bytes with a published pooler as without, unless extended', () => {
  const same = (options: ListRowsOptions, format: OutputFormat): void =>
    assert.equal(
      formatListing(listRows(pooledView(), options), format),
      formatListing(listRows(demoView(), options), format),
      format,
    );
  for (const format of ['pretty', 'json', 'yaml', 'tsv'] as const) same(ALL, format);
  same({ ...ALL, topology: true }, 'topology');
});

test('extended with a published pooler: a Pooler column in pretty and tsv, a Pooler key in json and yaml', () => {
  const group1 = { ...ALL, group: 1, extended: true };
  const pretty = formatListing(listRows(pooledView(), group1), 'pretty').split('\n');
  // The columns before Pooler are laid out as the other tests show; only the last one is new.
  assert.deepEqual(
    pretty.slice(0, 6).map((line) => /[|+][^|+]*[|+]$/.exec(line)?.[0]),
    ['+---------------+', '| Pooler        |', '+---------------+'].concat([
      '| 10.0.1.1:6432 |',
      '| 10.0.1.2:6432 |',
      '+---------------+',
    ]),
  );
  assert.match(pretty[1], /\| Scheduled restart \| Tags \| Pooler {8}\|$/);

  const tsv = formatListing(listRows(pooledView(), { ...ALL, extended: true }), 'tsv').split('\n');
  assert.equal(tsv[0].split('\t').slice(-4).join('|'), 'Pending restart|Scheduled restart|Tags|Pooler');
  assert.equal(tsv[1], 'demo\t0\tg0-a\t127.0.0.1:5430\tLeader\trunning\t1\t\t\t\t\t');
  assert.equal(tsv[3], 'demo\t1\tg1-a\t127.0.0.1:5440\tLeader\trunning\t1\t\t\t\t\t10.0.1.1:6432');

  const json = JSON.parse(formatListing(listRows(pooledView(), group1), 'json')) as Array<Record<string, unknown>>;
  assert.deepEqual(
    json.map((m) => m.Pooler),
    ['10.0.1.1:6432', '10.0.1.2:6432'],
  );
  const yaml = formatListing(listRows(pooledView(), group1), 'yaml');
  assert.match(yaml, /^ {2}Member: g1-a\n {2}Pooler: 10\.0\.1\.1:6432\n {2}Role: Leader\n/m);

  const topology = formatListing(listRows(pooledView(), { ...ALL, extended: true, topology: true }), 'topology');
  assert.match(topology, /\| {5}1 \| \+ g1-b \| 127\.0\.0\.1:5441 \|.*\| 10\.0\.1\.2:6432 \|\n/);
});
