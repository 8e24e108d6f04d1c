// Validation of the bodies of POST /restart and POST /reinitialize, and of scheduled times, with
// Patroni's status codes: each refusal is a code and one line saying why. Pure: the clock comes in.
import { isPrimaryRole } from '../dcs/role.ts';

export interface Rejection {
  ok: false;
  code: number;
  message: string;
}

export interface RestartConditions {
  /** Restart only when PostgreSQL runs in this role; null for any. */
  role: 'primary' | 'replica' | null;
  /** Restart only when a setting waits for a restart (`restart_pending`). */
  onlyIfPending: boolean;
}

export type RestartRequest =
  | { kind: 'now'; conditions: RestartConditions }
  | { kind: 'scheduled'; conditions: RestartConditions; at: number; schedule: string };

export interface Schedule {
  ok: true;
  /** Milliseconds since the epoch. */
  at: number;
  /** Normalized ISO 8601 with its offset, as given. */
  iso: string;
}

function reject(code: number, message: string): Rejection {
  return { ok: false, code, message };
}

// Date, `T` or a space, time with optional seconds and fraction, then an optional zone.
const TIMESTAMP = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/** A scheduled time: ISO 8601 with a timezone, not in the past. `action` names it in messages. */
export function parseSchedule(value: unknown, action: string, now: number): Schedule | Rejection {
  if (typeof value !== 'string') return reject(400, `the scheduled ${action} time must be a string`);
  const m = TIMESTAMP.exec(value.trim());
  if (m === null)
    return reject(422, `cannot read ${JSON.stringify(value)} as a time: give ISO 8601, e.g. 2030-01-31T12:00:00+00:00`);
  const zone = m[3];
  if (zone === undefined) return reject(400, `the scheduled ${action} time needs a timezone (e.g. +00:00 or Z)`);
  const offset =
    zone.toUpperCase() === 'Z'
      ? 'Z'
      : zone.length === 3
        ? `${zone}:00`
        : zone.includes(':')
          ? zone
          : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const iso = `${m[1]}T${m[2]}${offset}`;
  const at = Date.parse(iso);
  if (Number.isNaN(at) || !realDate(m[1]!))
    return reject(422, `cannot read ${JSON.stringify(value)} as a time: no such date`);
  if (at < now) return reject(422, `cannot schedule a ${action} in the past (${iso})`);
  return { ok: true, at, iso };
}

/** Date.parse rolls 2030-02-30 over into March; a typo must not schedule a restart. */
function realDate(ymd: string): boolean {
  const [y, mo, d] = ymd.split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A missing body is an empty request (as Patroni reads it). */
function bodyObject(body: unknown): { ok: true; fields: Record<string, unknown> } | Rejection {
  if (body === undefined || body === null || body === '') return { ok: true, fields: {} };
  if (!isPlainObject(body)) return reject(400, 'the request body must be a JSON object');
  return { ok: true, fields: body };
}

/**
 * POST /restart: `role` (primary, master, replica or any), `restart_pending` (boolean),
 * `schedule` (time with timezone). Scheduling is refused while the cluster is paused.
 */
export function parseRestartRequest(
  body: unknown,
  now: number,
  paused: boolean,
): { ok: true; value: RestartRequest } | Rejection {
  const read = bodyObject(body);
  if (!read.ok) return read;
  const request = read.fields;
  const conditions: RestartConditions = { role: null, onlyIfPending: false };
  let schedule: Schedule | null = null;
  for (const [key, value] of Object.entries(request)) {
    switch (key) {
      case 'role':
        if (isPrimaryRole(value)) conditions.role = 'primary';
        else if (value === 'replica') conditions.role = 'replica';
        else if (value !== 'any') return reject(400, 'role must be primary (or master), replica or any');
        break;
      case 'restart_pending':
        if (typeof value !== 'boolean') return reject(400, 'restart_pending must be true or false');
        conditions.onlyIfPending = value;
        break;
      case 'schedule': {
        if (paused) return reject(409, 'cannot schedule a restart while the cluster is paused');
        const parsed = parseSchedule(value, 'restart', now);
        if (!parsed.ok) return parsed;
        schedule = parsed;
        break;
      }
      default:
        return reject(400, `unknown restart condition: ${key} (known: role, restart_pending, schedule)`);
    }
  }
  const value: RestartRequest =
    schedule === null
      ? { kind: 'now', conditions }
      : { kind: 'scheduled', conditions, at: schedule.at, schedule: schedule.iso };
  return { ok: true, value };
}

/** POST /reinitialize: `{force}` (boolean, default false). */
export function parseReinitializeRequest(body: unknown): { ok: true; force: boolean } | Rejection {
  const read = bodyObject(body);
  if (!read.ok) return read;
  const request = read.fields;
  for (const key of Object.keys(request)) {
    if (key !== 'force') return reject(400, `unknown reinitialize option: ${key} (known: force)`);
  }
  const force = request.force;
  if (force !== undefined && typeof force !== 'boolean') return reject(400, 'force must be true or false');
  return { ok: true, force: force === true };
}
