// POST/DELETE /restart, POST /reload and POST /reinitialize on a real three-member group, and the
// `shardherd restart/reload/reinit` commands: restarts keep the leader key and the timeline, a
// reload applies a changed parameter, a reinitialize re-clones a replica that then replicates.
// Every member has restapi.authentication and serves its API over TLS asking for client
// certificates (verify_client optional): operations carry both (the commands read them from their
// file), and one without either is refused.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import https from 'node:https';
import type { UserAuth } from '../../../src/config/types.ts';
import { basicAuthorization, getJson, httpRequest } from '../../../src/httpClient.ts';
import { installMemberTls, readTlsMaterial } from '../../../src/memberTls.ts';
import { certificates, readLeaderKey, tempDir, useHarness, waitFor, type TestMember } from '../../harness/index.ts';
import {
  createMarkerTable,
  finishGroup,
  insertMarker,
  primaryTimeline,
  recordLeaderKey,
  startGroup,
  waitForMarker,
  type RunningGroup,
} from './helpers.ts';

useHarness();

const TIMING = { ttl: 10, loopWait: 1, retryTimeout: 4 };
const API_AUTH = { username: 'operator', password: 'op-secret' };
const run = promisify(execFile);

let group: RunningGroup;
let leader: TestMember;
let replicaA: TestMember;
let replicaB: TestMember;
let ctlConfig: string;
/** The CA the members' certificates chain to. */
let ca: string;
let nextId = 1;

interface Answer {
  status: number;
  text: string;
}

/** A request with the test's client certificate and the members' credentials, or `auth` as given (null: none). */
async function call(
  member: TestMember,
  method: 'GET' | 'POST' | 'DELETE' | 'OPTIONS',
  path: string,
  body?: unknown,
  auth: UserAuth | null = API_AUTH,
): Promise<Answer> {
  const options = { method, json: body, timeoutMs: 120_000, ...(auth !== null && { auth }) };
  return httpRequest(`${member.apiUrl}${path}`, options);
}

async function startTime(member: TestMember): Promise<string> {
  const r = await member.query<{ t: string }>('select pg_postmaster_start_time()::text as t');
  return r.rows[0]!.t;
}

/** The member's key as GET /cluster shows it. */
async function memberEntry(member: TestMember): Promise<Record<string, unknown>> {
  const body = (await getJson(`${member.apiUrl}/cluster`, 3000)).body as { members: Array<Record<string, unknown>> };
  const entry = body.members.find((m) => m.name === member.name);
  assert.ok(entry, `${member.name} is listed in /cluster`);
  return entry;
}

