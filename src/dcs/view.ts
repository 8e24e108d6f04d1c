// Builds a ClusterView from the raw keys of one range read. Pure and tolerant: a value
// another tool (or a bug) wrote badly degrades to "unknown"/empty, it never throws.
import type { JsonObject } from '../config/types.ts';
import { isPlainObject, tryParseJson } from './json.ts';
import { KEY, memberName, parseKey } from './keys.ts';
import { normalRole } from './role.ts';
import type {
  CitusMark,
  ClusterView,
  FailoverState,
  GroupView,
  HistoryEntry,
  LeaderKey,
  Member,
  MemberData,
  RemovalState,
  StatusValue,
  SyncState,
  Versioned,
} from './types.ts';

/** One key as etcd returned it, decoded to text. */
export interface StoredKey {
  key: string;
  value: string;
  modRevision: string;
  createRevision: string;
  /** Decimal lease id; '0' when the key has none. */
  lease: string;
}

export interface ParseClusterOptions {
  /** `/<namespace>/<scope>/`; keys outside it are ignored. */
  scopePrefix: string;
  /** True when the cluster uses Citus groups (`/<scope>/<group>/...`). */
  citus: boolean;
  /** Revision of the read the keys came from. */
  revision: string;
  /** Groups to include even when they have no keys yet (e.g. the reader's own group). */
  ensureGroups?: number[];
}

export function parseCluster(kvs: readonly StoredKey[], options: ParseClusterOptions): ClusterView {
  const byGroup = new Map<number | null, Map<string, StoredKey>>();
  if (!options.citus) byGroup.set(null, new Map());
  for (const g of options.citus ? (options.ensureGroups ?? []) : []) byGroup.set(g, new Map());
  for (const kv of kvs) {
    const parsed = parseKey(options.scopePrefix, options.citus, kv.key);
    if (!parsed) continue;
    let nodes = byGroup.get(parsed.group);
    if (!nodes) byGroup.set(parsed.group, (nodes = new Map()));
    nodes.set(parsed.name, kv);
  }
  const groups = [...byGroup].map(([group, nodes]) => parseGroup(group, nodes));
  groups.sort((a, b) => (a.group ?? -1) - (b.group ?? -1));
  return { revision: options.revision, groups };
}

/** A group with no keys at all (never bootstrapped, or etcd not read yet). */
export function emptyGroup(group: number | null): GroupView {
  return parseGroup(group, new Map());
}

/** This agent's group out of a cluster view; empty when the view has none of its keys. */
export function groupOf(view: ClusterView, group: number | null): GroupView {
  return view.groups.find((g) => g.group === group) ?? emptyGroup(group);
}

/** One group's keys (names relative to the group prefix) to a GroupView. */
export function parseGroup(group: number | null, nodes: ReadonlyMap<string, StoredKey>): GroupView {
  const members: Member[] = [];
  for (const [name, kv] of nodes) {
    const member = memberName(name);
    if (member !== null)
      members.push({
        name: member,
        data: parseMemberData(kv.value),
        modRevision: kv.modRevision,
        lease: kv.lease || '0',
      });
  }
  members.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const leaderKv = nodes.get(KEY.leader);
  // An empty leader value means "unlocked" to Patroni too.
  const leader: LeaderKey | null =
    leaderKv && leaderKv.value !== ''
      ? {
          name: leaderKv.value,
          modRevision: leaderKv.modRevision,
          createRevision: leaderKv.createRevision,
          lease: leaderKv.lease || '0',
        }
      : null;

  return {
    group,
    initialize: nodes.get(KEY.initialize)?.value ?? null,
    config: versioned(nodes.get(KEY.config), parseConfig),
    leader,
    members,
    sync: versioned(nodes.get(KEY.sync), parseSync),
    failover: versioned(nodes.get(KEY.failover), parseFailover),
    history: versioned(nodes.get(KEY.history), parseHistory),
    status: parseStatus(nodes.get(KEY.status)?.value, nodes.get(KEY.legacyOptime)?.value),
    failsafe: parseFailsafe(nodes.get(KEY.failsafe)?.value),
    citus: versioned(nodes.get(KEY.citus), parseCitusMark),
  };
}

function versioned<T>(kv: StoredKey | undefined, parse: (text: string) => T): Versioned<T> | null {
  return kv ? { value: parse(kv.value), modRevision: kv.modRevision } : null;
}

/** Member JSON; missing or broken fields default so that `state` reads `unknown`. */
export function parseMemberData(text: string): MemberData {
  let raw: Record<string, unknown>;
  if (text.startsWith('postgres')) {
    // The oldest format: a connection URL whose application_name carries the REST URL.
    raw = parseLegacyConnectionUrl(text);
  } else {
    const parsed = tryParseJson(text);
    raw = isPlainObject(parsed) ? parsed : {};
  }
  const str = (v: unknown, fallback: string): string => (typeof v === 'string' ? v : fallback);
  const data: MemberData = {
    ...raw,
    conn_url: str(raw.conn_url, ''),
    api_url: str(raw.api_url, ''),
    state: str(raw.state, 'unknown'),
    role: normalRole(str(raw.role, 'unknown')),
    version: str(raw.version, ''),
  };
  // Optional fields with a declared type are dropped when they have another one, so readers
  // can trust MemberData's types.
  for (const [field, type] of TYPED_MEMBER_FIELDS) {
    if (field in data && typeof data[field] !== type) delete data[field];
  }
  if ('tags' in data && !isPlainObject(data.tags)) delete data.tags;
  return data;
}

