// The software watchdog is a separate process: it kills the armed pid once the deadline passes,
// leaves it alone while the deadline keeps moving or after disarming; in bash (no child process
// per round) and in a POSIX shell alike.
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { test } from 'node:test';
import { silentLogger } from '../../../src/log.ts';
import { SoftWatchdog, watchdogDeadline } from '../../../src/ha/watchdog.ts';
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

/** The shells the loop runs in: bash where the machine has it, /bin/sh otherwise. */
const SHELLS: ReadonlyArray<[string, string | null]> = [
  ['bash', '/bin/bash'],
  ['sh', null],
];

for (const [n, [variant, bash]] of SHELLS.entries()) {
  test(`${variant}: an armed watchdog kills the process once its deadline passes`, async () => {
    const dog = new SoftWatchdog(`test-kill-${process.pid}-${n}`, silentLogger, bash);
    dog.start();
    const proc = victim('victim-kill');
    try {
      await dog.arm(Date.now() + 300, proc.pid, DATA_DIR);
      await waitFor(() => !isAlive(proc.pid), { timeout: 5000, message: 'watchdog did not kill the armed process' });
    } finally {
      await dog.stop();
    }
  });

  test(`${variant}: a deadline that keeps moving forward, or a disarmed watchdog, kills nothing`, async () => {
    const dog = new SoftWatchdog(`test-feed-${process.pid}-${n}`, silentLogger, bash);
    dog.start();
    const fed = victim('victim-fed');
    const disarmed = victim('victim-disarmed');
    try {
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
    } finally {
      await dog.stop();
    }
  });

  test(`${variant}: a pid that is not a postmaster of the armed data directory is left alone`, async () => {
    const dog = new SoftWatchdog(`test-reuse-${process.pid}-${n}`, silentLogger, bash);
    dog.start();
    const stranger = victim('victim-stranger', '/some/other/data');
    try {
      await dog.arm(Date.now() + 200, stranger.pid, DATA_DIR);
      // The arm file disappears once the watchdog has handled the passed deadline.
      await waitFor(async () => !(await exists(dog.armFile)), {
        timeout: 5000,
        message: 'watchdog did not handle the deadline',
      });
      assert.ok(isAlive(stranger.pid), 'the watchdog killed a process of another data directory');
    } finally {
      await dog.stop();
    }
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
