// The coordinator's watch over its worker primaries against in-memory fakes: probe connections
// that answer, fail or hang, and a pause registry that records what it is asked.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MetadataView } from '../../../src/citus/metadataView.ts';
import { probeTargets, WorkerWatch } from '../../../src/citus/workerWatch.ts';
import type { ProbeConnection } from '../../../src/citus/workerProbes.ts';
import { silentLogger } from '../../../src/log.ts';
import { groupView, member } from './planCases.ts';

const rows: MetadataView = {
  nodes: [
    {
      nodeid: 1,
      groupid: 0,
      nodename: 'c',
      nodeport: 5432,
      noderole: 'primary',
      hasmetadata: true,
      isactive: true,
      metadatasynced: true,
      shouldhaveshards: false,
    },
    {
      nodeid: 2,
      groupid: 1,
      nodename: 'w1a',
      nodeport: 5432,
      noderole: 'primary',
      hasmetadata: true,
      isactive: true,
      metadatasynced: true,
      shouldhaveshards: true,
    },
    {
      nodeid: 3,
      groupid: 1,
      nodename: 'w1b',
      nodeport: 5432,
      noderole: 'secondary',
      hasmetadata: false,
      isactive: true,
      metadatasynced: false,
      shouldhaveshards: true,
    },
    {
      nodeid: 4,
      groupid: 2,
      nodename: 'w2a',
      nodeport: 5432,
      noderole: 'primary',
      hasmetadata: true,
      isactive: true,
      metadatasynced: true,
      shouldhaveshards: true,
    },
  ],
  poolinfo: [],
  readAt: 0,
};
const view = { revision: '1', groups: [groupView(1, 'w1a', [member('w1a', 'w1a', 'primary')])] };

/** Worker servers by host: 'up' answers, 'down' refuses, 'hung' never answers. */
class FakeWorkers {
  readonly state = new Map<string, 'up' | 'down' | 'hung'>();
  /** Connection attempts per host. */
  readonly attempts = new Map<string, number>();
  /** Probes answered per host. */
  readonly answered = new Map<string, number>();
  connect = async (host: string): Promise<ProbeConnection> => {
    this.attempts.set(host, (this.attempts.get(host) ?? 0) + 1);
    const s = this.state.get(host) ?? 'up';
    if (s === 'down') throw new Error('connect ECONNREFUSED');
    if (s === 'hung') return new Promise<ProbeConnection>(() => undefined);
    return {
      query: () => {
        const now = this.state.get(host) ?? 'up';
        if (now === 'down') return Promise.reject(new Error('Connection terminated unexpectedly'));
        if (now === 'hung') return new Promise(() => undefined);
        this.answered.set(host, (this.answered.get(host) ?? 0) + 1);
        return Promise.resolve({});
      },
      end: () => Promise.resolve(),
    };
  };
}

function watch(workers: FakeWorkers, settings = { pauseOnFailure: true, probeCount: 2, timeoutMs: 20_000 }) {
  const calls: string[] = [];
  const w = new WorkerWatch({
    connect: workers.connect,
    settings: () => settings,
    intervalMs: 5,
    probeTimeoutMs: 20,
    rows: () => rows,
    view: () => view,
    pauses: {
      pauseFailedWorker: (group, address, reason) => {
        calls.push(`pause ${group} ${address} ${reason.split(':')[0]}`);
        return true;
      },
      workerAnswers: (group) => void calls.push(`answers ${group}`),
    },
    logger: silentLogger,
  });
  return { w, calls };
}

/** Starts the watch with every worker up and waits until each has answered once. */
async function startSeen(workers: FakeWorkers, w: WorkerWatch): Promise<void> {
  w.start();
  await until(() => ['w1a', 'w2a'].every((h) => (workers.answered.get(h) ?? 0) > 0));
}

async function until(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('worker watch', () => {
  test('targets are the registered worker primaries, with the REST API of the member at that address', () => {
    assert.deepEqual(probeTargets(rows, view), [
      { group: 1, host: 'w1a', port: 5432, apiBase: 'http://w1a:8008' },
      { group: 2, host: 'w2a', port: 5432, apiBase: null },
    ]);
    assert.deepEqual(probeTargets(null, view), []);
  });

  test(
    'a primary that refuses connections pauses its group once, after the probe count; ' +
      'healthy groups are left alone',
    async () => {
      const workers = new FakeWorkers();
      const { w, calls } = watch(workers);
      try {
        await startSeen(workers, w);
        workers.state.set('w2a', 'down');
        await until(() => calls.length > 0);
        // More failed rounds after the first verdict: still only the one pause.
        const seen = workers.attempts.get('w2a') ?? 0;
        await until(() => (workers.attempts.get('w2a') ?? 0) >= seen + 3);
      } finally {
        await w.stop();
      }
      assert.deepEqual(calls, ['pause 2 w2a:5432 2 probes in a row failed']);
    },
  );

  test('a hung primary (no answer within the probe timeout) counts as failed', async () => {
    const workers = new FakeWorkers();
    const { w, calls } = watch(workers);
    try {
      await startSeen(workers, w);
      workers.state.set('w1a', 'hung');
      await until(() => calls.length > 0);
    } finally {
      await w.stop();
    }
    assert.deepEqual(calls, ['pause 1 w1a:5432 2 probes in a row failed']);
  });

  test('a paused primary that answers again ends the pause its failure opened', async () => {
    const workers = new FakeWorkers();
    const { w, calls } = watch(workers);
    try {
      await startSeen(workers, w);
      workers.state.set('w1a', 'down');
      await until(() => calls.length === 1);
      workers.state.set('w1a', 'up');
      await until(() => calls.length === 2);
    } finally {
      await w.stop();
    }
    assert.deepEqual(calls, ['pause 1 w1a:5432 2 probes in a row failed', 'answers 1']);
  });

  test('a primary the probes never reached (their own credentials or pg_hba may be wrong) is not paused', async () => {
    const workers = new FakeWorkers();
    workers.state.set('w1a', 'down');
    const { w, calls } = watch(workers);
    try {
      w.start();
      await until(() => (workers.attempts.get('w1a') ?? 0) >= 4 && (workers.answered.get('w2a') ?? 0) > 0);
    } finally {
      await w.stop();
    }
    assert.deepEqual(calls, []);
  });

  test('with pause_on_worker_failure off nothing is paused', async () => {
    const workers = new FakeWorkers();
    const { w, calls } = watch(workers, { pauseOnFailure: false, probeCount: 1, timeoutMs: 1000 });
    try {
      await startSeen(workers, w);
      workers.state.set('w1a', 'down');
      await until(() => (workers.attempts.get('w1a') ?? 0) >= 3);
    } finally {
      await w.stop();
    }
    assert.deepEqual(calls, []);
  });
});
