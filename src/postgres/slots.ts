// Physical replication slots on the leader, one per member, so a replica's WAL is kept for it;
// slots of members that are gone are dropped so they stop holding WAL.
import { PostgresError, errorText } from '../errors.ts';
import type { Db } from './queries.ts';

/**
 * Maps a member name to a valid slot name the way Patroni does, so both agree on the name:
 * lowercase, '-' and '.' become '_', any other character becomes 'u' + its code point
 * (4 digits at least), cut to 63 characters. Different names can collide; keep member names simple.
 */
export function slotNameFromMemberName(member: string): string {
  const mapped = member
    .toLowerCase()
    .replace(/[^a-z0-9_]/gu, (c) =>
      c === '-' || c === '.' ? '_' : `u${c.codePointAt(0)!.toString().padStart(4, '0')}`,
    );
  return mapped.slice(0, 63);
}

export interface SlotPlan {
  create: string[];
  drop: string[];
}

/** What to create and drop; both lists sorted so runs are reproducible. */
export function planSlotSync(wanted: string[], existing: string[]): SlotPlan {
  const want = new Set(wanted);
  const have = new Set(existing);
  return {
    create: [...want].filter((s) => !have.has(s)).sort(),
    drop: [...have].filter((s) => !want.has(s)).sort(),
  };
}

export interface SlotSyncResult {
  created: string[];
  dropped: string[];
  /** Slots that could not be dropped (typically still in use by a connected walsender). */
  failed: { slot: string; error: string }[];
}

export async function physicalSlots(db: Db): Promise<{ name: string; active: boolean; restartLsn: string | null }[]> {
  const { rows } = await db.query<{ slot_name: string; active: boolean; restart_lsn: string | null }>(
    'SELECT slot_name, active, restart_lsn::text FROM pg_catalog.pg_replication_slots ' +
      "WHERE slot_type = 'physical' ORDER BY slot_name",
  );
  return rows.map((r) => ({ name: r.slot_name, active: r.active, restartLsn: r.restart_lsn }));
}

/**
 * Makes the physical slots match `members` (member names; the leader passes the others, not
 * itself). Logical slots are never touched. New slots reserve WAL at once, so a replica that
 * is still cloning cannot miss anything written meanwhile.
 */
export async function syncSlots(db: Db, members: string[]): Promise<SlotSyncResult> {
  const wanted = members.map(slotNameFromMemberName);
  const plan = planSlotSync(
    wanted,
    (await physicalSlots(db)).map((s) => s.name),
  );
  const result: SlotSyncResult = { created: [], dropped: [], failed: [] };
  for (const slot of plan.create) {
    try {
      await db.query('SELECT pg_catalog.pg_create_physical_replication_slot($1, true)', [slot]);
      result.created.push(slot);
    } catch (err) {
      // Another session (a previous cycle) may have created it meanwhile.
      if ((err as { code?: string }).code !== '42710') {
        throw new PostgresError('create replication slot', `${slot}: ${errorText(err)}`, { cause: err });
      }
    }
  }
  for (const slot of plan.drop) {
    try {
      await db.query('SELECT pg_catalog.pg_drop_replication_slot($1)', [slot]);
      result.dropped.push(slot);
    } catch (err) {
      result.failed.push({ slot, error: errorText(err) });
    }
  }
  return result;
}
