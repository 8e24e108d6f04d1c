// How far the clone in flight got: pg_basebackup's progress reports, kept for the member key and
// GET /patroni and logged at every tenth of the way (or every 30 s when the size is unknown).
import type { HostPort } from '../config/types.ts';
import type { Logger } from '../log.ts';
import type { CloneProgress } from './basebackup.ts';

/** A clone in flight: where from and how far. */
export interface CloneStatus extends CloneProgress {
  /** `host:port` it copies from. */
  source: string;
}

const LOG_EVERY_MS = 30_000;

export class CloneWatch {
  private current: CloneStatus | null = null;
  private logged = { at: 0, tenth: 0 };

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The clone in flight, or null. */
  get status(): CloneStatus | null {
    return this.current === null ? null : { ...this.current };
  }

  /** Runs `copy` (which reports progress through its argument) as the clone in flight. */
  async run<T>(source: HostPort, copy: (onProgress: (p: CloneProgress) => void) => Promise<T>): Promise<T> {
    const started = this.now();
    this.current = { source: `${source.host}:${source.port}`, done_kb: 0, total_kb: null, percent: null };
    this.logged = { at: started, tenth: 0 };
    try {
      return await copy((p) => this.note(p, started));
    } finally {
      this.current = null;
    }
  }

  private note(p: CloneProgress, started: number): void {
    if (this.current === null) return;
    this.current = { ...this.current, ...p };
    const now = this.now();
    const tenth = p.percent === null ? this.logged.tenth : Math.floor(p.percent / 10);
    if (tenth <= this.logged.tenth && now - this.logged.at < LOG_EVERY_MS) return;
    this.logged = { at: now, tenth };
    const mb = (kb: number): string => (kb / 1024).toFixed(1);
    const of = p.total_kb === null ? '' : ` of ${mb(p.total_kb)}`;
    this.log.info(
      {
        action: 'clone',
        source: this.current.source,
        done_kb: p.done_kb,
        total_kb: p.total_kb,
        percent: p.percent,
        duration_ms: now - started,
      },
      `pg_basebackup: ${mb(p.done_kb)}${of} MB copied${p.percent === null ? '' : ` (${p.percent}%)`}`,
    );
  }
}
