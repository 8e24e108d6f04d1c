// What the stand-in's loops (scripts/standInSync.ts, scripts/standInTasks.ts) share: an
// interruptible sleep, and a connection whose end or failure wakes it.
import pg from 'pg';

/** Where a loop connects. */
export interface LoopTarget {
  host: string;
  port: number;
  user: string;
  password?: string;
  database: string;
}

/** An interruptible sleep: wake() ends the current wait early. */
export class Alarm {
  #wake: (() => void) | undefined;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.#wake = done;
    });
  }

  wake(): void {
    this.#wake?.();
  }
}

/**
 * A connection to `target` whose errors and end wake `alarm` (an idle connection's error would
 * otherwise end the process); `opened` sees it before it connects, so a stop can end an attempt
 * in progress. Undefined when it cannot connect.
 */
export async function connectWaking(
  target: LoopTarget,
  applicationName: string,
  alarm: Alarm,
  opened: (client: pg.Client | undefined) => void,
): Promise<pg.Client | undefined> {
  const { host, port, user, password, database } = target;
  const client = new pg.Client({
    ...{ host, port, user, password, database },
    connectionTimeoutMillis: 2000,
    application_name: applicationName,
  });
  client.on('error', () => alarm.wake());
  client.on('end', () => alarm.wake());
  opened(client);
  try {
    await client.connect();
    return client;
  } catch {
    opened(undefined);
    await client.end().catch(() => undefined);
    return undefined;
  }
}
