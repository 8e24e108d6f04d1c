// The clone in flight: its progress while pg_basebackup reports it, nothing once it ended, and a
// log line at every tenth of the way (every 30 s while the size is unknown), not at every report.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { buildMemberData } from '../../../src/ha/memberData.ts';
import { CloneWatch, type CloneStatus } from '../../../src/postgres/cloneWatch.ts';
import type { CloneProgress } from '../../../src/postgres/basebackup.ts';
import type { Config } from '../../../src/config/types.ts';

function capture(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  return { log, lines };
}

const report = (done: number, total: number | null): CloneProgress => ({
  done_kb: done,
  total_kb: total,
  percent: total === null ? null : Math.floor((done * 100) / total),
});

test('progress while the copy runs, logged every tenth; nothing after', async () => {
  const { log, lines } = capture();
  let now = 0;
  const watch = new CloneWatch(log, () => now);
  const seen: Array<CloneStatus | null> = [];
  await watch.run({ host: '10.0.0.1', port: 5432 }, async (onProgress) => {
    seen.push(watch.status);
    for (const done of [10, 50, 99, 100, 150, 1000]) {
      now += 1000;
      onProgress(report(done, 1000));
    }
    seen.push(watch.status);
  });
  assert.deepEqual(seen, [
    { source: '10.0.0.1:5432', done_kb: 0, total_kb: null, percent: null },
    { source: '10.0.0.1:5432', done_kb: 1000, total_kb: 1000, percent: 100 },
  ]);
  assert.equal(watch.status, null);
  assert.deepEqual(
    lines.map((l) => [l.action, l.percent, l.duration_ms]),
    [
      ['clone', 10, 4000],
      ['clone', 100, 6000],
    ],
  );
  assert.equal(lines[1]!.msg, 'pg_basebackup: 1.0 of 1.0 MB copied (100%)');
});

test('without a size estimate, a line every 30 s; a failed copy clears the status too', async () => {
  const { log, lines } = capture();
  let now = 0;
  const watch = new CloneWatch(log, () => now);
  await assert.rejects(
    watch.run({ host: 'h', port: 1 }, async (onProgress) => {
      for (let s = 1; s <= 65; s++) {
        now = s * 1000;
        onProgress(report(s * 1024, null));
      }
      throw new Error('connection lost');
    }),
    /connection lost/,
  );
  assert.deepEqual(
    lines.map((l) => l.done_kb),
    [30 * 1024, 60 * 1024],
  );
  assert.equal(watch.status, null);
});

test('the member key carries clone_progress only while a clone task runs', () => {
  const config = {
    postgresql: { connect_address: { host: '10.0.0.2', port: 5432 } },
    restapi: { connect_address: { host: '10.0.0.2', port: 8008 } },
    citus: null,
    tags: {},
  } as unknown as Config;
  const clone: CloneStatus = { source: '10.0.0.1:5432', done_kb: 5, total_kb: 10, percent: 50 };
  const extras = { version: '0.1.0', paused: false, pendingRestart: false, cloneProgress: clone };
  const busy = buildMemberData(config, { kind: 'busy', task: 'clone', role: null } as never, false, extras);
  assert.equal(busy.state, 'creating replica');
  assert.deepEqual(busy.clone_progress, clone);
  const stopped = buildMemberData(config, { kind: 'noData' } as never, false, extras);
  assert.equal(stopped.clone_progress, undefined);
});
