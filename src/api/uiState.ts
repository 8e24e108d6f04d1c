// What the topology page (`GET /ui`) shows, as one JSON answer (`GET /ui/state`): every group of
// the cluster from one etcd read, with its members as `/cluster` summarizes them, its recent
// history, and the coordinator leader's `GET /citus` (pg_dist_node, poolinfo, pauses), fetched by
// this agent so the browser needs to reach only one member.
import { httpRequest } from '../httpClient.ts';
import { summarizeGroup, type ClusterSummary } from '../dcs/summary.ts';
import type { ClusterView, GroupView, HistoryEntry } from '../dcs/types.ts';
import { errorText } from '../errors.ts';

/** One member as the page lists it. */
export interface UiMember {
  name: string;
  /** `leader`, `sync_standby` or `replica`, as `/cluster` says. */
  role: string;
  /** What PostgreSQL runs as, from the member key (`primary`, `replica`, ...). */
  pg_role: string | null;
  state: string;
  address: string | null;
  timeline: number | null;
  lag: number | 'unknown' | null;
  pending_restart: boolean;
  tags: Record<string, string | number | boolean>;
  /** A clone in flight as the member key publishes it (`percent`, `done_kb`, `total_kb`, `source`). */
  clone_progress: unknown;
}

export interface UiGroup {
  group: number | null;
  leader: string | null;
  paused: boolean;
  members: UiMember[];
  /** The last history entries, newest last. */
  history: HistoryEntry[];
}

export interface UiState {
  scope: string;
  /** The member that answered. */
  served_by: string;
  generated_at: string;
  groups: UiGroup[];
  /** The coordinator leader's GET /citus body, or why it could not be read; null without Citus. */
  citus: { from: string; body: unknown } | { from: string | null; error: string } | null;
  /** Why etcd could not be read; the groups are then empty. */
  error?: string;
}

const HISTORY_SHOWN = 5;

function uiGroup(view: GroupView): UiGroup {
  const summary: ClusterSummary = summarizeGroup(view);
  const data = new Map(view.members.map((m) => [m.name, m.data]));
  return {
    group: view.group,
    leader: view.leader?.name ?? null,
    paused: summary.pause === true,
    members: summary.members.map((m) => ({
      name: m.name,
      role: m.role,
      pg_role: data.get(m.name)?.role ?? null,
      state: m.state,
      address: m.host === undefined ? null : `${m.host}:${m.port}`,
      timeline: m.timeline ?? null,
      lag: m.lag ?? null,
      pending_restart: m.pending_restart === true,
      tags: m.tags ?? {},
      clone_progress: data.get(m.name)?.clone_progress ?? null,
    })),
    history: (view.history?.value ?? []).slice(-HISTORY_SHOWN),
  };
}

/** The coordinator leader's REST base URL (from its member key's api_url), or null. */
export function coordinatorApi(cluster: ClusterView): string | null {
  const coordinator = cluster.groups.find((g) => g.group === 0);
  const leader = coordinator?.leader?.name;
  const apiUrl = coordinator?.members.find((m) => m.name === leader)?.data.api_url;
  if (!apiUrl) return null;
  try {
    return new URL(apiUrl).origin;
  } catch {
    return null;
  }
}

export interface UiStateInput {
  scope: string;
  name: string;
  /** Every group of the cluster from one etcd read. */
  load: () => Promise<ClusterView>;
  /** GET `<base>/citus`; the default fetches it with a 3 s limit. */
  fetchCitus?: (base: string) => Promise<unknown>;
}

async function fetchCitusStatus(base: string): Promise<unknown> {
  const res = await httpRequest(`${base}/citus`, { timeoutMs: 3000 });
  if (res.status !== 200) throw new Error(`GET ${base}/citus answered ${res.status}: ${res.text.slice(0, 200)}`);
  return JSON.parse(res.text) as unknown;
}

export async function buildUiState(input: UiStateInput): Promise<UiState> {
  const base = { scope: input.scope, served_by: input.name, generated_at: new Date().toISOString() };
  let cluster: ClusterView;
  try {
    cluster = await input.load();
  } catch (err) {
    return { ...base, groups: [], citus: null, error: `cannot read the cluster from etcd: ${errorText(err)}` };
  }
  const groups = cluster.groups.map(uiGroup);
  if (!cluster.groups.some((g) => g.group !== null)) return { ...base, groups, citus: null };
  const from = coordinatorApi(cluster);
  if (from === null) return { ...base, groups, citus: { from: null, error: 'the coordinator group has no leader' } };
  try {
    return { ...base, groups, citus: { from, body: await (input.fetchCitus ?? fetchCitusStatus)(from) } };
  } catch (err) {
    return { ...base, groups, citus: { from, error: errorText(err) } };
  }
}
