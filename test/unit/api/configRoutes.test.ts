// PATCH/PUT /config and GET /pg_settings over fastify's inject, against a fake of the agent's side:
// bodies as patronictl sends them (JSON without a content type), answers and codes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { registerConfigRoutes, type ConfigControl } from '../../../src/api/configRoutes.ts';
import type { ConfigUpdateAnswer, ConfigUpdateKind } from '../../../src/api/configUpdate.ts';
import type { PgSetting } from '../../../src/api/pgSettings.ts';
import { WORK_MEM } from './pgSettingsFixture.ts';

interface Call {
  kind: ConfigUpdateKind;
  body: unknown;
}

function fakeControl(answer: ConfigUpdateAnswer, settings: PgSetting[] | null, calls: Call[]): ConfigControl {
  return {
    updateConfig: (kind, body) => {
      calls.push({ kind, body });
      return Promise.resolve(answer);
    },
    pgSettings: () => Promise.resolve(settings),
  };
}

async function inject(
  control: ConfigControl,
  method: 'PATCH' | 'PUT' | 'GET',
  url: string,
  payload?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; type: string }> {
  const app = Fastify({ logger: false });
  registerConfigRoutes(app, control);
  try {
    const res = await app.inject({ method, url, payload, headers });
    return { status: res.statusCode, body: res.body, type: String(res.headers['content-type'] ?? '') };
  } finally {
    await app.close();
  }
}

const OK: ConfigUpdateAnswer = {
  status: 200,
  config: { ttl: 30, pause: true },
  written: true,
  restart: [],
  warnings: [],
};

test('PATCH /config without a content type (patronictl pause) reaches the control as a merge', async () => {
  const calls: Call[] = [];
  const res = await inject(fakeControl(OK, null, calls), 'PATCH', '/config', '{"pause": true}');
  assert.equal(res.status, 200);
  assert.match(res.type, /^application\/json/);
  assert.deepEqual(JSON.parse(res.body), { ttl: 30, pause: true });
  assert.deepEqual(calls, [{ kind: 'patch', body: { pause: true } }]);
});

test('PUT /config with a JSON content type is a replace', async () => {
  const calls: Call[] = [];
  const headers = { 'content-type': 'application/json' };
  const res = await inject(fakeControl(OK, null, calls), 'PUT', '/config', '{"ttl": 30}', headers);
  assert.equal(res.status, 200);
  assert.deepEqual(calls, [{ kind: 'replace', body: { ttl: 30 } }]);
});

test('a refusal answers its code with the reason as text; a body that is not JSON is 400', async () => {
  const refused: ConfigUpdateAnswer = { status: 400, message: 'invalid configuration: ttl: must be at least 1, got 0' };
  const calls: Call[] = [];
  const res = await inject(fakeControl(refused, null, calls), 'PATCH', '/config', '{"ttl": 0}');
  assert.deepEqual([res.status, res.body], [400, refused.message]);
  assert.match(res.type, /^text\/plain/);
  const broken = await inject(fakeControl(OK, null, calls), 'PATCH', '/config', '{"ttl":');
  assert.equal(broken.status, 400);
  assert.match(broken.body, /not valid JSON/);
  assert.equal(calls.length, 1, 'the broken body never reached the control');
});

test('GET /pg_settings answers the rows, or 503 while PostgreSQL does not run', async () => {
  const res = await inject(fakeControl(OK, [WORK_MEM], []), 'GET', '/pg_settings');
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(res.body), [WORK_MEM]);
  const down = await inject(fakeControl(OK, null, []), 'GET', '/pg_settings');
  assert.deepEqual([down.status, down.body], [503, 'PostgreSQL is not running here']);
});
