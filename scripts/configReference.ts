// docs/configuration.md as `npm run docs` writes it: every section and key from the validation's
// own tables (src/config/keys.ts: implemented and not implemented keys; tags.ts; env.ts), each
// implemented key explained by src/config/reference.ts, and the defaults and required keys found
// by running the validation itself. A key that keys.ts implements and reference.ts does not
// explain (or the reverse) is an error, so the reference cannot fall behind the schema.
import { ENV_SETTINGS } from '../src/config/env.ts';
import { SECTIONS, TAG_DOCS, type SettingDoc } from '../src/config/reference.ts';
import { KNOWN_TAGS } from '../src/config/tags.ts';
import { validateConfig } from '../src/config/validate.ts';

type Raw = Record<string, unknown>;

/** A valid configuration naming only what is required, plus a pgbouncer section so that its defaults show. */
function baseConfig(): Raw {
  return {
    scope: 'demo',
    name: 'm1',
    restapi: { listen: '10.0.0.1:8008' },
    etcd3: { hosts: '10.0.0.5:2379' },
    citus: { group: 0, database: 'citus', pooler: '10.0.0.1:6432' },
    pgbouncer: {},
    postgresql: {
      listen: '10.0.0.1:5432',
      data_dir: '/var/lib/postgresql/data',
      authentication: { superuser: { password: 'secret' }, replication: { username: 'replicator' } },
    },
  };
}

function at(obj: unknown, path: string[]): unknown {
  let node = obj;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Raw)[key];
  }
  return node;
}

function without(raw: Raw, path: string[]): Raw {
  const copy = structuredClone(raw);
  const parent = at(copy, path.slice(0, -1));
  if (typeof parent === 'object' && parent !== null) delete (parent as Raw)[path[path.length - 1]!];
  return copy;
}

function show(value: unknown): string {
  if (value === undefined || value === null) return '—';
  if (Array.isArray(value)) return value.length === 0 ? 'none' : `\`${JSON.stringify(value)}\``;
  if (typeof value === 'object') {
    const v = value as Raw;
    if (typeof v.host === 'string' && typeof v.port === 'number') return `\`${v.host}:${v.port}\``;
    return Object.keys(v).length === 0 ? 'none' : `\`${JSON.stringify(v)}\``;
  }
  return `\`${String(value)}\``;
}

/** `required`, or the default the validation fills in, or the reference's own words for it. */
function defaultOf(path: string[], doc: SettingDoc): string {
  if (doc.default !== undefined) return doc.default;
  const nested = ['section', 'role', 'map'].includes(doc.type);
  const base = baseConfig();
  const dotted = path.join('.');
  if (at(base, path) !== undefined) {
    const result = validateConfig(without(base, path));
    const missing = result.problems.some((p) => p.path === dotted || p.path.startsWith(`${dotted}.`));
    if (missing) return 'required';
    return nested ? '—' : show(at(result.config, path));
  }
  if (nested) return '—';
  const { config, problems } = validateConfig(base);
  if (config === null) throw new Error(`the reference's base configuration is invalid: ${JSON.stringify(problems)}`);
  return show(at(config, path));
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function settingsTable(section: string, settings: Readonly<Record<string, SettingDoc>>): string[] {
  const lines = ['| key | value | default | meaning |', '| --- | --- | --- | --- |'];
  for (const [key, doc] of Object.entries(settings)) {
    const path = section === '' ? [key] : [...section.split('.'), key];
    lines.push(`| \`${key}\` | ${cell(doc.type)} | ${cell(defaultOf(path, doc))} | ${cell(doc.text)} |`);
  }
  return lines;
}

function notImplemented(hints: Readonly<Record<string, string>> | undefined): string[] {
  const entries = Object.entries(hints ?? {});
  if (entries.length === 0) return [];
  const items = entries.map(([key, hint]) => `\`${key}\`${hint ? ` (${hint})` : ''}`);
  return ['', `Patroni's keys not implemented yet (each is warned about once and ignored): ${items.join(', ')}.`];
}

/** Every implemented key explained and nothing else: the reference and the schema agree. */
function checkCoverage(): void {
  const problems: string[] = [];
  for (const section of SECTIONS) {
    const name = section.path || 'the top level';
    for (const key of section.keys.implemented) {
      if (!Object.hasOwn(section.settings, key)) problems.push(`${name}: ${key} is implemented but not explained`);
    }
    for (const key of Object.keys(section.settings)) {
      if (!section.keys.implemented.includes(key)) problems.push(`${name}: ${key} is explained but not implemented`);
    }
  }
  for (const tag of KNOWN_TAGS) if (!Object.hasOwn(TAG_DOCS, tag)) problems.push(`tags: ${tag} is not explained`);
  if (problems.length > 0) {
    throw new Error(`src/config/reference.ts does not match src/config/keys.ts:\n${problems.join('\n')}`);
  }
}

const INTRO = [
  '# Configuration reference',
  '',
  '<!-- Written by `npm run docs` from src/config/ (the key tables of keys.ts, reference.ts, tags.ts, env.ts',
  '     and the defaults the validation fills in); a test fails when this file differs. Do not edit. -->',
  '',
  "A member's configuration is Patroni's YAML: a Patroni member configuration starts a Shardherd agent as it",
  'is. `shardherd agent -c PATH` and `shardherd validate-config PATH` read one file, or every `*.yml`/`*.yaml`',
  'of a directory merged in name order (maps merge, later files win), then the environment variables below.',
  'Keys Shardherd does not implement yet are warned about once each and ignored; an unknown key is warned',
  'about with the closest known one; wrong types and values are errors naming their path, all reported at',
  'once. YAML 1.1 is read as Patroni reads it: `on`, `yes` and `off` are booleans, so quote such strings.',
  '',
  "Dynamic settings (`bootstrap.dcs`) seed the group's `config` key in etcd when the group is created;",
  'afterwards the key rules, and `shardherd edit-config` (or `PATCH /config`) changes it for every member.',
  'See [concepts](concepts.md) for groups, leaders and pause.',
];

export function configurationReference(): string {
  checkCoverage();
  const out = [...INTRO];
  for (const section of SECTIONS) {
    out.push('', `## ${section.path === '' ? 'Top level' : `\`${section.path}\``}`, '', section.intro, '');
    out.push(...settingsTable(section.path, section.settings));
    out.push(...notImplemented(section.keys.notImplemented));
  }
  out.push('', '## `tags`', '');
  out.push("Patroni's tags, published in the member key and `GET /patroni` (flags only while true); any other key is");
  out.push('published as a custom tag, and `GET /replica?tag_key=value` filters on them.', '');
  out.push(...settingsTable('tags', TAG_DOCS));
  out.push('', '## Environment variables', '');
  out.push("Each overrides one setting of the files. Patroni's `PATRONI_` spelling works too; `SHARDHERD_` wins when");
  out.push("both are set; an empty variable counts as unset. A bad value is reported under the variable's name.");
  out.push("`SHARDHERD_CONFIG` names the configuration for `shardherd agent` and the other commands' `-c`.", '');
  out.push('| variable | sets |', '| --- | --- |');
  for (const [suffix, path] of Object.entries(ENV_SETTINGS)) {
    const list = suffix === 'ETCD3_HOSTS' ? ' (`a:1,b:2` or a YAML list)' : '';
    out.push(`| \`SHARDHERD_${suffix}\` | \`${path}\`${list} |`);
  }
  return `${out.join('\n')}\n`;
}
