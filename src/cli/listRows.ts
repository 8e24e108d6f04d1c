// What `shardherd list` and `shardherd topology` show, computed from a ClusterView alone: the
// title, columns, one row per member and the pause/switchover notes, with patronictl's rules.
import { hostPortFromUrl } from '../dcs/memberUrl.ts';
import { summarizeGroup, type ClusterSummary, type MemberSummary } from '../dcs/summary.ts';
import type { ClusterView, GroupView } from '../dcs/types.ts';

export type TagMap = Record<string, string | number | boolean>;
/** A cell as data: tags stay a map so each output format can render them its own way. */
export type Cell = string | number | TagMap;

export interface ListRowsOptions {
  /** The cluster name, shown in the title and the Cluster column. */
  scope: string;
  /** The configuration names a Citus cluster: adds the Group column and the Citus title. */
  citus: boolean;
  /** Only this group (`--group N`); null shows every group of the view. */
  group: number | null;
  /**
   * Show Pending restart, Scheduled restart and Tags even when no member has them, and Pooler
   * when some member publishes one (patronictl has no such column, so never without this).
   */
  extended?: boolean;
  /** Order each group as a replication tree, replicas indented with `+ ` under their upstream. */
  topology?: boolean;
}

export interface MemberListing {
  /** The table title, spaces included: ` Citus cluster: demo ` or ` Citus cluster: demo (group: 1, 7300...) `. */
  title: string;
  /** Every column, starting with Cluster (and Group for Citus); machine formats show them all. */
  columns: string[];
  /** How many leading columns the boxed table leaves out: Cluster, and Group when one group is shown. */
  tableSkip: number;
  rows: Cell[][];
  /** Notes for people (maintenance mode, a scheduled switchover), one string per line. */
  footer: string[];
}

const MB = 1024 * 1024;
const OPTIONAL_COLUMNS = ['Pending restart', 'Scheduled restart', 'Tags'] as const;

/** Python's round(): halves go to the even neighbour, so 2.5 MB shows as 2 as in patronictl. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const rest = x - floor;
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

function roleTitle(role: MemberSummary['role']): string {
  return role
    .split('_')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join(' ');
}

/**
 * The pooler a member publishes (`proxy_url`) as host:port; a value that is no postgres:// URL
 * is shown as it is, since the Citus manager ignores it and the operator should see why.
 */
function poolerOf(view: GroupView, name: string): string {
  const url = view.members.find((m) => m.name === name)?.data.proxy_url;
  if (url === undefined) return '';
  const address = hostPortFromUrl(url);
  return address === null ? url : `${address.host}:${address.port}`;
}

function hasTags(tags: TagMap | undefined): tags is TagMap {
  return tags !== undefined && Object.keys(tags).length > 0;
}

/** `schedule` of a `scheduled_restart` value, with the version condition when there is one. */
function scheduledRestart(value: unknown): string {
  if (typeof value !== 'object' || value === null) return '';
  const { schedule, postgres_version: version } = value as Record<string, unknown>;
  if (typeof schedule !== 'string') return '';
  return version === undefined ? schedule : `${schedule} if version < ${String(version)}`;
}

/**
 * Leader first, then each member under the replica it names in `replicatefrom` (when that is
 * another replica of the group) or under the leader. Unlike patronictl, members caught in a
 * `replicatefrom` cycle are shown under the leader instead of disappearing.
 */
export function topologyOrder(members: readonly MemberSummary[]): Array<{ member: MemberSummary; level: number }> {
  const leader = members.find((m) => m.role === 'leader');
  const replicas = members.filter((m) => m !== leader);
  const names = new Set(replicas.map((m) => m.name));
  const root = leader?.name ?? null;
  const children = new Map<string | null, MemberSummary[]>();
  for (const m of replicas) {
    const wanted = m.tags?.replicatefrom;
    const parent = typeof wanted === 'string' && wanted !== m.name && names.has(wanted) ? wanted : root;
    children.set(parent, [...(children.get(parent) ?? []), m]);
  }
  const out: Array<{ member: MemberSummary; level: number }> = [];
  const placed = new Set<string>();
  const visit = (parent: string | null, level: number): void => {
    for (const m of children.get(parent) ?? []) {
      if (placed.has(m.name)) continue;
      placed.add(m.name);
      out.push({ member: m, level });
      visit(m.name, level + 1);
    }
  };
  if (leader) out.push({ member: leader, level: 0 });
  visit(root, 1);
  for (const m of replicas) {
    if (placed.has(m.name)) continue;
    placed.add(m.name);
    out.push({ member: m, level: 1 });
    visit(m.name, 2);
  }
  return out;
}

