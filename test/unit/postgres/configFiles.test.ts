// Writing the managed files into a data directory keeps the user's originals.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writeManagedConfig, type ManagedFiles } from '../../../src/postgres/configFiles.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pgconf-'));
  dirs.push(d);
  writeFileSync(join(d, 'postgresql.conf'), "shared_buffers = '64MB'\n");
  writeFileSync(join(d, 'pg_hba.conf'), 'local all all peer\n');
  return d;
}

const files: ManagedFiles = {
  listen: { hosts: ['127.0.0.1'], port: 5432 },
  parameters: {},
  useRewind: false,
  standby: null,
  hba: ['local all all trust'],
};
const read = (d: string, f: string): string => readFileSync(join(d, f), 'utf8');

test("the user's postgresql.conf becomes postgresql.base.conf and is included", async () => {
  const d = dataDir();
  await writeManagedConfig(d, files);
  assert.equal(read(d, 'postgresql.base.conf'), "shared_buffers = '64MB'\n");
  assert.match(read(d, 'postgresql.conf'), /^# Managed by Shardherd.*\ninclude 'postgresql.base.conf'\n/);
  assert.equal(statSync(join(d, 'postgresql.conf')).mode & 0o777, 0o600);
});

test('rendering again keeps the base file and reports no change', async () => {
  const d = dataDir();
  await writeManagedConfig(d, files);
  assert.deepEqual(await writeManagedConfig(d, files), { changed: false });
  assert.equal(read(d, 'postgresql.base.conf'), "shared_buffers = '64MB'\n");
});

test('a changed upstream is reported as a change', async () => {
  const d = dataDir();
  const standby = { upstream: { host: 'a', port: 1 }, user: 'r', memberName: 'm', passfile: '/p', slotName: null };
  await writeManagedConfig(d, { ...files, standby });
  const again = await writeManagedConfig(d, { ...files, standby: { ...standby, upstream: { host: 'b', port: 1 } } });
  assert.equal(again.changed, true);
  assert.match(read(d, 'postgresql.conf'), /primary_conninfo = 'host=b /);
});

test('pg_hba.conf is rendered and the original kept as pg_hba.base.conf', async () => {
  const d = dataDir();
  await writeManagedConfig(d, files);
  assert.equal(read(d, 'pg_hba.base.conf'), 'local all all peer\n');
  assert.match(read(d, 'pg_hba.conf'), /\nlocal all all trust\n$/);
});

test('pg_hba.conf is left alone when no lines are configured', async () => {
  const d = dataDir();
  await writeManagedConfig(d, { ...files, hba: null });
  assert.equal(read(d, 'pg_hba.conf'), 'local all all peer\n');
  assert.equal(existsSync(join(d, 'pg_hba.base.conf')), false);
});

test('standby.signal exists exactly while the member is a standby', async () => {
  const d = dataDir();
  const standby = { upstream: null, user: 'r', memberName: 'm', passfile: '/p', slotName: null };
  await writeManagedConfig(d, { ...files, standby });
  assert.equal(existsSync(join(d, 'standby.signal')), true);
  await writeManagedConfig(d, files);
  assert.equal(existsSync(join(d, 'standby.signal')), false);
});

test('a managed postgresql.conf copied from another member is replaced, not kept as base', async () => {
  const source = dataDir();
  await writeManagedConfig(source, files);
  const clone = mkdtempSync(join(tmpdir(), 'pgconf-'));
  dirs.push(clone);
  for (const f of ['postgresql.conf', 'postgresql.base.conf']) writeFileSync(join(clone, f), read(source, f));
  await writeManagedConfig(clone, { ...files, listen: { hosts: ['127.0.0.1'], port: 6000 } });
  assert.equal(read(clone, 'postgresql.base.conf'), "shared_buffers = '64MB'\n");
  assert.match(read(clone, 'postgresql.conf'), /port = '6000'/);
});
