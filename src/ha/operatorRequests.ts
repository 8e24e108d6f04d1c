// The HA loop's inbox for operator requests (REST restart/reinitialize/reload): at most one
// request waits for the next cycle, a scheduled restart waits for its time, and each caller learns
// the outcome once the cycle that took its request has run.
import type { Logger } from '../log.ts';
import type { Decision, HaRequest, LongTask } from './types.ts';

export type RequestOutcome =
  | { kind: 'refused'; reason: string }
  /** `done` settles when the started task ended (rejects with its error). */
  | { kind: 'started'; message: string; done: Promise<void> };

export interface ScheduledRestart {
  /** Milliseconds since the epoch. */
  at: number;
  /** The time as the operator gave it (ISO 8601 with a timezone), published as is. */
  schedule: string;
  role: 'primary' | 'replica' | null;
  onlyIfPending: boolean;
}

interface Waiting {
  request: HaRequest;
  resolve: (outcome: RequestOutcome) => void;
}

/** A request the current cycle carries, and how to tell its caller what became of it. */
export interface TakenRequest {
  request: HaRequest;
  settle(
    decision: Decision,
    failed: { action: { kind: string }; message: string } | null,
    started: { task: LongTask; outcome: Promise<void> } | null,
  ): void;
}

/** A scheduled time missed by more than this many loop_waits is dropped, not run late. */
const STALE_LOOPS = 1.5;

export class OperatorRequests {
  private waiting: Waiting | null = null;
  private scheduledRestart: ScheduledRestart | null = null;
  private renderWanted = false;

  constructor(private readonly log: Logger) {}

  /** Queues `request` for the next cycle; a second request while one waits is refused at once. */
  submit(request: HaRequest): Promise<RequestOutcome> {
    if (this.waiting !== null) {
      return Promise.resolve({
        kind: 'refused',
        reason: `a ${this.waiting.request.kind} request is already waiting for the HA loop`,
      });
    }
    return new Promise((resolve) => {
      this.waiting = { request, resolve };
    });
  }

  /** Refuses a waiting request (the loop stopped). */
  drop(reason: string): void {
    this.waiting?.resolve({ kind: 'refused', reason });
    this.waiting = null;
  }

  /** False when another restart is scheduled already. */
  schedule(restart: ScheduledRestart): boolean {
    if (this.scheduledRestart !== null) return false;
    this.scheduledRestart = restart;
    return true;
  }

  /** False when no restart was scheduled. */
  cancelScheduled(): boolean {
    const had = this.scheduledRestart !== null;
    this.scheduledRestart = null;
    return had;
  }

  get scheduled(): ScheduledRestart | null {
    return this.scheduledRestart;
  }

  /** `scheduled_restart` of the member key, with Patroni's field names. */
  published(): Record<string, unknown> | null {
    const s = this.scheduledRestart;
    if (s === null) return null;
    return {
      schedule: s.schedule,
      ...(s.role !== null && { role: s.role }),
      ...(s.onlyIfPending && { restart_pending: true }),
    };
  }

  /** Milliseconds until the scheduled restart is due (0 when due), or null without one. */
  msUntilScheduled(now: number): number | null {
    return this.scheduledRestart === null ? null : Math.max(0, this.scheduledRestart.at - now);
  }

  /** Asks the next cycle to render PostgreSQL's configuration again and signal it (after a reload). */
  wantRender(): void {
    this.renderWanted = true;
  }

  takeRender(): boolean {
    const wanted = this.renderWanted;
    this.renderWanted = false;
    return wanted;
  }

  /** The request for this cycle: one waiting from a caller, else a scheduled restart that is due. */
  take(now: number, loopWaitSeconds: number): TakenRequest | null {
    const waiting = this.waiting;
    if (waiting !== null) {
      this.waiting = null;
      return {
        request: waiting.request,
        settle: (d, failed, started) => waiting.resolve(outcomeOf(waiting.request, d, failed, started)),
      };
    }
    const s = this.scheduledRestart;
    if (s === null || now < s.at) return null;
    // Whatever happens now, this schedule has had its turn (Patroni forgets it after one attempt).
    this.scheduledRestart = null;
    if (now - s.at > STALE_LOOPS * loopWaitSeconds * 1000) {
      this.log.warn(
        { action: 'restart', schedule: s.schedule },
        `scheduled restart at ${s.schedule} was missed; dropping it`,
      );
      return null;
    }
    const request: HaRequest = { kind: 'restart', role: s.role, onlyIfPending: s.onlyIfPending };
    return {
      request,
      settle: (d, failed, started) => {
        const outcome = outcomeOf(request, d, failed, started);
        if (outcome.kind === 'refused') {
          this.log.warn(
            { action: 'restart', schedule: s.schedule, reason: outcome.reason },
            `scheduled restart not done: ${outcome.reason}`,
          );
        } else {
          this.log.info({ action: 'restart', schedule: s.schedule }, 'scheduled restart started');
        }
      },
    };
  }
}

function outcomeOf(
  request: HaRequest,
  decision: Decision,
  failed: { action: { kind: string }; message: string } | null,
  started: { task: LongTask; outcome: Promise<void> } | null,
): RequestOutcome {
  const answer = decision.answer;
  if (answer === undefined)
    return { kind: 'refused', reason: `the HA loop did not answer the ${request.kind} request (${decision.reason})` };
  if (answer.kind === 'refused') return { kind: 'refused', reason: answer.reason };
  if (failed !== null) return { kind: 'refused', reason: `${failed.action.kind} failed: ${failed.message}` };
  if (started === null || started.task !== request.kind)
    return { kind: 'refused', reason: `${request.kind} did not start` };
  return { kind: 'started', message: answer.message, done: started.outcome };
}
