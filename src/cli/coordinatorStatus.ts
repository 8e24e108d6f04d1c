// `GET /citus` of the coordinator group's leader, where the Citus manager runs: the metadata it
// keeps, and the scale work (rebalancer, placements, removals) that remove-group and list -e show.
import type { CitusStatusBody } from '../api/controlRoutes.ts';
import { apiEndpoint } from '../dcs/memberUrl.ts';
import type { ClusterView } from '../dcs/types.ts';
import { errorText } from '../errors.ts';
import { httpRequest, type HttpAnswer } from '../httpClient.ts';

const TIMEOUT_MS = 5000;

/** The manager's status, or why it could not be had (one phrase, fit after "cannot ask the coordinator: "). */
export async function fetchCoordinatorStatus(cluster: ClusterView): Promise<CitusStatusBody | string> {
  const coordinator = cluster.groups.find((g) => g.group === 0);
  const leader = coordinator?.leader?.name;
  if (coordinator === undefined || leader === undefined) return 'group 0 has no leader';
  const url = coordinator.members.find((m) => m.name === leader)?.data.api_url;
  if (!url) return `group 0's leader ${leader} publishes no api_url`;
  let response: HttpAnswer;
  try {
    response = await httpRequest(apiEndpoint(url, '/citus'), { timeoutMs: TIMEOUT_MS });
  } catch (err) {
    return `${leader} (${url}) does not answer: ${errorText(err)}`;
  }
  const text = response.text;
  if (response.status !== 200) return `${leader} answers HTTP ${response.status}: ${text.replace(/\s+/g, ' ').trim()}`;
  try {
    const body = JSON.parse(text) as CitusStatusBody;
    if (typeof body === 'object' && body !== null && 'metadata' in body) return body;
  } catch {
    // reported below
  }
  return `${leader} answers something that is not the Citus manager's status`;
}
