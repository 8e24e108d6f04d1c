// PATCH/PUT /config's course against an in-memory `config` key: merge or replace, refusals before
// anything is written, the mod_revision compare, and the answers' codes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { updateConfig, type ConfigStore } from '../../../src/api/configUpdate.ts';
import type { PgSetting } from '../../../src/api/pgSettings.ts';
import type { JsonObject } from '../../../src/config/types.ts';
import type { Versioned } from '../../../src/dcs/types.ts';
import { MAX_CONNECTIONS, WORK_MEM } from './pgSettingsFixture.ts';

/** A `config` key in memory; `interfere` changes it between the read and the write. */
class MemoryKey implements ConfigStore {
  writes: Array<{ value: JsonObject; modRevision: string }> = [];
  interfere = false;

  constructor(
    public key: Versioned<JsonObject> | null,
    private readonly rows: PgSetting[] | null = [WORK_MEM, MAX_CONNECTIONS],
  ) {}

  async read(): Promise<Versioned<JsonObject> | null> {
    return this.key;
  }

  async write(value: JsonObject, modRevision: string): Promise<boolean> {
    if (this.interfere) this.key = { value: this.key?.value ?? {}, modRevision: '99' };
    if ((this.key?.modRevision ?? '0') !== modRevision) return false;
    this.writes.push({ value, modRevision });
    this.key = { value, modRevision: String(Number(modRevision) + 1) };
    return true;
  }

  async settings(): Promise<PgSetting[] | null> {
    return this.rows;
  }
}

const STORED: JsonObject = {
  ttl: 30,
  loop_wait: 10,
  retry_timeout: 10,
  postgresql: { parameters: { work_mem: '4MB' } },
};

test('PATCH merges over the key and writes it with its mod_revision; the answer is the new config', async () => {
  const key = new MemoryKey({ value: STORED, modRevision: '7' });
  const answer = await updateConfig(
    'patch',
    { pause: true, postgresql: { parameters: { max_connections: 200 } } },
    key,
  );
  const expected = { ...STORED, pause: true, postgresql: { parameters: { work_mem: '4MB', max_connections: 200 } } };
  assert.deepEqual(answer, {
    status: 200,
    config: expected,
    written: true,
    restart: ['max_connections'],
    warnings: [],
  });
  assert.deepEqual(key.writes, [{ value: expected, modRevision: '7' }]);
});

test('PUT replaces the key, creating it when absent', async () => {
  const key = new MemoryKey(null);
  const answer = await updateConfig('replace', STORED, key);
  assert.equal(answer.status, 200);
  assert.deepEqual(key.writes, [{ value: STORED, modRevision: '0' }]);
});

test('a request that changes nothing answers 200 without a write', async () => {
  const key = new MemoryKey({ value: STORED, modRevision: '7' });
  const answer = await updateConfig('patch', { ttl: 30 }, key);
  assert.deepEqual(answer, { status: 200, config: STORED, written: false, restart: [], warnings: [] });
  assert.deepEqual(key.writes, []);
});

test('invalid bodies and values answer 400 with the reason and write nothing', async () => {
  const key = new MemoryKey({ value: STORED, modRevision: '7' });
  assert.deepEqual(await updateConfig('patch', [1], key), {
    status: 400,
    message: 'the request body must be a JSON object',
  });
  assert.deepEqual(await updateConfig('patch', { postgresql: { parameters: { work_mem: '1kB' } } }, key), {
    status: 400,
    message:
      'invalid configuration: postgresql.parameters.work_mem: "1kB" (1 kB) is outside the range 64..2147483647 kB',
  });
  const timing = await updateConfig('replace', { ttl: 10 }, key);
  assert.equal(timing.status, 400);
  assert.deepEqual(key.writes, []);
});

test('without a running server only the dynamic rules are checked', async () => {
  const key = new MemoryKey({ value: STORED, modRevision: '7' }, null);
  const answer = await updateConfig('patch', { postgresql: { parameters: { work_mem: '1kB' } } }, key);
  assert.equal(answer.status, 200);
});

test('409 when the key changed after the read; 503 to patch a missing key or with etcd unreadable', async () => {
  const key = new MemoryKey({ value: STORED, modRevision: '7' });
  key.interfere = true;
  assert.deepEqual(await updateConfig('patch', { loop_wait: 5 }, key), {
    status: 409,
    message: 'the config key changed while the request was checked; try again',
  });
  assert.equal((await updateConfig('patch', { loop_wait: 5 }, new MemoryKey(null))).status, 503);
  const down: ConfigStore = {
    read: () => Promise.reject(new Error('etcd is down')),
    write: () => Promise.resolve(true),
    settings: () => Promise.resolve(null),
  };
  assert.deepEqual(await updateConfig('patch', { loop_wait: 5 }, down), {
    status: 503,
    message: 'cannot read the config key from etcd: etcd is down',
  });
});
