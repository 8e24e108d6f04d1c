// The deployment files as shipped: docker-compose.yml is valid Compose (Debian's docker-compose,
// which .ci/run installs, checks it without a Docker engine), every Shardherd configuration it
// mounts passes `shardherd validate-config` with the environment the compose file gives that
// member, HAProxy checks the coordinator members' REST API, and the example configurations
// (groups/, which the demo runs, and deploy/) pass validate-config too.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { inspectConfig } from '../../../src/config/load.ts';
import { runCommand, type CommandRun } from '../../harness/index.ts';

const REPO = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
/** Where the image looks for its configuration (the Dockerfile's SHARDHERD_CONFIG). */
const CONFIG_DIR = '/etc/shardherd/';

/** Only PATH and HOME from this process: the checks must not depend on who runs them. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CommandRun> {
  return runCommand(cmd, args, {
    onlyEnv: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    timeoutMs: 60_000,
  });
}

function validateCommand(file: string, env: NodeJS.ProcessEnv = {}): Promise<CommandRun> {
  return run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'validate-config', file], env);
}

/** What `shardherd validate-config` finds (its own function, without a process per file). */
function validate(file: string, env: NodeJS.ProcessEnv = {}): { problems: string[]; warnings: string[] } {
  const report = inspectConfig(resolve(REPO, file), env);
  return { problems: report.problems.map((p) => `${p.path}: ${p.message}`), warnings: report.warnings };
}

interface ComposeService {
  image?: string;
  environment?: Record<string, string | number | null>;
  volumes?: Array<string | { type?: string; source?: string; target?: string }>;
  healthcheck?: { test?: unknown };
  restart?: string;
}

let resolved: Promise<CommandRun> | undefined;

/** The compose file as docker-compose resolves it (anchors merged, host paths absolute). */
async function resolvedCompose(): Promise<Record<string, ComposeService>> {
  resolved ??= run('docker-compose', ['-f', 'docker-compose.yml', 'config']);
  const r = await resolved;
  assert.equal(r.code, 0, `docker-compose config failed (is Debian's docker-compose installed?): ${r.stderr}`);
  return (YAML.parse(r.stdout) as { services: Record<string, ComposeService> }).services;
}

/** [host path, container path] of every bind mount. */
function mounts(service: ComposeService): Array<[string, string]> {
  return (service.volumes ?? []).flatMap((v): Array<[string, string]> => {
    if (typeof v === 'string') {
      const [source, target] = v.split(':');
      return source?.startsWith('/') && target !== undefined ? [[source, target]] : [];
    }
    return v.type === 'bind' && v.source && v.target ? [[v.source, v.target]] : [];
  });
}

test('docker-compose.yml is valid Compose: docker-compose config -q', async () => {
  const r = await run('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q']);
  assert.equal(r.code, 0, `docker-compose -f docker-compose.yml config -q: ${r.stderr}`);
  assert.equal(r.stdout, '');
});

test('the cluster: 3 etcd, 3 groups of 2 members, HAProxy; health checks and restart policies everywhere', async () => {
  const services = await resolvedCompose();
  const names = Object.keys(services).sort();
  assert.deepEqual(names, [
    'coord1',
    'coord2',
    'etcd1',
    'etcd2',
    'etcd3',
    'haproxy',
    'worker1a',
    'worker1b',
    'worker2a',
    'worker2b',
  ]);
  for (const [name, service] of Object.entries(services)) {
    assert.ok(service.healthcheck?.test, `${name} has no health check`);
    assert.equal(service.restart, 'unless-stopped', `${name} restarts`);
  }
  const groups = Object.values(services)
    .map((s) => s.environment?.SHARDHERD_CITUS_GROUP)
    .filter((g) => g !== undefined)
    .map(String)
    .sort();
  assert.deepEqual(groups, ['0', '0', '1', '1', '2', '2']);
});

test('each Shardherd configuration the compose file mounts passes validate-config as its member sees it', async () => {
  const services = await resolvedCompose();
  const checked: string[] = [];
  let first: [string, NodeJS.ProcessEnv] | undefined;
  for (const [name, service] of Object.entries(services)) {
    for (const [source, target] of mounts(service)) {
      if (!target.startsWith(CONFIG_DIR)) continue;
      const env = Object.fromEntries(
        Object.entries(service.environment ?? {})
          .filter(([key]) => key.startsWith('SHARDHERD_'))
          .map(([key, value]) => [key, String(value ?? '')]),
      );
      const { problems, warnings } = validate(source, env);
      assert.deepEqual(problems, [], `${name}: ${source}`);
      assert.deepEqual(warnings, [], `${name}: ${source}`);
      checked.push(name);
      first ??= [source, env];
    }
  }
  assert.deepEqual(checked.sort(), ['coord1', 'coord2', 'worker1a', 'worker1b', 'worker2a', 'worker2b']);
  // And the command itself, for one of them.
  const r = await validateCommand(first![0], first![1]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${first![0]}: configuration is valid\n`);
});

test("HAProxy sends 5000 to the coordinator's primary and 5001 to its replicas by their REST checks", async () => {
  const services = await resolvedCompose();
  const [[cfgPath]] = mounts(services.haproxy!).filter(([, target]) => target.endsWith('haproxy.cfg'));
  const cfg = readFileSync(cfgPath!, 'utf8');
  const block = (name: string): string => cfg.split(/^listen /m).find((b) => b.startsWith(name)) ?? '';
  for (const [name, port, check] of [
    ['coordinator_primary', 5000, '/primary'],
    ['coordinator_replicas', 5001, '/replica'],
  ] as const) {
    const text = block(name);
    assert.match(text, new RegExp(`bind \\*:${port}\\b`), name);
    assert.match(text, new RegExp(`option httpchk OPTIONS ${check}\\n`), name);
    const servers = [...text.matchAll(/^\s*server (\S+) (\S+):5432 .*check port 8008/gm)].map((m) => [m[1], m[2]]);
    assert.deepEqual(servers, [
      ['coord1', 'coord1'],
      ['coord2', 'coord2'],
    ]);
  }
});

test('the example configurations pass validate-config: groups/ (the demo runs them all) and deploy/', () => {
  const groupFiles = readdirSync(join(REPO, 'groups')).filter((f) => f.endsWith('.yml'));
  const demo = readFileSync(join(REPO, 'scripts/demo.ts'), 'utf8');
  const members = /const MEMBERS = \[([^\]]*)\]/
    .exec(demo)?.[1]
    ?.match(/'[^']+'/g)
    ?.map((m) => m.slice(1, -1));
  assert.deepEqual(
    members?.sort(),
    groupFiles.map((f) => f.slice(0, -'.yml'.length)).sort(),
    'the demo starts groups/',
  );
  for (const file of [...groupFiles.map((f) => `groups/${f}`), 'deploy/systemd/shardherd.yml']) {
    const { problems, warnings } = validate(file);
    assert.deepEqual([...problems, ...warnings], [], file);
  }
});