/** Notes for one group, each possibly spanning lines, as patronictl words them. */
function serviceInfo(summary: ClusterSummary): string[] {
  const info: string[] = [];
  if (summary.pause) info.push('Maintenance mode: on');
  const switchover = summary.scheduled_switchover;
  if (switchover) {
    let note = `Switchover scheduled at: ${switchover.at}`;
    if (switchover.from !== undefined) note += `\n${'from'.padStart(24)}: ${switchover.from}`;
    if (switchover.to !== undefined) note += `\n${'to'.padStart(24)}: ${switchover.to}`;
    info.push(note);
  }
  return info;
}

export function listRows(view: ClusterView, options: ListRowsOptions): MemberListing {
  // Asking for a group makes it a Citus listing even when the configuration has no `citus`.
  const citus = options.citus || options.group !== null;
  const groups = view.groups
    .filter((g) => options.group === null || g.group === options.group)
    .map((g) => ({ number: g.group ?? options.group ?? 0, view: g, summary: summarizeGroup(g) }))
    .sort((a, b) => a.number - b.number);

  const columns = ['Cluster', 'Member', 'Host', 'Role', 'State', 'TL', 'Lag in MB'];
  if (citus) columns.splice(1, 0, 'Group');
  // Column choices look only at members with an address, as patronictl does.
  const addressed = groups.flatMap((g) => g.summary.members).filter((m) => m.host !== undefined);
  const present: Record<(typeof OPTIONAL_COLUMNS)[number], boolean> = {
    'Pending restart': addressed.some((m) => m.pending_restart === true),
    'Scheduled restart': addressed.some((m) => scheduledRestart(m.scheduled_restart) !== ''),
    Tags: addressed.some((m) => hasTags(m.tags)),
  };
  for (const c of OPTIONAL_COLUMNS) if (options.extended || present[c]) columns.push(c);
  // Last, so the columns scripts read by position with -e keep their places.
  const poolers = groups.some((g) =>
    g.summary.members.some((m) => m.host !== undefined && poolerOf(g.view, m.name) !== ''),
  );
  if (options.extended && poolers) columns.push('Pooler');
  // host:port only when the port tells members apart or is not the default.
  const withPort =
    addressed.some((m) => m.port !== undefined && m.port !== 5432) ||
    new Set(addressed.map((m) => m.host)).size < addressed.length;

  const rows: Cell[][] = [];
  for (const g of groups) {
    const ordered = options.topology
      ? topologyOrder(g.summary.members)
      : g.summary.members.map((member) => ({ member, level: 0 }));
    for (const { member: m, level } of ordered) {
      const values: Record<string, Cell> = {
        Cluster: options.scope,
        Group: g.number,
        Member: level > 0 ? `${' '.repeat((level - 1) * 2)}+ ${m.name}` : m.name,
        Host: m.host === undefined ? '' : withPort && m.port !== undefined ? `${m.host}:${m.port}` : m.host,
        Role: roleTitle(m.role),
        State: m.state,
        TL: m.timeline ?? '',
        'Lag in MB': m.lag === undefined ? '' : m.lag === 'unknown' ? 'unknown' : roundHalfEven(m.lag / MB),
        'Pending restart': m.pending_restart === true ? '*' : '',
        'Scheduled restart': scheduledRestart(m.scheduled_restart),
        Tags: m.tags ?? '',
        Pooler: poolerOf(g.view, m.name),
      };
      rows.push(columns.map((c) => values[c]));
    }
  }

  let details = '';
  if (options.group !== null) {
    const initialize = groups[0]?.view.initialize ?? null;
    const state = initialize === null ? 'uninitialized' : initialize === '' ? 'initializing' : initialize;
    details = ` (group: ${options.group}, ${state})`;
  }
  const title = ` ${citus ? 'Citus cluster' : 'Cluster'}: ${options.scope}${details} `;

  const footer: string[] = [];
  for (const g of groups) {
    const info = serviceInfo(g.summary);
    if (info.length === 0) continue;
    if (citus && options.group === null) footer.push(`Citus group: ${g.number}`);
    footer.push(...` ${info.join('\n ')}`.split('\n'));
  }

  return { title, columns, tableSkip: options.group !== null ? 2 : 1, rows, footer };
}
