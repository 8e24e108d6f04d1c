// The coordinator's own look at every registered worker primary (docs/design.md, "Worker
// failure"): a `SELECT 1` on a connection of its own every interval, with short timeouts, and
// the member's REST `/liveness` for the log. Results go to the caller; it decides what they mean.
import { httpRequest } from '../httpClient.ts';
import type { ProbeResult } from './failureDetector.ts';
import { errorText } from '../errors.ts';

/** What a probe needs of a connection to a worker's PostgreSQL. */
export interface ProbeConnection {
  query(text: string): Promise<unknown>;
  end(): Promise<void>;
}

/** A worker primary to probe: where its row points, and its agent's REST API if known. */
export interface ProbeTarget {
  group: number;
  host: string;
  port: number;
  /** `http://host:port` of the member's REST API, when etcd names the member at that address. */
  apiBase: string | null;
}

export interface WorkerProbesOptions {
  /** Opens a connection to `host:port` with short connect and statement timeouts. */
  connect: (host: string, port: number) => Promise<ProbeConnection>;
  /** The primaries to probe now; asked every round. */
  targets: () => ProbeTarget[];
  /** Every round's result per target, in the order rounds end. */
  onResult: (target: ProbeTarget, result: ProbeResult) => void;
  intervalMs: number;
  /** Bound of one probe (connect plus query), milliseconds. */
  timeoutMs: number;
}

const key = (t: { host: string; port: number }): string => `${t.host}:${t.port}`;

export class WorkerProbes {
  private readonly connections = new Map<string, ProbeConnection>();
  private readonly inFlight = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly opts: WorkerProbesOptions) {}

  start(): void {
    if (this.timer !== null || this.stopped) return;
    this.timer = setInterval(() => this.round(), this.opts.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const all = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(all.map((c) => c.end().catch(() => undefined)));
  }

  /** One round: every target not still busy with its previous probe is probed. */
  private round(): void {
    const targets = this.opts.targets();
    const wanted = new Set(targets.map(key));
    for (const [k, c] of this.connections) {
      if (!wanted.has(k)) {
        this.connections.delete(k);
        void c.end().catch(() => undefined);
      }
    }
    for (const t of targets) {
      const k = key(t);
      if (this.inFlight.has(k)) continue;
      this.inFlight.add(k);
      void this.probe(t).then((result) => {
        this.inFlight.delete(k);
        if (!this.stopped) this.opts.onResult(t, result);
      });
    }
  }

  private async probe(t: ProbeTarget): Promise<ProbeResult> {
    const k = key(t);
    try {
      let conn = this.connections.get(k);
      if (conn === undefined) {
        const connecting = this.opts.connect(t.host, t.port);
        // A connection that opens after the deadline is closed, not leaked.
        conn = await withDeadline(connecting, this.opts.timeoutMs, 'connect').catch((err: unknown) => {
          void connecting.then(
            (late) => late.end().catch(() => undefined),
            () => undefined,
          );
          throw err;
        });
        if (this.stopped) {
          await conn.end().catch(() => undefined);
          return { ok: true };
        }
        this.connections.set(k, conn);
      }
      await withDeadline(conn.query('SELECT 1'), this.opts.timeoutMs, 'SELECT 1');
      return { ok: true };
    } catch (err) {
      // A connection that failed once is not trusted again: the next round opens a new one.
      const conn = this.connections.get(k);
      this.connections.delete(k);
      void conn?.end().catch(() => undefined);
      const why = errorText(err);
      return { ok: false, reason: `${k}: ${why}${await this.liveness(t)}` };
    }
  }

  /** The agent's own word, for the reason only: `; agent /liveness 200` or `; agent does not answer`. */
  private async liveness(t: ProbeTarget): Promise<string> {
    if (t.apiBase === null) return '';
    try {
      const res = await httpRequest(`${t.apiBase}/liveness`, { timeoutMs: this.opts.timeoutMs });
      return `; agent /liveness ${res.status}`;
    } catch {
      return '; agent does not answer';
    }
  }
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
