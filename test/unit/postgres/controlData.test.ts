// pg_controldata and postmaster.pid parsing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlDataFrom, parseControlDataText } from '../../../src/postgres/controlData.ts';
import { parsePostmasterPid } from '../../../src/postgres/postmasterPid.ts';

const SAMPLE = `pg_control version number:            1300
Catalog version number:               202209061
Database system identifier:           7710794733639884492
Database cluster state:               in production
pg_control last modified:             Sat 22 Nov 2025 01:05:03 AM UTC
Latest checkpoint location:           0/2000060
Latest checkpoint's REDO location:    0/2000028
Latest checkpoint's TimeLineID:       1
Min recovery ending location:         0/0
Min recovery ending loc's timeline:   0
wal_log_hints setting:                on
Data page checksum version:           0
`;

test('control data yields system id, state, timeline and checkpoint position', () => {
  const c = controlDataFrom(parseControlDataText(SAMPLE));
  assert.deepEqual(
    [c.systemIdentifier, c.state, c.timeline, c.checkpointLsn, c.cleanShutdown, c.walLogHints, c.dataChecksums],
    ['7710794733639884492', 'in production', 1, 0x2000060, false, true, false],
  );
});

test('a replica stopped past its last checkpoint reports the newer minimum-recovery timeline', () => {
  const text = SAMPLE.replace(
    "Min recovery ending loc's timeline:   0",
    "Min recovery ending loc's timeline:   3",
  ).replace('in production', 'shut down in recovery');
  const c = controlDataFrom(parseControlDataText(text));
  assert.equal(c.timeline, 3);
  assert.equal(c.cleanShutdown, true);
});

test('output missing a required field is a PostgresError naming it', () => {
  assert.throws(() => controlDataFrom({}), /pg_controldata: output lacks 'Latest checkpoint's TimeLineID'/);
});

test('postmaster.pid gives pid, data dir, port and status', () => {
  const text = '4242\n/var/lib/pg/data\n1700000000\n5433\n/tmp\n127.0.0.1\n  1234  5678\nready   \n';
  assert.deepEqual(parsePostmasterPid(text), { pid: 4242, dataDir: '/var/lib/pg/data', port: 5433, status: 'ready' });
});

test('a postmaster.pid still being written is not trusted', () => {
  assert.equal(parsePostmasterPid(''), null);
  assert.equal(parsePostmasterPid('4242'), null);
  assert.deepEqual(parsePostmasterPid('4242\n/d\n'), { pid: 4242, dataDir: '/d', port: null, status: null });
});
