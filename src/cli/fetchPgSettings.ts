// pg_settings of a group's server, as `edit-config` checks parameters against it: asked from the
// group's leader (`GET /pg_settings` of its REST API), else from the other members in turn.
import { parsePgSettings, type PgSetting } from '../api/pgSettings.ts';
import { apiEndpoint } from '../dcs/memberUrl.ts';
import type { GroupView } from '../dcs/types.ts';
import { errorText, ShardherdError } from '../errors.ts';
import { httpRequest, type HttpAnswer } from '../httpClient.ts';
import { groupName } from './clusterSession.ts';

const TIMEOUT_MS = 5000;

async function askMember(apiUrl: string): Promise<PgSetting[] | string> {
  let response: HttpAnswer;
  try {
    response = await httpRequest(apiEndpoint(apiUrl, '/pg_settings'), { timeoutMs: TIMEOUT_MS });
  } catch (err) {
    return `no answer (${errorText(err)})`;
  }
  const text = response.text;
  if (response.status !== 200) return `HTTP ${response.status} ${text.replace(/\s+/g, ' ').trim()}`;
  let rows: PgSetting[] | null = null;
  try {
    rows = parsePgSettings(JSON.parse(text));
  } catch {
    rows = null;
  }
  return rows ?? 'an answer that is not a list of pg_settings rows';
}

/** The rows from the first member that answers, leader first; throws one line naming every attempt. */
export async function fetchPgSettings(view: GroupView): Promise<PgSetting[]> {
  const leader = view.leader?.name ?? null;
  const members = [...view.members].sort((a, b) => Number(b.name === leader) - Number(a.name === leader));
  const attempts: string[] = [];
  for (const m of members) {
    if (typeof m.data.api_url !== 'string' || m.data.api_url === '') continue;
    const answer = await askMember(m.data.api_url);
    if (typeof answer !== 'string') return answer;
    attempts.push(`${m.name}: ${answer}`);
  }
  const why = attempts.length === 0 ? 'no member publishes an api_url' : attempts.join('; ');
  throw new ShardherdError(
    `cannot check postgresql.parameters of ${groupName(view.group)} against the server's pg_settings, ` +
      `so nothing was written: ${why}`,
  );
}