async function shardherd(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args, '-c', ctlConfig],
      { timeout: 300_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** The part of a member's YAML file the tests edit. */
interface EditableConfig {
  postgresql: { parameters: Record<string, unknown> };
}

/** Changes the member's YAML file (as an operator would edit it). */
async function editConfig(member: TestMember, edit: (config: EditableConfig) => void): Promise<void> {
  const config = parse(await readFile(member.configPath, 'utf8')) as EditableConfig;
  edit(config);
  await writeFile(member.configPath, stringify(config, { version: '1.1' }));
}

async function writeAndSee(note: string, readers: TestMember[]): Promise<void> {
  const id = nextId++;
  await insertMarker(leader, id, note);
  for (const r of readers) await waitForMarker(r, id, note);
}

before(async () => {
  const files = await certificates();
  ca = files.ca;
  const tls = { certfile: files.serverCert, keyfile: files.serverKey, cafile: files.ca };
  // The test's own requests show the same certificate.
  await installMemberTls(readTlsMaterial({ ...tls, verify_client: 'optional' }), true);
  group = await startGroup({
    ...TIMING,
    restapiExtra: { ...tls, verify_client: 'optional', authentication: API_AUTH },
  });
  leader = group.leader;
  [replicaA, replicaB] = group.replicas as [TestMember, TestMember];
  await createMarkerTable(leader);
  ctlConfig = join(await tempDir('member-requests-ctl'), 'ctl.yml');
  await writeFile(
    ctlConfig,
    `scope: ${group.cluster.scope}\nnamespace: /service/\n` +
      `etcd3:\n  hosts: 127.0.0.1:${group.cluster.etcd.clientPort}\n` +
      `restapi:\n  authentication:\n    username: ${API_AUTH.username}\n    password: ${API_AUTH.password}\n` +
      `  certfile: ${tls.certfile}\n  keyfile: ${tls.keyfile}\n  cafile: ${tls.cafile}\n`,
  );
});

test('an operation without the credentials, or with wrong ones, is refused with 401; reads stay open', async () => {
  const bare = await call(replicaA, 'POST', '/reload', undefined, null);
  assert.deepEqual([bare.status, bare.text], [401, '{"error":"no auth header received"}']);
  const guessed = await call(replicaA, 'POST', '/restart', {}, { ...API_AUTH, password: 'guess' });
  assert.deepEqual([guessed.status, guessed.text], [401, '{"error":"not authenticated"}']);
  assert.equal((await call(replicaA, 'GET', '/patroni', undefined, null)).status, 200);
  assert.equal((await call(replicaA, 'OPTIONS', '/replica', undefined, null)).status, 200);
});

test('over TLS without a client certificate an operation is refused with 403; reads are served', async () => {
  assert.match(replicaA.apiUrl, /^https:/);
  const withoutCertificate = (method: string, path: string) =>
    new Promise<number>((resolve, reject) => {
      const req = https.request(`${replicaA.apiUrl}${path}`, {
        method,
        agent: new https.Agent({ ca: readFileSync(ca) }),
        headers: { authorization: basicAuthorization(API_AUTH) },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
  assert.equal(await withoutCertificate('POST', '/reload'), 403);
  assert.equal(await withoutCertificate('GET', '/patroni'), 200);
});

after(async () => {
  if (group) await finishGroup(group);
});

test('a restart whose role condition does not match is refused with 503 and why', async () => {
  const before = await startTime(leader);
  const r = await call(leader, 'POST', '/restart', { role: 'replica' });
  assert.equal(r.status, 503);
  assert.match(r.text, /role is primary, not replica/);
  assert.equal(await startTime(leader), before, 'nothing was restarted');
});

test('restart_pending without a pending setting is refused with 503', async () => {
  const r = await call(replicaA, 'POST', '/restart', { restart_pending: true });
  assert.deepEqual([r.status, r.text], [503, 'restart conditions are not satisfied: no setting is pending a restart']);
});

test('a schedule in the past is refused with 422, one without timezone with 400', async () => {
  const past = await call(replicaA, 'POST', '/restart', { schedule: '2020-01-01T00:00:00+00:00' });
  assert.equal(past.status, 422);
  assert.match(past.text, /^cannot schedule a restart in the past/);
  const naive = await call(replicaA, 'POST', '/restart', { schedule: '2099-01-01T00:00:00' });
  assert.equal(naive.status, 400);
  assert.match(naive.text, /needs a timezone/);
});

test('restarting a replica answers 200 once it accepts connections again, and it streams again', async () => {
  const before = await startTime(replicaA);
  const r = await call(replicaA, 'POST', '/restart', {});
  assert.deepEqual([r.status, r.text], [200, 'restarted successfully']);
  // The answer came after PostgreSQL was up: the first query succeeds.
  assert.notEqual(await startTime(replicaA), before, 'a new postmaster');
  await writeAndSee('after replica restart', [replicaA]);
});

test('restarting the primary keeps the leader key and the timeline, without a failover', async () => {
  const recorder = recordLeaderKey(group.cluster);
  const timeline = await primaryTimeline(leader);
  const before = await startTime(leader);
  const r = await call(leader, 'POST', '/restart', { role: 'primary' });
  assert.deepEqual([r.status, r.text], [200, 'restarted successfully']);
  assert.notEqual(await startTime(leader), before, 'a new postmaster');
  await insertMarker(leader, nextId++, 'written right after the restart answered');
  assert.equal(await primaryTimeline(leader), timeline, 'same timeline: no promotion happened');
  // A few loops later the key is still the leader's and was never anyone else's.
  await waitFor(async () => (await memberEntry(leader)).state === 'running', {
    timeout: 10_000,
    message: 'member key says running again',
  });
  const seen = await recorder.stop();
  assert.deepEqual(seen, [leader.name], 'the leader key named the leader throughout');
  assert.equal(await readLeaderKey(group.cluster.etcd, group.cluster.scope, null), leader.name);
  await writeAndSee('after primary restart', [replicaA, replicaB]);
});

test('a scheduled restart answers 202, shows in the member key, and happens at its time', async () => {
  const before = await startTime(replicaB);
  const at = new Date(Date.now() + 4000).toISOString();
  const r = await call(replicaB, 'POST', '/restart', { schedule: at });
  assert.equal(r.status, 202, r.text);
  await waitFor(
    async () => {
      const s = (await memberEntry(replicaB)).scheduled_restart as { schedule?: string } | undefined;
      return s?.schedule !== undefined;
    },
    { timeout: 10_000, message: 'scheduled_restart in the member key' },
  );
  await waitFor(async () => (await startTime(replicaB).catch(() => before)) !== before, {
    timeout: 30_000,
    interval: 200,
    message: 'the scheduled restart happened',
  });
  assert.ok(Date.now() >= Date.parse(at), 'not before its time');
  await waitFor(async () => (await memberEntry(replicaB)).scheduled_restart === undefined, {
    timeout: 10_000,
    message: 'scheduled_restart gone from the member key',
  });
  await writeAndSee('after scheduled restart', [replicaB]);
});

test('DELETE /restart cancels a scheduled restart; a second schedule meanwhile is refused with 409', async () => {
  const at = new Date(Date.now() + 3_600_000).toISOString();
  assert.equal((await call(replicaB, 'POST', '/restart', { schedule: at })).status, 202);
  const again = await call(replicaB, 'POST', '/restart', { schedule: at });
  assert.deepEqual([again.status, again.text], [409, 'another restart is already scheduled']);
  await waitFor(async () => (await memberEntry(replicaB)).scheduled_restart !== undefined, {
    timeout: 10_000,
    message: 'published',
  });
  assert.deepEqual(Object.values(await call(replicaB, 'DELETE', '/restart')), [200, 'scheduled restart deleted']);
  assert.deepEqual(Object.values(await call(replicaB, 'DELETE', '/restart')), [404, 'no restarts are scheduled']);
  await waitFor(async () => (await memberEntry(replicaB)).scheduled_restart === undefined, {
    timeout: 10_000,
    message: 'cancelled schedule gone from the member key',
  });
});

test('reload applies a parameter (202); one needing a restart is pending till restart_pending does it', async () => {
  await editConfig(replicaA, (c) => {
    c.postgresql.parameters.work_mem = '7MB';
    // Only a restart applies it (max_connections would not do: only the dynamic config sets it).
    c.postgresql.parameters.shared_buffers = '24MB';
  });
  const r = await call(replicaA, 'POST', '/reload');
  assert.equal(r.status, 202);
  assert.match(r.text, /^reload scheduled/);
  await waitFor(async () => (await replicaA.query<{ work_mem: string }>('show work_mem')).rows[0]?.work_mem === '7MB', {
    timeout: 15_000,
    message: 'work_mem is 7MB after the reload',
  });
  await waitFor(async () => (await replicaA.status())?.pending_restart === true, {
    timeout: 15_000,
    message: '/patroni shows pending_restart',
  });
  await waitFor(async () => (await memberEntry(replicaA)).pending_restart === true, {
    timeout: 15_000,
    message: 'member key shows pending_restart',
  });
  const restart = await call(replicaA, 'POST', '/restart', { restart_pending: true });
  assert.deepEqual([restart.status, restart.text], [200, 'restarted successfully']);
  assert.equal(
    (await replicaA.query<{ shared_buffers: string }>('show shared_buffers')).rows[0]?.shared_buffers,
    '24MB',
  );
  await waitFor(async () => (await replicaA.status())?.pending_restart === undefined, {
    timeout: 15_000,
    message: 'pending_restart cleared',
  });
});

test('reinitialize on the leader is refused with 503', async () => {
  const r = await call(leader, 'POST', '/reinitialize', {});
  assert.deepEqual([r.status, r.text], [503, 'I am the leader, can not reinitialize']);
});

test('reinitialize of a replica re-clones it: same system id, a later row replicates to it', async () => {
  const sysid = async (m: TestMember) =>
    (await m.query<{ id: string }>('select system_identifier::text as id from pg_control_system()')).rows[0]!.id;
  const before = await sysid(replicaB);
  // A file only the old data directory has: the clone must not carry it over.
  const marker = join(replicaB.dataDir, 'left-by-the-test');
  await writeFile(marker, 'x');
  const r = await call(replicaB, 'POST', '/reinitialize', { force: false });
  assert.deepEqual([r.status, r.text], [200, 'reinitialize started']);
  await waitFor(() => !existsSync(marker), { timeout: 30_000, message: 'the old data directory is gone' });
  await waitFor(async () => (await replicaB.status())?.replication_state === 'streaming', {
    timeout: 60_000,
    interval: 250,
    message: 'the re-cloned replica streams',
  });
  assert.equal(await sysid(replicaB), before);
  await writeAndSee('after reinitialize', [replicaB]);
});

test('shardherd restart, reload and reinit with --force print one line per member and exit 0', async (t) => {
  const restarted = await shardherd(['restart', replicaA.name, '--force']);
  assert.deepEqual(
    [restarted.code, restarted.stdout, restarted.stderr],
    [0, `Success: restart on member ${replicaA.name}\n`, ''],
  );
  const reloaded = await shardherd(['reload', '--force']);
  assert.equal(reloaded.code, 0, reloaded.stderr);
  assert.deepEqual(
    reloaded.stdout
      .trim()
      .split('\n')
      .map((l) => l.replace(/: reload scheduled.*$/, ''))
      .sort(),
    group.cluster.members.map((m) => `Success: reload on member ${m.name}`).sort(),
  );
  const reinit = await shardherd(['reinit', replicaA.name, '--force', '--wait']);
  assert.equal(reinit.code, 0, reinit.stderr);
  t.diagnostic(`reinit --wait printed:\n${reinit.stdout}`);
  const lines = reinit.stdout.trimEnd().split('\n');
  assert.deepEqual(lines.slice(0, 2), [
    `Success: reinitialize for member ${replicaA.name}`,
    `Waiting for reinitialize to complete on: ${replicaA.name}`,
  ]);
  assert.match(
    lines.at(-1)!,
    new RegExp(`^Reinitialize is completed on: ${replicaA.name} \\((stopped|starting|running)\\)$`),
  );
  for (const line of lines.slice(2, -1)) assert.match(line, new RegExp(`^  ${replicaA.name}: creating replica`));
  await waitFor(async () => (await replicaA.status())?.replication_state === 'streaming', {
    timeout: 60_000,
    interval: 250,
    message: 'the re-cloned replica streams',
  });
  await writeAndSee('after CLI reinit', [replicaA]);
});

test('reinit of the leader fails with its reason and exit 1; without --force on a pipe it refuses', async () => {
  const refused = await shardherd(['reinit', leader.name, '--force']);
  assert.deepEqual(
    [refused.code, refused.stdout],
    [1, `Failed: reinitialize for member ${leader.name}: 503 I am the leader, can not reinitialize\n`],
  );
  const unconfirmed = await shardherd(['restart', replicaA.name]);
  assert.equal(unconfirmed.code, 1);
  assert.match(unconfirmed.stderr, /stdin is not a terminal.*--force/);
  assert.equal(unconfirmed.stdout, '');
});
