// Asks other members for their status over REST (GET /patroni), in parallel with a short
// timeout, and reduces each answer to what the leader race compares.
import { getJson } from '../httpClient.ts';
import type { GroupView } from '../dcs/types.ts';
import type { PeerAnswer, PeerPoll } from './types.ts';
import { errorText } from '../errors.ts';

const DEFAULT_TIMEOUT_MS = 2000;

/** Reduces a `/patroni` body to a PeerAnswer; a body without usable positions counts as unreachable. */
export function peerAnswerFromStatus(body: unknown): PeerAnswer {
  if (typeof body !== 'object' || body === null) return { kind: 'unreachable', error: 'answer is not a JSON object' };
  const status = body as Record<string, unknown>;
  const xlog = (status.xlog ?? {}) as Record<string, unknown>;
  const tags = (status.tags ?? {}) as Record<string, unknown>;
  const isPrimary = typeof xlog.location === 'number';
  const position = isPrimary
    ? (xlog.location as number)
    : Math.max(Number(xlog.received_location ?? 0) || 0, Number(xlog.replayed_location ?? 0) || 0);
  const nofailover = tags.nofailover === true;
  const priority = typeof tags.failover_priority === 'number' ? tags.failover_priority : nofailover ? 0 : 1;
  return {
    kind: 'answered',
    role: isPrimary ? 'primary' : 'replica',
    state: typeof status.state === 'string' ? status.state : 'unknown',
    walPosition: position,
    timeline: typeof status.timeline === 'number' ? status.timeline : 0,
    nofailover,
    failoverPriority: priority,
    ...(status.streamed_since_start === false && { notStreamed: true }),
  };
}

async function askOne(apiUrl: string, timeoutMs: number): Promise<PeerAnswer> {
  try {
    const { status, body } = await getJson(apiUrl, timeoutMs);
    if (status !== 200 && status !== 503) return { kind: 'unreachable', error: `HTTP ${status}` };
    return peerAnswerFromStatus(body);
  } catch (err) {
    return { kind: 'unreachable', error: errorText(err) };
  }
}

/** GETs `/patroni` of each named member (its `api_url`) at once; all answers within `timeoutMs`. */
export async function pollPeers(view: GroupView, names: string[], timeoutMs = DEFAULT_TIMEOUT_MS): Promise<PeerPoll> {
  const answers: Record<string, PeerAnswer> = {};
  await Promise.all(
    names.map(async (name) => {
      const member = view.members.find((m) => m.name === name);
      answers[name] = member?.data.api_url
        ? await askOne(member.data.api_url, timeoutMs)
        : { kind: 'unreachable', error: 'no api_url in its member key' };
    }),
  );
  return { answers };
}
