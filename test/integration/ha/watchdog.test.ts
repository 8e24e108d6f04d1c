// The software watchdog is a separate process: it kills the armed pid once the deadline passes,
// leaves it alone while the deadline keeps moving or after disarming; in bash (no child process
// per round, woken by the agent) and in a POSIX shell alike.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { access, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../../../src/log.ts';
import { SoftWatchdog, watchdogCommand, watchdogDeadline } from '../../../src/ha/watchdog.ts';
import { isAlive, spawnManaged, useHarness, waitFor } from '../../harness/index.ts';

useHarness();

const DATA_DIR = `/nonexistent/shardherd-watchdog-test-${process.pid}/data`;

/** A process whose command line names `-D <dir>`, as a postmaster's does. */
function victim(name: string, dir = DATA_DIR) {
  return spawnManaged('/bin/sh', ['-c', 'while :; do sleep 1; done', '-D', dir], { name });
}

test('the deadline leaves a quarter of ttl (at least 2 s) before the lease could expire', () => {
  assert.equal(watchdogDeadline(1_000_000, 30), 1_000_000 + 30_000 - 7_500);
  assert.equal(watchdogDeadline(1_000_000, 4), 1_000_000 + 4_000 - 2_000);
});

/** Runs `body` with a started watchdog (`bash`, or /bin/sh when null), stopped afterwards. */
async function withWatchdog(name: string, bash: string | null, body: (dog: SoftWatchdog) => Promise<void>) {
  const dog = new SoftWatchdog(`test-${name}-${process.pid}`, silentLogger, bash);
  dog.start();
  try {
    await body(dog);
  } finally {
    await dog.stop();
  }
}

/** The shells the loop runs in: bash where the machine has it, /bin/sh otherwise. */
const SHELLS: ReadonlyArray<[string, string | null]> = [
  ['bash', '/bin/bash'],
  ['sh', null],
];

