// POST /failsafe to the members listed in the `failsafe` key, all at once, each with a short
// timeout: a primary without etcd keeps running only while every one of them accepts it.
import type { UserAuth } from '../config/types.ts';
import { httpRequest } from '../httpClient.ts';

const TIMEOUT_MS = 2000;

/** `http://host:port/failsafe` from a member's `api_url` (`http://host:port/patroni`). */
export function failsafeUrl(apiUrl: string): string | null {
  try {
    const url = new URL(apiUrl);
    url.pathname = '/failsafe';
    url.search = '';
    return url.toString();
  } catch {
    return null;
  }
}

/** A FailsafeCaller, sending `auth` (the members' restapi.authentication) when set. */
export async function callFailsafe(
  members: Record<string, string>,
  body: Record<string, unknown>,
  auth?: UserAuth,
): Promise<Record<string, boolean>> {
  const answers: Record<string, boolean> = {};
  await Promise.all(
    Object.entries(members).map(async ([name, apiUrl]) => {
      const url = failsafeUrl(apiUrl);
      if (url === null) {
        answers[name] = false;
        return;
      }
      try {
        const res = await httpRequest(url, { method: 'POST', json: body, timeoutMs: TIMEOUT_MS, auth });
        answers[name] = res.status === 200;
      } catch {
        // Unreachable or too slow: not accepted.
        answers[name] = false;
      }
    }),
  );
  return answers;
}
