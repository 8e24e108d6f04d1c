// What the stand-in's loops (scripts/standInSync.ts, scripts/standInTasks.ts) share: an
// interruptible sleep, a connection whose end or failure wakes it, and the loop that keeps one
// connection served until stopped.
import pg from 'pg';
import { errorText } from '../src/errors.ts';

const RECONNECT_MS = 500;

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

/**
 * Serves one connection to `target` at a time until stop(), connecting again 500 ms after one
 * fails or breaks; never throws. `serve` returns when its connection broke or the loop stopped.
 */
export class ConnectionLoop {
  readonly alarm = new Alarm();
  #stopped = false;
  #current: pg.Client | undefined;
  #done: Promise<void> = Promise.resolve();

  constructor(
    private readonly target: LoopTarget,
    private readonly applicationName: string,
    /** What the loop is, for its log lines. */
    private readonly what: string,
    private readonly log: (line: string) => void,
  ) {}

  get stopped(): boolean {
    return this.#stopped;
  }

  start(serve: (client: pg.Client) => Promise<void>): void {
    const where = `${this.target.host}:${this.target.port}/${this.target.database}`;
    this.#done = (async () => {
      while (!this.#stopped) {
        const client = await connectWaking(this.target, this.applicationName, this.alarm, (c) => (this.#current = c));
        if (client === undefined) {
          await this.alarm.sleep(RECONNECT_MS);
          continue;
        }
        try {
          await serve(client);
        } catch (err) {
          if (!this.#stopped) this.log(`${where}: ${this.what} connection lost: ${errorText(err)}`);
        } finally {
          this.#current = undefined;
          await client.end().catch(() => undefined);
        }
        if (!this.#stopped) await this.alarm.sleep(RECONNECT_MS);
      }
    })().catch((err: unknown) => this.log(`${where}: ${this.what} loop ended: ${errorText(err)}`));
  }

  /** Ends the loop; a query in flight ends with its connection rather than after its own duration. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.alarm.wake();
    await this.#current?.end().catch(() => undefined);
    await this.#done;
  }
}
