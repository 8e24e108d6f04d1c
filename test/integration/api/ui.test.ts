// GET /ui in a real browser (Debian's chromium driven by playwright-core) on a three-group cluster
// of real agents: the page shows every group with its leader and replica and the coordinator's
// pg_dist_node; after a worker primary's node dies (agent and PostgreSQL killed) the page shows the
// new primary, in pg_dist_node too, without a reload. A screenshot is saved in the test's temp dir.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { onCleanup, tempDir, useHarness, waitForLeader, type TestMember } from '../../harness/index.ts';
import {
  expectedRows,
  finishCitusCluster,
  groupLeader,
  otherMember,
  startCitusCluster,
  waitForRows,
  type RunningCitusCluster,
} from '../citus/clusterSteps.ts';

useHarness();

const CHROMIUM = '/usr/bin/chromium';
const GROUPS = [0, 1, 2];
let running: RunningCitusCluster;
let browser: Browser;

before(
  async () => {
    running = await startCitusCluster({ groups: GROUPS });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    onCleanup('close the browser', () => browser.close());
  },
  { timeout: 120_000 },
);

after(async () => {
  await browser?.close();
  if (running !== undefined) await finishCitusCluster(running);
});

/** Waits until the page lists `member` in `group` with `role`. */
async function seeRole(page: Page, group: number, member: TestMember, role: string, timeout = 15_000): Promise<void> {
  await page.waitForSelector(`[data-group="${group}"].card tr[data-member="${member.name}"][data-role="${role}"]`, {
    timeout,
  });
}

/** Waits until the page's pg_dist_node names `member` as its group's primary. */
async function seePrimaryRow(page: Page, member: TestMember, timeout = 15_000): Promise<void> {
  await page.waitForFunction(
    ([group, port]) =>
      [...document.querySelectorAll(`#pg-dist-node tr[data-group="${group}"][data-noderole="primary"]`)].some((tr) =>
        (tr.textContent ?? '').includes(`:${port}`),
      ),
    [member.group, member.pgPort] as const,
    { timeout },
  );
}

test(
  'the topology page shows every group live and follows a worker failover without a reload',
  { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed`, timeout: 120_000 },
  async (t) => {
    const coordinator = groupLeader(running, 0);
    await waitForRows(
      coordinator,
      expectedRows(
        GROUPS.map((g) => ({
          leader: groupLeader(running, g),
          secondaries: [otherMember(running.cluster, groupLeader(running, g))],
        })),
      ),
    );
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(`${coordinator.apiUrl}/ui`);
    for (const group of GROUPS) {
      const leader = groupLeader(running, group);
      await seeRole(page, group, leader, 'leader');
      await seeRole(page, group, otherMember(running.cluster, leader), 'replica');
      await seePrimaryRow(page, leader);
    }
    assert.equal(await page.locator('#pg-dist-node tr').count(), 6);
    assert.equal(await page.textContent('#scope'), running.cluster.scope);

    // A node death in group 1: the page, never reloaded, shows the replica take over.
    await page.evaluate(() => Object.assign(window, { notReloaded: true }));
    const old = groupLeader(running, 1);
    const heir = otherMember(running.cluster, old);
    const killedAt = performance.now();
    await old.killAll();
    running.leaders.set(1, await waitForLeader(running.cluster, 1, { timeout: 60_000 }));
    assert.equal(groupLeader(running, 1).name, heir.name);
    await seeRole(page, 1, heir, 'leader', 30_000);
    await seePrimaryRow(page, heir, 30_000);
    const shownAfter = Math.round(performance.now() - killedAt);
    assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true);
    assert.deepEqual(errors, [], 'no script error on the page');

    const dir = await tempDir('shardherd-ui');
    const shot = join(dir, 'topology.png');
    await page.screenshot({ path: shot, fullPage: true });
    const keep = process.env.SHARDHERD_TEST_LOG_DIR;
    if (keep) {
      mkdirSync(keep, { recursive: true });
      copyFileSync(shot, join(keep, 'ui-topology.png'));
    }
    t.diagnostic(`new primary shown ${shownAfter} ms after the kill; screenshot ${shot}`);
    await page.close();
  },
);
