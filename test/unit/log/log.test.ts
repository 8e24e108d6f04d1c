// The agent's logger: the stable fields on every line (an event's own group or member replaces the
// agent's, never doubling a key), and the log file under log.dir rotated as Patroni's is.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createLogger, LOG_FILE_NAME } from '../../../src/log.ts';
import { RotatingFile } from '../../../src/logFile.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shardherd-log-test-'));
  dirs.push(dir);
  return dir;
}

const lines = (path: string): string[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '');

test('every line has scope, group, member and role; an event about another group names that one', () => {
  const dir = tempDir();
  const agent: { role?: string } = {};
  const log = createLogger({
    level: 'info',
    identity: { scope: 'demo', group: 0, member: 'coord-a' },
    role: () => agent.role,
    file: { dir, fileSize: 1_000_000, fileNum: 2 },
  });
  log.info('starting');
  agent.role = 'primary';
  log.info({ action: 'promote', reason: 'no leader', duration_ms: 12 }, 'promoted');
  log.child({ component: 'citus-pause' }).warn({ action: 'pause-open', group: 1, member: 'w1-a' }, 'pausing');
  log.debug('not written at info');
  const written = lines(join(dir, LOG_FILE_NAME));
  assert.equal(written.length, 3);
  const [first, second, third] = written.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    { scope: first!.scope, group: first!.group, member: first!.member, hasRole: 'role' in first! },
    { scope: 'demo', group: 0, member: 'coord-a', hasRole: false },
  );
  assert.deepEqual(
    [second!.role, second!.action, second!.reason, second!.duration_ms, second!.msg],
    ['primary', 'promote', 'no leader', 12, 'promoted'],
  );
  assert.deepEqual([third!.group, third!.member, third!.component, third!.role], [1, 'w1-a', 'citus-pause', 'primary']);
  for (const line of written) {
    assert.equal(line.match(/"group":/g)?.length, 1, `one group field in ${line}`);
    assert.equal(line.match(/"member":/g)?.length, 1, `one member field in ${line}`);
  }
});

test('the file rotates by size into .1 .. .file_num, the oldest dropped', () => {
  const dir = tempDir();
  const path = join(dir, 'sub', 'x.log');
  const file = new RotatingFile({ path, maxBytes: 20, keep: 2 });
  for (const n of [1, 2, 3, 4, 5]) file.write(`line ${n} 123456789\n`); // 17 bytes each: one line per file
  file.close();
  assert.deepEqual(lines(path), ['line 5 123456789']);
  assert.deepEqual(lines(`${path}.1`), ['line 4 123456789']);
  assert.deepEqual(lines(`${path}.2`), ['line 3 123456789']);
  assert.equal(existsSync(`${path}.3`), false);

  // A file that is already there is appended to, and its size counts.
  const again = new RotatingFile({ path, maxBytes: 40, keep: 2 });
  again.write('line 6 123456789\n');
  again.write('line 7 123456789\n');
  again.close();
  assert.deepEqual(lines(path), ['line 7 123456789']);
  assert.deepEqual(lines(`${path}.1`), ['line 5 123456789', 'line 6 123456789']);
});

test('file_num 0 starts the one file over', () => {
  const path = join(tempDir(), 'x.log');
  const file = new RotatingFile({ path, maxBytes: 20, keep: 0 });
  for (const n of [1, 2, 3]) file.write(`line ${n} 123456789\n`);
  file.close();
  assert.deepEqual(lines(path), ['line 3 123456789']);
  assert.equal(existsSync(`${path}.1`), false);
});

test('a write that fails does not throw into the caller', (t) => {
  const path = join(tempDir(), 'x.log');
  const file = new RotatingFile({ path, maxBytes: 100, keep: 1 });
  file.close();
  rmSync(path);
  // Closed and its directory gone: the next write reopens, fails, and reports on stderr only.
  rmSync(join(path, '..'), { recursive: true });
  const stderr = t.mock.method(process.stderr, 'write', () => true);
  assert.equal(file.write('lost\n'), true);
  assert.equal(file.write('lost again\n'), true);
  assert.equal(stderr.mock.callCount(), 1);
});
