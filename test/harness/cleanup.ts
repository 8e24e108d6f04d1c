// The cleanup registry: everything a test starts or creates is undone here, also when a
// test fails or the run is interrupted (SIGINT/SIGTERM) or the process exits early.

import { after } from 'node:test';
import { errorText } from '../../src/errors.ts';

/**
 * Cleanup runs phase by phase: first `resources` (clients, pools), then `processes`, then
 * `files`, so a directory is removed only after the processes using it are gone.
 */
export type CleanupPhase = 'resources' | 'processes' | 'files';

const PHASES: readonly CleanupPhase[] = ['resources', 'processes', 'files'];

interface Entry {
  name: string;
  phase: CleanupPhase;
  run: () => void | Promise<void>;
  /** Last resort from the process 'exit' handler, where nothing asynchronous can run. */
  runSync?: () => void;
}

const entries = new Set<Entry>();
let handlersInstalled = false;
let running: Promise<void> | undefined;

export interface CleanupOptions {
  phase?: CleanupPhase;
  runSync?: () => void;
}

/** Registers an undo step; the returned function unregisters it (after undoing by hand). */
export function onCleanup(name: string, run: () => void | Promise<void>, opts: CleanupOptions = {}): () => void {
  installHandlers();
  const entry: Entry = { name, phase: opts.phase ?? 'resources', run, runSync: opts.runSync };
  entries.add(entry);
  return () => {
    entries.delete(entry);
  };
}

/**
 * Runs and forgets every registered step, phase by phase (steps of one phase in parallel).
 * Throws an AggregateError naming the steps that failed, after running all of them.
 */
export function cleanup(): Promise<void> {
  running ??= runAll().finally(() => {
    running = undefined;
  });
  return running;
}

async function runAll(): Promise<void> {
  const failures: Error[] = [];
  for (const phase of PHASES) {
    const batch = [...entries].filter((e) => e.phase === phase).reverse();
    for (const entry of batch) entries.delete(entry);
    const results = await Promise.allSettled(batch.map(async (e) => e.run()));
    results.forEach((result, i) => {
      if (result.status === 'rejected') {
        const reason: unknown = result.reason;
        failures.push(new Error(`cleanup ${batch[i]?.name}: ${errorText(reason)}`, { cause: reason }));
      }
    });
  }
  if (failures.length > 0) throw new AggregateError(failures, 'harness cleanup failed');
}

function runSyncAll(): void {
  for (const phase of PHASES) {
    for (const entry of entries) {
      if (entry.phase !== phase) continue;
      try {
        entry.runSync?.();
      } catch {
        // Exiting anyway: one failed step must not keep the others from running.
      }
    }
  }
  entries.clear();
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', runSyncAll);
  for (const [signal, number] of [
    ['SIGINT', 2],
    ['SIGTERM', 15],
  ] as const) {
    process.on(signal, () => {
      // A second signal while cleaning up means "now": kill synchronously and leave.
      if (running !== undefined) {
        runSyncAll();
        process.exit(128 + number);
      }
      cleanup()
        .catch((err: unknown) => console.error(err))
        .finally(() => process.exit(128 + number));
    });
  }
}

/** Call at the top of a test file: runs cleanup() after all its tests, passed or failed. */
export function useHarness(): void {
  installHandlers();
  after(() => cleanup());
}