const TYPED_MEMBER_FIELDS: ReadonlyArray<[string, 'number' | 'string' | 'boolean']> = [
  ['xlog_location', 'number'],
  ['timeline', 'number'],
  ['replication_state', 'string'],
  ['pending_restart', 'boolean'],
  ['pause', 'boolean'],
  ['proxy_url', 'string'],
];

function parseLegacyConnectionUrl(text: string): Record<string, unknown> {
  try {
    const url = new URL(text);
    const api = url.searchParams.get('application_name');
    url.search = '';
    return api === null ? { conn_url: url.toString() } : { conn_url: url.toString(), api_url: api };
  } catch {
    return {};
  }
}

const REMOVAL_STATES: readonly string[] = ['draining', 'removing', 'removed'] satisfies RemovalState[];

/** A group's `citus` key; fields of the wrong shape are dropped. */
export function parseCitusMark(text: string): CitusMark {
  const raw = tryParseJson(text);
  const mark: CitusMark = {};
  if (!isPlainObject(raw)) return mark;
  const { joined, removal } = raw;
  if (isPlainObject(joined) && typeof joined.at === 'string') {
    const job = joined.job_id;
    mark.joined = { job_id: typeof job === 'number' && Number.isInteger(job) ? job : null, at: joined.at };
  }
  if (isPlainObject(removal) && typeof removal.state === 'string' && REMOVAL_STATES.includes(removal.state)) {
    const requested = typeof removal.requested_at === 'string' ? removal.requested_at : '';
    mark.removal = { state: removal.state as RemovalState, requested_at: requested };
  }
  return mark;
}

function parseConfig(text: string): JsonObject {
  const parsed = tryParseJson(text);
  return isPlainObject(parsed) ? (parsed as JsonObject) : {};
}

function parseSync(text: string): SyncState {
  const parsed = tryParseJson(text);
  if (!isPlainObject(parsed)) return { leader: null, sync_standby: null };
  const state: SyncState = {
    leader: typeof parsed.leader === 'string' ? parsed.leader : null,
    sync_standby: typeof parsed.sync_standby === 'string' ? parsed.sync_standby : null,
  };
  if (typeof parsed.quorum === 'number') state.quorum = parsed.quorum;
  return state;
}

function parseFailover(text: string): FailoverState {
  const parsed = tryParseJson(text);
  if (parsed === undefined && text.includes(':')) {
    // Very old form `leader:candidate`, still understood by Patroni.
    const [leader = '', member = ''] = text.split(':').map((s) => s.trim());
    const state: FailoverState = {};
    if (leader) state.leader = leader;
    if (member) state.member = member;
    return state;
  }
  if (!isPlainObject(parsed)) return {};
  const state: FailoverState = {};
  if (typeof parsed.leader === 'string') state.leader = parsed.leader;
  if (typeof parsed.member === 'string') state.member = parsed.member;
  if (typeof parsed.scheduled_at === 'string') state.scheduled_at = parsed.scheduled_at;
  return state;
}

/** Keeps the lines whose timeline and LSN are numbers; the rest are optional text. */
function parseHistory(text: string): HistoryEntry[] {
  const parsed = tryParseJson(text);
  if (!Array.isArray(parsed)) return [];
  const entries: HistoryEntry[] = [];
  for (const line of parsed) {
    if (!Array.isArray(line) || line.length < 2) continue;
    const tl = Number(line[0]);
    const lsn = Number(line[1]);
    if (!Number.isFinite(tl) || !Number.isFinite(lsn)) continue;
    const entry: HistoryEntry = [tl, lsn, typeof line[2] === 'string' ? line[2] : ''];
    if (typeof line[3] === 'string') entry[3] = line[3];
    if (typeof line[4] === 'string') entry[4] = line[4];
    entries.push(entry);
  }
  return entries;
}

/** `status` JSON, or the legacy plain-number `optime/leader` when `status` is absent. */
function parseStatus(status: string | undefined, legacyOptime: string | undefined): StatusValue | null {
  if (status === undefined) {
    if (legacyOptime === undefined) return null;
    const optime = toLsn(legacyOptime.trim());
    return optime === null ? null : { optime };
  }
  const parsed = tryParseJson(status);
  if (!isPlainObject(parsed)) return null;
  const value: StatusValue = { optime: toLsn(parsed.optime) ?? 0 };
  if (isPlainObject(parsed.slots)) {
    const slots: Record<string, number> = {};
    for (const [name, lsn] of Object.entries(parsed.slots)) {
      const n = toLsn(lsn);
      if (n !== null) slots[name] = n;
    }
    value.slots = slots;
  }
  if (Array.isArray(parsed.retain_slots)) {
    value.retain_slots = parsed.retain_slots.filter((s): s is string => typeof s === 'string');
  }
  return value;
}

function toLsn(v: unknown): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

function parseFailsafe(text: string | undefined): Record<string, string> | null {
  if (text === undefined) return null;
  const parsed = tryParseJson(text);
  if (!isPlainObject(parsed)) return null;
  const out: Record<string, string> = {};
  for (const [name, url] of Object.entries(parsed)) if (typeof url === 'string') out[name] = url;
  return out;
}
