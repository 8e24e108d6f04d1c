// docs/cli.md as `npm run docs` writes it: the `--help` of `shardherd` and of every command it
// lists, so that a command added to src/cli/ appears here at the next `npm run docs`, each with
// its section of scripts/cliDetails.md (what it does beyond its help) when there is one.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));

function help(args: string[]): string {
  // Defaults read from the environment would show in the help: leave them out.
  const env = { ...process.env };
  delete env.SHARDHERD_CONFIG;
  delete env.PATRONICTL_CONFIG_FILE;
  // Without a terminal commander wraps at 80 columns.
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: REPO,
    encoding: 'utf8',
    env,
  });
  if (run.status !== 0) throw new Error(`shardherd ${args.join(' ')} exited ${run.status}: ${run.stderr}`);
  return run.stdout.trimEnd();
}

/** scripts/cliDetails.md: a paragraph or more per command, under `## <command>`. */
function commandDetails(): Map<string, string> {
  const text = readFileSync(new URL('cliDetails.md', import.meta.url), 'utf8');
  const details = new Map<string, string>();
  for (const part of text.split(/^## /m).slice(1)) {
    const [name, ...body] = part.split('\n');
    details.set(name!.trim(), body.join('\n').trim());
  }
  return details;
}

/** The command names of the top-level help's "Commands:" list, `help` left out. */
function commandNames(top: string): string[] {
  const section = top.split(/^Commands:$/m)[1] ?? '';
  const names = [...section.matchAll(/^ {2}([a-z][a-z-]*)\b/gm)].map((m) => m[1]!);
  return names.filter((name) => name !== 'help');
}

export function cliReference(): string {
  const top = help(['--help']);
  const out = [
    '# Command-line reference',
    '',
    "<!-- Written by `npm run docs` from the commands' own --help; do not edit. -->",
    '',
    '`shardherd` is one program: `shardherd agent` runs beside every PostgreSQL node, the other commands',
    "operate a running cluster through etcd and the members' REST APIs (as `patronictl` does) and run",
    'anywhere that reaches them. Most take `-c FILE`: a configuration naming at least `scope`, `etcd3` and',
    "`citus` (a member's own file will do), defaulting to `$SHARDHERD_CONFIG`, then `$PATRONICTL_CONFIG_FILE`.",
    'Every command that changes something shows what it will do and asks y/N unless `--force` is given;',
    'without a terminal and without `--force` it refuses. `pause` and `resume` act at once, as',
    "patronictl's do; `remove` asks for typed answers instead, read from a terminal or a pipe. Errors",
    'are one line on stderr, exit code 1.',
    '',
    '```text',
    top,
    '```',
  ];
  const details = commandDetails();
  for (const name of commandNames(top)) {
    out.push('', `## \`shardherd ${name}\``, '');
    const detail = details.get(name);
    if (detail !== undefined) out.push(detail, '');
    out.push('```text', help([name, '--help']), '```');
  }
  return `${out.join('\n')}\n`;
}
