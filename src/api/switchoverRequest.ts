// Validation of `POST /switchover` and `POST /failover` (Patroni's rules, codes and messages):
// pure, so every refusal is a table row. The caller reads the group, asks the candidates for
// their status, and writes the `failover` key this returns.
import type { FailoverState, GroupView } from '../dcs/types.ts';

export type ManualAction = 'switchover' | 'failover';

/** What a candidate answered to GET /patroni, reduced to what eligibility needs. */
export type CandidateStatus =
  | { kind: 'unreachable'; error: string }
  | {
      kind: 'answered';
      /** Patroni's `state`: `running`, `starting`, `stopped`, ... */
      state: string;
      role: 'primary' | 'replica';
      nofailover: boolean;
      /** `replication_state` is `streaming`: the replica receives WAL from the leader now. */
      streaming: boolean;
    };

export interface ManualRequestInput {
  action: ManualAction;
  /** The parsed JSON body, unchecked. */
  body: unknown;
  view: GroupView;
  /** The group is in maintenance mode (`pause`). */
  paused: boolean;
  synchronousMode: boolean;
  /** Milliseconds since the epoch. */
  now: number;
  /** Answers of the members named by `membersToAsk`. */
  statuses: Readonly<Record<string, CandidateStatus>>;
}

export type ManualRequestVerdict =
  | {
      kind: 'accepted';
      /** The value to write to the `failover` key. */
      failover: FailoverState;
      /** The leader when the request was accepted (the outcome is a different one). */
      leader: string | null;
      candidate: string | null;
      /** Epoch ms of `scheduled_at`; null for an immediate request. */
      scheduledAt: number | null;
    }
  | { kind: 'refused'; status: number; message: string };

/** The members whose status the validation needs: every member but the leader that has an API. */
export function membersToAsk(view: GroupView): string[] {
  const leader = view.leader?.name ?? null;
  return view.members
    .filter((m) => m.name !== leader && typeof m.data.api_url === 'string' && m.data.api_url !== '')
    .map((m) => m.name);
}

/** Reduces a `/patroni` body to a CandidateStatus. */
export function candidateStatusFromBody(body: unknown): CandidateStatus {
  if (typeof body !== 'object' || body === null)
    return { kind: 'unreachable', error: 'the answer is not a JSON object' };
  const status = body as Record<string, unknown>;
  const xlog = (status.xlog ?? {}) as Record<string, unknown>;
  const tags = (status.tags ?? {}) as Record<string, unknown>;
  return {
    kind: 'answered',
    state: typeof status.state === 'string' ? status.state : 'unknown',
    role: typeof xlog.location === 'number' ? 'primary' : 'replica',
    nofailover: tags.nofailover === true,
    streaming: status.replication_state === 'streaming',
  };
}

const refuse = (status: number, message: string): ManualRequestVerdict => ({ kind: 'refused', status, message });

function optionalName(value: unknown): string | null | undefined {
  if (value === undefined || value === null || value === '') return null;
  return typeof value === 'string' ? value : undefined;
}

