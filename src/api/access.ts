// Who may call the REST API's operations: every request but GET, HEAD and OPTIONS (switchover,
// restart, reload, reinitialize, /config writes, /failsafe, /citus), as Patroni's check_access.
// With restapi.authentication they need HTTP Basic with those credentials, read from the live
// configuration at each request, so a reload applies at once; status and health paths stay open.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { UserAuth } from '../config/types.ts';
import { basicAuthorization } from '../httpClient.ts';

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Why an Authorization header does not grant `expected`, or null when it does (or none is required). */
export function authRefusal(expected: UserAuth | undefined, header: string | undefined): string | null {
  if (expected === undefined) return null;
  if (header === undefined) return 'no auth header received';
  const want = Buffer.from(basicAuthorization(expected));
  const got = Buffer.from(header);
  return got.length === want.length && timingSafeEqual(got, want) ? null : 'not authenticated';
}

/** Refuses operations without the configured credentials: 401 with a Basic challenge. */
export function registerAccessCheck(app: FastifyInstance, authentication: () => UserAuth | undefined): void {
  app.addHook('onRequest', async (request, reply) => {
    if (READ_METHODS.has(request.method)) return;
    const refusal = authRefusal(authentication(), request.headers.authorization);
    if (refusal === null) return;
    request.log.warn(
      { method: request.method, url: request.url, from: request.ip, reason: refusal },
      'api request refused',
    );
    return reply
      .code(401)
      .header('www-authenticate', 'Basic realm="Shardherd"')
      .type('application/json')
      .send(JSON.stringify({ error: refusal }));
  });
}
