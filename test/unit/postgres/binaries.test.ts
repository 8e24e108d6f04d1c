// Finding the PostgreSQL programs: configured dir, PATH, newest versioned dir.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { newestVersionDir, resolveBinaries } from '../../../src/postgres/binaries.ts';

const root = mkdtempSync(join(tmpdir(), 'pgbin-'));
after(() => rmSync(root, { recursive: true, force: true }));

function fakeBinDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const p of ['postgres', 'initdb', 'pg_ctl', 'pg_controldata']) {
    writeFileSync(join(dir, p), '#!/bin/sh\n');
    chmodSync(join(dir, p), 0o755);
  }
  return dir;
}

const versions = join(root, 'lib');
fakeBinDir(join(versions, '9.6', 'bin'));
fakeBinDir(join(versions, '13', 'bin'));
fakeBinDir(join(versions, '15', 'bin'));
mkdirSync(join(versions, '17', 'bin'), { recursive: true }); // no programs: not a candidate
const onPath = fakeBinDir(join(root, 'path-bin'));
const empty = join(root, 'empty');
mkdirSync(empty);

test('the newest version directory wins by number, not by text', () => {
  assert.equal(newestVersionDir(['9.6', '15', '13', 'common']), '15');
  assert.equal(newestVersionDir(['9.6', '9.4']), '9.6');
  assert.equal(newestVersionDir(['common']), null);
});

test('a configured bin_dir is used as it is', () => {
  assert.equal(resolveBinaries(onPath, { pathEnv: '', versionsRoot: versions }).dir, onPath);
});

test('a configured bin_dir without the server programs is an error naming bin_dir', () => {
  assert.throws(() => resolveBinaries(empty), /^PostgresError: bin_dir: .* does not contain postgres/);
});

test('without bin_dir, a PATH entry holding the server programs is used', () => {
  const bin = resolveBinaries('', { pathEnv: `${empty}:${onPath}`, versionsRoot: versions });
  assert.equal(bin.path('pg_rewind'), join(onPath, 'pg_rewind'));
});

test('without bin_dir or PATH, the newest complete versioned directory is used', () => {
  assert.equal(resolveBinaries('', { pathEnv: empty, versionsRoot: versions }).dir, join(versions, '15', 'bin'));
});

test('nothing found is an error that says where it looked', () => {
  assert.throws(() => resolveBinaries('', { pathEnv: empty, versionsRoot: empty }), /set postgresql.bin_dir/);
});
