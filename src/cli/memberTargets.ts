// What `restart`, `reload` and `reinit` share: picking the members a command acts on from the
// cluster etcd shows, asking before acting (unless --force), and POSTing to each member's REST API
// with one printed line per member.
import { createInterface } from 'node:readline/promises';
import { apiEndpoint } from '../dcs/memberUrl.ts';
import type { ClusterView, Member } from '../dcs/types.ts';
import { ShardherdError, errorText } from '../errors.ts';
import { isPrimaryRole } from '../dcs/role.ts';
import type { UserAuth } from '../config/types.ts';
import { httpRequest } from '../httpClient.ts';

export interface TargetMember {
  name: string;
  group: number | null;
  role: string;
  state: string;
  leader: boolean;
  apiUrl: string;
  /** The credentials its operations need (restapi.authentication of the command's file). */
  apiAuth?: UserAuth;
  member: Member;
}

export type RoleFilter = 'primary' | 'replica' | 'any';

/** Parser for `--role`: Patroni's words, `master` and `leader` mean primary. */
export function parseRoleFilter(value: string): RoleFilter {
  if (isPrimaryRole(value) || value === 'leader') return 'primary';
  if (value === 'replica' || value === 'any') return value;
  throw new ShardherdError(`unknown role ${JSON.stringify(value)}: expected primary, replica or any`);
}

/**
 * The members named (all members when none is named), restricted to `role`. Throws one line for a
 * name that is not a member, a name found in two groups, or a member without an api_url.
 */
export function selectMembers(view: ClusterView, names: string[], role: RoleFilter, auth?: UserAuth): TargetMember[] {
  const all: TargetMember[] = [];
  for (const g of view.groups) {
    for (const m of g.members) {
      all.push({
        name: m.name,
        group: g.group,
        role: m.data.role,
        state: m.data.state,
        leader: g.leader?.name === m.name,
        apiUrl: typeof m.data.api_url === 'string' ? m.data.api_url : '',
        ...(auth ? { apiAuth: auth } : {}),
        member: m,
      });
    }
  }
  let chosen = all;
  if (names.length > 0) {
    chosen = [];
    for (const name of names) {
      const found = all.filter((t) => t.name === name);
      if (found.length === 0) throw new ShardherdError(`${name} is not a member of the cluster`);
      if (found.length > 1)
        throw new ShardherdError(
          `${name} is a member of groups ${found.map((t) => t.group).join(' and ')}: give --group`,
        );
      if (!chosen.includes(found[0]!)) chosen.push(found[0]!);
    }
  }
  // Roles come from parsed member keys, where an older Patroni's `master` already reads `primary`.
  if (role !== 'any') chosen = chosen.filter((t) => (role === 'primary') === (t.leader || t.role === 'primary'));
  if (chosen.length === 0)
    throw new ShardherdError(
      names.length > 0 ? `none of ${names.join(', ')} has role ${role}` : `no member has role ${role}`,
    );
  for (const t of chosen) if (t.apiUrl === '') throw new ShardherdError(`${t.name} publishes no api_url`);
  return chosen;
}

/** `  g1-m1 (group 1, primary, running)` */
export function describeTarget(t: TargetMember): string {
  const group = t.group === null ? '' : `group ${t.group}, `;
  return `  ${t.name} (${group}${t.leader ? 'leader' : t.role}, ${t.state})`;
}

/**
 * Without --force: shows the plan and asks y/N on a terminal. A non-interactive stdin without
 * --force is refused: nobody could have confirmed.
 */
export async function confirmPlan(verb: string, targets: TargetMember[], force: boolean, extra = ''): Promise<void> {
  if (force) return;
  process.stderr.write(`Will ${verb}${extra}:\n${targets.map(describeTarget).join('\n')}\n`);
  if (!process.stdin.isTTY)
    throw new ShardherdError(
      `not ${verb.split(' ')[0]}ing: stdin is not a terminal, so nobody confirmed; pass --force`,
    );
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`Are you sure? [y/N] `)).trim();
    if (!/^y(es)?$/i.test(answer)) throw new ShardherdError('aborted');
  } finally {
    rl.close();
  }
}

export interface PostResult {
  status: number;
  text: string;
}

/** What a command prints for each member: `Success: ...` lines, or `Failed: <failure>: <answer>`. */
export interface OutcomeLines {
  /** The text after `Success: ` when the answer means success; null when it does not. */
  success(t: TargetMember, r: PostResult): string | null;
  /** The text after `Failed: `, before the member's answer. */
  failure(t: TargetMember): string;
}

/**
 * Sends one request per target, one after another, and prints one line for each; the exit code
 * becomes 1 when any failed. A member that did not answer shows the reason without a status.
 */
export async function postToEach(
  targets: readonly TargetMember[],
  send: (t: TargetMember) => Promise<PostResult>,
  lines: OutcomeLines,
): Promise<void> {
  let failed = false;
  for (const t of targets) {
    const r = await send(t);
    const success = lines.success(t, r);
    if (success !== null) process.stdout.write(`Success: ${success}\n`);
    else {
      failed = true;
      process.stdout.write(`Failed: ${lines.failure(t)}: ${r.status === 0 ? '' : `${r.status} `}${r.text}\n`);
    }
  }
  if (failed) process.exitCode = 1;
}

/** POSTs `body` (JSON) to `path` of the member's REST API; status 0 when it did not answer. */
export async function postToMember(
  t: TargetMember,
  path: string,
  body: unknown,
  timeoutMs: number,
  method: 'POST' | 'DELETE' = 'POST',
): Promise<PostResult> {
  try {
    const res = await httpRequest(apiEndpoint(t.apiUrl, path), { method, json: body, timeoutMs, auth: t.apiAuth });
    return { status: res.status, text: res.text.replace(/\s+/g, ' ').trim() };
  } catch (err) {
    return { status: 0, text: `no answer from ${t.apiUrl}: ${errorText(err)}` };
  }
}
