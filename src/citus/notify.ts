// A worker leader's half of the pause protocol (docs/design.md, "Pause protocol"): POST /citus to
// the coordinator leader before it stops being primary (before_demote) and once it runs as the
// new primary (after_promote). Patroni's body, so a Patroni coordinator understands it too.
import type { UserAuth } from '../config/types.ts';
import { httpRequest } from '../httpClient.ts';
import { apiEndpoint } from '../dcs/memberUrl.ts';
import type { ClusterView } from '../dcs/types.ts';
import { groupOf } from '../dcs/view.ts';
import { errorText } from '../errors.ts';
import { COORDINATOR_GROUP } from './types.ts';

/** The body of `POST /citus` as Patroni sends it: `timeout` and `cooldown` in seconds. */
export interface CitusEventBody {
  type: 'before_demote' | 'after_promote';
  group: number;
  /** The sending member. */
  leader: string;
  /** Seconds to the pause's hard deadline (Patroni sends its ttl). */
  timeout: number;
  /** Seconds (Patroni sends its retry_timeout); the coordinator turns it into lock_cooldown ms. */
  cooldown: number;
}

export type NotifyOutcome =
  | { kind: 'answered'; ok: boolean; status: number; message: string; coordinator: string; ms: number }
  | { kind: 'failed'; error: string; coordinator: string; ms: number }
  | { kind: 'noCoordinator'; why: string };

/** The coordinator leader's name and `/citus` URL in a view holding group 0, or why there is none. */
export function coordinatorEndpoint(view: ClusterView): { name: string; url: string } | { why: string } {
  const group = groupOf(view, COORDINATOR_GROUP);
  const leader = group.leader?.name;
  if (!leader) return { why: 'the coordinator group has no leader' };
  const apiUrl = group.members.find((m) => m.name === leader)?.data.api_url;
  if (!apiUrl) return { why: `coordinator leader ${leader} publishes no api_url` };
  try {
    return { name: leader, url: apiEndpoint(apiUrl, '/citus') };
  } catch {
    return { why: `coordinator leader ${leader} publishes an unusable api_url ${JSON.stringify(apiUrl)}` };
  }
}

/**
 * Sends one event to the coordinator leader and waits for its answer at most `timeoutMs`, with
 * `auth` (the members' restapi.authentication) when set. Never throws.
 */
export async function notifyCoordinator(
  view: ClusterView,
  body: CitusEventBody,
  timeoutMs: number,
  auth?: UserAuth,
): Promise<NotifyOutcome> {
  const target = coordinatorEndpoint(view);
  if ('why' in target) return { kind: 'noCoordinator', why: target.why };
  const started = performance.now();
  const ms = (): number => Math.round(performance.now() - started);
  try {
    const response = await httpRequest(target.url, { method: 'POST', json: body, timeoutMs, auth });
    return {
      kind: 'answered',
      ok: response.status >= 200 && response.status < 300,
      status: response.status,
      message: answerMessage(response.text),
      coordinator: target.name,
      ms: ms(),
    };
  } catch (err) {
    return { kind: 'failed', error: errorText(err), coordinator: target.name, ms: ms() };
  }
}

/** `{"message"}`/`{"error"}` bodies and Patroni's plain-text answers, as one line. */
function answerMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'object' && parsed !== null) {
      const o = parsed as Record<string, unknown>;
      if (typeof o.message === 'string') return o.message;
      if (typeof o.error === 'string') return o.error;
    }
  } catch {
    // Plain text.
  }
  return text.replace(/\s+/g, ' ').trim();
}