export function validateManualRequest(input: ManualRequestInput): ManualRequestVerdict {
  const { action, body, view } = input;
  const Action = action === 'switchover' ? 'Switchover' : 'Failover';
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return refuse(400, 'the request body must be a JSON object');
  const fields = body as Record<string, unknown>;
  const leader = optionalName(fields.leader);
  // Patroni accepts `member` as an old spelling of `candidate`.
  const candidate = optionalName(fields.candidate ?? fields.member);
  if (leader === undefined) return refuse(400, 'leader must be a member name (a string)');
  if (candidate === undefined) return refuse(400, 'candidate must be a member name (a string)');

  if (action === 'failover' && candidate === null)
    return refuse(400, 'Failover could be performed only to a specific candidate');
  if (action === 'switchover' && leader === null)
    return refuse(400, 'Switchover could be performed only from a specific leader');

  let scheduledAt: number | null = null;
  let scheduledText: string | undefined;
  if (fields.scheduled_at !== undefined && fields.scheduled_at !== null && fields.scheduled_at !== '') {
    if (leader === null) return refuse(400, `Scheduled ${action} is possible only from a specific leader`);
    if (input.paused) return refuse(400, `Can't schedule ${action} in the paused state`);
    const parsed = parseSchedule(fields.scheduled_at, action, input.now);
    if (parsed.kind === 'refused') return parsed;
    scheduledAt = parsed.at;
    scheduledText = parsed.text;
  }
  if (input.paused && candidate === null)
    return refuse(400, `${Action} is possible only to a specific candidate in a paused state`);

  const current = view.leader?.name ?? null;
  if (leader !== null && leader !== current) {
    const actual = current === null ? ' (the group has none)' : ` (${current} is)`;
    return refuse(412, `leader name does not match: ${leader} is not the leader${actual}`);
  }
  const failover: FailoverState = {
    ...(leader !== null ? { leader } : {}),
    ...(candidate !== null ? { member: candidate } : {}),
    ...(scheduledText !== undefined ? { scheduled_at: scheduledText } : {}),
  };
  const accepted: ManualRequestVerdict = { kind: 'accepted', failover, leader: current, candidate, scheduledAt };

  if (candidate !== null) {
    if (!view.members.some((m) => m.name === candidate))
      return refuse(412, `candidate ${candidate} does not exist in the group`);
    if (candidate === current) return refuse(412, `candidate ${candidate} is already the leader`);
    if (action === 'switchover' && input.synchronousMode && !inSync(view, candidate)) {
      return refuse(412, `candidate name does not match with sync_standby: ${candidate} is not a synchronous standby`);
    }
    // A scheduled request is checked for health when it is due, by the leader.
    if (scheduledAt !== null) return accepted;
    const why = ineligible(candidate, input.statuses[candidate], current !== null);
    return why === null ? accepted : refuse(412, `${action} is not possible: ${why}`);
  }

  if (scheduledAt !== null) return accepted;
  let others = view.members
    .filter((m) => m.name !== current && typeof m.data.api_url === 'string' && m.data.api_url !== '')
    .map((m) => m.name);
  if (input.synchronousMode) {
    others = others.filter((n) => inSync(view, n));
    if (others.length === 0) return refuse(412, `${action} is not possible: can not find sync_standby`);
  }
  if (others.length === 0) return refuse(412, `${action} is not possible: cluster does not have members except leader`);
  const reasons = others.map((n) => ({ n, why: ineligible(n, input.statuses[n], current !== null) }));
  if (reasons.some((r) => r.why === null)) return accepted;
  return refuse(
    412,
    `${action} is not possible: no good candidates have been found (${reasons.map((r) => r.why).join('; ')})`,
  );
}

/** Why a member cannot take over now, or null. Streaming is required only while a leader runs. */
function ineligible(name: string, status: CandidateStatus | undefined, hasLeader: boolean): string | null {
  if (status === undefined || status.kind === 'unreachable')
    return `candidate ${name} is not reachable${status ? ` (${status.error})` : ''}`;
  if (status.nofailover) return `candidate ${name} is tagged nofailover`;
  if (status.state !== 'running') return `candidate ${name} is not running (state ${status.state})`;
  if (hasLeader && status.role === 'replica' && !status.streaming)
    return `candidate ${name} is not streaming from the leader`;
  return null;
}

function inSync(view: GroupView, name: string): boolean {
  const sync = view.sync?.value;
  if (!sync) return false;
  return (
    sync.leader === name ||
    (sync.sync_standby ?? '')
      .split(',')
      .map((s) => s.trim())
      .includes(name)
  );
}

const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * An ISO 8601 time with a timezone that lies in the future. Returns it normalised to UTC with an
 * explicit `+00:00` offset, as Patroni writes it.
 */
export function parseSchedule(
  value: unknown,
  action: ManualAction,
  now: number,
): { kind: 'ok'; at: number; text: string } | { kind: 'refused'; status: number; message: string } {
  const unparsable = {
    kind: 'refused',
    status: 422,
    message: 'Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601',
  } as const;
  if (typeof value !== 'string') return unparsable;
  const m = TIMESTAMP.exec(value.trim());
  if (m === null) return unparsable;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  if (zone === undefined)
    return { kind: 'refused', status: 400, message: `Timezone information is mandatory for the scheduled ${action}` };
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : normaliseOffset(zone);
  const at = Date.parse(
    `${y}-${mo}-${d}T${h}:${mi}:${s ?? '00'}${frac ? `.${frac.padEnd(3, '0').slice(0, 3)}` : ''}${offset}`,
  );
  if (Number.isNaN(at)) return unparsable;
  if (at < now) return { kind: 'refused', status: 422, message: `Cannot schedule ${action} in the past` };
  return { kind: 'ok', at, text: new Date(at).toISOString().replace('Z', '+00:00') };
}

/** `+05`, `+0530` and `+05:30` as `+05:30`. */
function normaliseOffset(zone: string): string {
  const digits = zone.slice(1).replace(':', '');
  return `${zone[0]}${digits.slice(0, 2)}:${(digits.slice(2) || '00').padEnd(2, '0')}`;
}