for (const [n, [variant, bash]] of SHELLS.entries()) {
  test(`${variant}: an armed watchdog kills the process once its deadline passes`, async () => {
    await withWatchdog(`kill-${n}`, bash, async (dog) => {
      const proc = victim('victim-kill');
      await dog.arm(Date.now() + 300, proc.pid, DATA_DIR);
      await waitFor(() => !isAlive(proc.pid), { timeout: 5000, message: 'watchdog did not kill the armed process' });
    });
  });

  test(`${variant}: a deadline that keeps moving forward, or a disarmed watchdog, kills nothing`, async () => {
    await withWatchdog(`feed-${n}`, bash, async (dog) => {
      const fed = victim('victim-fed');
      const disarmed = victim('victim-disarmed');
      // Fed every 100 ms with a deadline 400 ms ahead, for two seconds.
      const until = Date.now() + 2000;
      while (Date.now() < until) {
        await dog.arm(Date.now() + 400, fed.pid, DATA_DIR);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(isAlive(fed.pid), 'a fed watchdog killed its process');
      await dog.arm(Date.now() + 300, disarmed.pid, DATA_DIR);
      await dog.disarm();
      // The dog sleeps until the deadline at most: after it wakes past it, the victim must live on.
      const check = Date.now() + 1200;
      await waitFor(() => Date.now() > check, { timeout: 3000, message: 'clock' });
      assert.ok(isAlive(disarmed.pid), 'a disarmed watchdog killed its process');
    });
  });

  test(`${variant}: a pid that is not a postmaster of the armed data directory is left alone`, async () => {
    await withWatchdog(`reuse-${n}`, bash, async (dog) => {
      const stranger = victim('victim-stranger', '/some/other/data');
      await dog.arm(Date.now() + 200, stranger.pid, DATA_DIR);
      // The arm file disappears once the watchdog has handled the passed deadline.
      await waitFor(async () => !(await exists(dog.armFile)), {
        timeout: 5000,
        message: 'watchdog did not handle the deadline',
      });
      assert.ok(isAlive(stranger.pid), 'the watchdog killed a process of another data directory');
    });
  });
}

/** The pids of the watchdog processes watching `armFile`. */
function watchdogPids(armFile: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || !isAlive(Number(name))) continue;
    try {
      const args = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (args.includes('shardherd-watchdog') && args.includes(armFile)) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** The one watchdog process watching `armFile`. */
function watchdogPid(armFile: string): number {
  const pids = watchdogPids(armFile);
  assert.equal(pids.length, 1, `watchdog processes for ${armFile}: ${pids.join(', ')}`);
  return pids[0]!;
}

/** How often a process has gone to sleep and been woken so far. */
function wakeups(pid: number): number {
  return Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('bash: a deadline moved earlier is kept, not the later one the watchdog was sleeping towards', async () => {
  await withWatchdog(`earlier`, '/bin/bash', async (dog) => {
    const proc = victim('victim-earlier');
    await dog.arm(Date.now() + 60_000, proc.pid, DATA_DIR);
    await sleep(200);
    await dog.arm(Date.now() + 300, proc.pid, DATA_DIR);
    await waitFor(() => !isAlive(proc.pid), { timeout: 10_000, message: 'the earlier deadline was not kept' });
  });
});

test('bash: a watchdog disarmed, or armed far ahead, sleeps without waking', async () => {
  await withWatchdog(`asleep`, '/bin/bash', async (dog) => {
    const proc = victim('victim-asleep');
    // Started and settled: from here on, only a wakeup makes it run.
    await sleep(300);
    const pid = watchdogPid(dog.armFile);
    const idle = wakeups(pid);
    await sleep(4000);
    assert.ok(wakeups(pid) - idle <= 1, `disarmed: ${wakeups(pid) - idle} wakeups in 4 s`);
    await dog.arm(Date.now() + 60_000, proc.pid, DATA_DIR);
    await sleep(300);
    const armed = wakeups(pid);
    await sleep(4000);
    assert.ok(wakeups(pid) - armed <= 1, `armed: ${wakeups(pid) - armed} wakeups in 4 s`);
  });
});

test('a watchdog killed by someone else is started again by the next arm, and fires', async () => {
  await withWatchdog(`restart`, '/bin/bash', async (dog) => {
    const proc = victim('victim-restart');
    await waitFor(() => watchdogPids(dog.armFile).length === 1, { timeout: 5000, message: 'no watchdog process' });
    const first = watchdogPid(dog.armFile);
    process.kill(first, 'SIGKILL');
    // Each cycle of a primary arms again; the first arm after the exit reached the agent starts another.
    await waitFor(
      async () => {
        await dog.arm(Date.now() + 300, proc.pid, DATA_DIR);
        return watchdogPids(dog.armFile).some((pid) => pid !== first);
      },
      { timeout: 5000, message: 'no new watchdog process' },
    );
    await waitFor(() => !isAlive(proc.pid), { timeout: 5000, message: 'the new watchdog did not fire' });
  });
});

test('bash: once its agent is gone, an armed watchdog still fires, and a disarmed one exits', async () => {
  const armFile = join(tmpdir(), `shardherd-watchdog-test-gone-${process.pid}`);
  const agent = victim('fake-agent', '/not/a/data/dir');
  const proc = victim('victim-gone');
  const [shell, script] = watchdogCommand('/bin/bash');
  const dog = spawn(shell, ['-c', script, 'shardherd-watchdog', armFile, String(agent.pid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  const exited = new Promise<void>((resolve) => dog.on('exit', () => resolve()));
  try {
    await writeFile(armFile, `${Date.now() + 1500} ${proc.pid} ${DATA_DIR}\n`);
    dog.stdin.write('\n');
    // The agent dies: its end of the pipe closes, and the arm file stays.
    process.kill(agent.pid, 'SIGKILL');
    dog.stdin.end();
    await waitFor(() => !isAlive(proc.pid), { timeout: 10_000, message: 'the orphaned watchdog did not fire' });
    await waitFor(async () => !(await exists(armFile)), { timeout: 5000, message: 'arm file left behind' });
    await exited;
  } finally {
    dog.kill('SIGKILL');
    await rm(armFile, { force: true });
  }
});

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
