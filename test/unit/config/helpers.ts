// Helpers for configuration tests: a minimal valid member config and temporary YAML files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import YAML from 'yaml';

/** The smallest configuration that loads: every other setting takes its default. */
export function minimalConfig(): Record<string, unknown> {
  return {
    scope: 'demo',
    name: 'node1',
    restapi: { listen: '10.0.0.5:8008' },
    etcd3: { hosts: ['10.0.0.1:2379'] },
    postgresql: {
      listen: '10.0.0.5:5432',
      data_dir: '/var/lib/postgresql/data',
      authentication: { replication: { username: 'replicator' } },
    },
  };
}

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shardherd-config-test-'));
  dirs.push(dir);
  return dir;
}

/** Writes files (name -> YAML text or object) into a fresh directory; returns the directory. */
export function writeFiles(files: Record<string, string | object>): string {
  const dir = tempDir();
  for (const [name, content] of Object.entries(files)) {
    fs.writeFileSync(path.join(dir, name), typeof content === 'string' ? content : YAML.stringify(content));
  }
  return dir;
}

export function writeConfig(content: string | object): string {
  return path.join(writeFiles({ 'config.yml': content }), 'config.yml');
}

/** A deep copy of `base` with `value` set at the dotted `at` (undefined deletes it). */
export function withSetting(base: Record<string, unknown>, at: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(base);
  const keys = at.split('.');
  let node = copy;
  for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
  const last = keys[keys.length - 1];
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}
