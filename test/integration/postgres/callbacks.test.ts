// The callback runner with real processes: the command gets its event, role and scope; a
// callback still running when the next comes is killed with its children, except that on_reload
// callbacks have their own slot; a program that cannot start or fails is logged, never thrown.
// The fencing command (pre_promote): its exit status decides, and one that hangs is killed.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Config } from '../../../src/config/types.ts';
import { CallbackRunner, runFencing } from '../../../src/postgres/callbacks.ts';
import { tempDir, useHarness, waitFor } from '../../harness/index.ts';
import { isAlive } from '../../harness/procfs.ts';
import { recordingLogger, type LogLine } from '../../unit/ha/fakes/log.ts';

useHarness();

/**
 * A callback script, run as `callback.sh <dir> 'two words' <event> <role> <scope>`: it writes its
 * arguments to `<dir>/args.<event>`; on_start also leaves a child sleeping and waits for it;
 * on_stop exits 3.
 */
const SCRIPT = `#!/bin/sh
dir=$1 event=$3
printf '%s|' "$@" > "$dir/args.$event.tmp" && mv "$dir/args.$event.tmp" "$dir/args.$event"
case $event in
  on_start) sleep 60 & echo "$$ $!" > "$dir/pids.tmp"; mv "$dir/pids.tmp" "$dir/pids"; wait ;;
  on_stop) exit 3 ;;
esac
`;

async function setup(): Promise<{ dir: string; runner: CallbackRunner; lines: LogLine[]; config: Config }> {
  const dir = await tempDir('callbacks');
  const script = join(dir, 'callback.sh');
  await writeFile(script, SCRIPT, { mode: 0o755 });
  const command = [script, dir, 'two words'];
  const config = {
    scope: 'demo',
    postgresql: { callbacks: { on_start: command, on_stop: command, on_reload: command, on_role_change: command } },
  } as unknown as Config;
  const lines: LogLine[] = [];
  return {
    dir,
    runner: new CallbackRunner(
      config,
      recordingLogger((l) => lines.push(l)),
    ),
    lines,
    config,
  };
}

const argsOf = (dir: string, event: string) =>
  waitFor(() => readFile(join(dir, `args.${event}`), 'utf8'), { timeout: 10_000, message: `${event} ran` });

/** The pids of the on_start callback's shell and of the child it left sleeping. */
async function startPids(dir: string): Promise<number[]> {
  const text = await waitFor(() => readFile(join(dir, 'pids'), 'utf8'), { timeout: 10_000, message: 'pids' });
  return text.trim().split(' ').map(Number);
}

test('a callback gets its own arguments, then the event, the role and the scope', async () => {
  const { dir, runner, lines } = await setup();
  runner.fire('on_role_change', 'primary');
  assert.equal(await argsOf(dir, 'on_role_change'), `${dir}|two words|on_role_change|primary|demo|`);
  await waitFor(() => lines.some((l) => l.msg === 'callback finished' && l.fields.action === 'on_role_change'), {
    timeout: 10_000,
    message: 'its exit logged',
  });
});

test('the next event kills a callback still running, with its children; on_reload does not', async () => {
  const { dir, runner, lines } = await setup();
  runner.fire('on_start', 'replica');
  const [shell, child] = await startPids(dir);
  runner.fire('on_reload', 'replica');
  await argsOf(dir, 'on_reload');
  assert.ok(isAlive(shell!) && isAlive(child!), 'on_start runs on beside on_reload');

  runner.fire('on_stop', 'replica');
  await waitFor(() => !isAlive(shell!) && !isAlive(child!), {
    timeout: 10_000,
    message: 'on_start and its child killed',
  });
  assert.equal(await argsOf(dir, 'on_stop'), `${dir}|two words|on_stop|replica|demo|`);
  await waitFor(() => lines.some((l) => l.msg === 'callback exited with 3' && l.fields.action === 'on_stop'), {
    timeout: 10_000,
    message: "on_stop's exit status logged",
  });
  assert.ok(lines.some((l) => l.msg === 'killing a callback still running' && l.fields.pid === shell));
});

test('a program that cannot be started is logged; the live configuration is read at each event', async () => {
  const { dir, runner, lines, config } = await setup();
  config.postgresql.callbacks.on_start = [join(dir, 'missing.sh')];
  delete config.postgresql.callbacks.on_reload;
  assert.doesNotThrow(() => runner.fire('on_start', 'primary'));
  runner.fire('on_reload', 'primary');
  await waitFor(() => lines.find((l) => l.msg === 'callback could not be started'), {
    timeout: 10_000,
    message: 'the failure logged',
  });
  runner.fire('on_role_change', 'replica');
  await argsOf(dir, 'on_role_change');
  await assert.rejects(readFile(join(dir, 'args.on_reload')), 'on_reload was no longer configured');
});

test('pre_promote: exit status 0 allows; another status, a missing program or a hang refuses', async () => {
  const { dir } = await setup();
  const script = join(dir, 'callback.sh');
  assert.deepEqual(await runFencing(['/bin/sh', '-c', 'exit 0'], 10_000), { ok: true });
  assert.deepEqual(await runFencing([script, dir, 'x', 'on_stop'], 10_000), { ok: false, reason: 'exited with 3' });
  const missing = await runFencing([join(dir, 'missing.sh')], 10_000);
  assert.equal(missing.ok, false);
  assert.match(missing.ok ? '' : missing.reason, /^could not be started: .*ENOENT/);

  const hung = await runFencing([script, dir, 'x', 'on_start'], 3_000);
  assert.deepEqual(hung, { ok: false, reason: 'still running after 3000 ms; killed' });
  const [shell, child] = await startPids(dir);
  await waitFor(() => !isAlive(shell!) && !isAlive(child!), { timeout: 10_000, message: 'the hung command killed' });
});
