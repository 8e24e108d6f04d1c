// Who may call the REST API's operations: every request but GET, HEAD and OPTIONS (switchover,
// restart, reload, reinitialize, /config writes, /failsafe, /citus), as Patroni's check_access.
// With restapi.allowlist (or allowlist_include_members) only those addresses may, 403 otherwise;
// with restapi.authentication they need HTTP Basic with those credentials, 401 otherwise. The
// rules are read from the live configuration at each request, so a reload applies at once; host
// names are resolved then too. Status and health paths stay open.
import { timingSafeEqual } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Config, UserAuth } from '../config/types.ts';
import { errorText } from '../errors.ts';
import { basicAuthorization } from '../httpClient.ts';

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export type AccessRules = Pick<Config['restapi'], 'authentication' | 'allowlist' | 'allowlist_include_members'>;

export interface AccessSources {
  /** The restapi settings in force. */
  rules: () => AccessRules;
  /** Hosts of the own group's REST APIs as last seen (for allowlist_include_members). */
  memberHosts: () => string[];
  /**
   * Hosts of the other groups' members, asked only when the own group's did not allow the client
   * (on a Citus coordinator, the workers that send POST /citus); none when absent.
   */
  otherMemberHosts?: () => Promise<string[]>;
  /** A host name's addresses; DNS by default. */
  resolve?: (host: string) => Promise<string[]>;
}

/** Why an Authorization header does not grant `expected`, or null when it does (or none is required). */
export function authRefusal(expected: UserAuth | undefined, header: string | undefined): string | null {
  if (expected === undefined) return null;
  if (header === undefined) return 'no auth header received';
  const want = Buffer.from(basicAuthorization(expected));
  const got = Buffer.from(header);
  return got.length === want.length && timingSafeEqual(got, want) ? null : 'not authenticated';
}

/**
 * Whether `ip` is one of `entries` (addresses, CIDR networks, host names) or `hosts` (addresses
 * or host names). A name that does not resolve allows nobody; `onError` hears of it.
 */
export async function allowed(
  ip: string,
  entries: string[],
  resolve: (host: string) => Promise<string[]>,
  onError: (entry: string, err: unknown) => void,
): Promise<boolean> {
  const list = new BlockList();
  const add = (address: string): void => list.addAddress(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  for (const entry of entries) {
    if (entry.includes('/')) {
      const [network = '', prefix = ''] = entry.split('/');
      list.addSubnet(network, Number(prefix), isIP(network) === 6 ? 'ipv6' : 'ipv4');
    } else if (isIP(entry) !== 0) add(entry);
    else {
      try {
        for (const address of await resolve(entry)) add(address);
      } catch (err) {
        onError(entry, err);
      }
    }
  }
  // An IPv4 client of a dual-stack listener shows as ::ffff:a.b.c.d.
  const client = ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  return list.check(client, isIP(client) === 6 ? 'ipv6' : 'ipv4');
}

const dnsResolve = async (host: string): Promise<string[]> => (await lookup(host, { all: true })).map((a) => a.address);

function refuse(reply: FastifyReply, code: 401 | 403, error: string): FastifyReply {
  if (code === 401) reply.header('www-authenticate', 'Basic realm="Shardherd"');
  return reply.code(code).type('application/json').send(JSON.stringify({ error }));
}

/**
 * Refuses operations from outside the allowlist (403), without a valid client certificate when
 * `verifyClient` asks for one (403), and without the configured credentials (401).
 */
export function registerAccessCheck(
  app: FastifyInstance,
  sources: AccessSources,
  verifyClient: 'none' | 'optional' | 'required' = 'none',
): void {
  const resolve = sources.resolve ?? dnsResolve;
  app.addHook('onRequest', async (request, reply) => {
    if (READ_METHODS.has(request.method)) return;
    const rules = sources.rules();
    const fields = { method: request.method, url: request.url, from: request.ip };
    if (rules.allowlist !== undefined || rules.allowlist_include_members === true) {
      const members = rules.allowlist_include_members === true;
      const entries = [...(rules.allowlist ?? []), ...(members ? sources.memberHosts() : [])];
      const onError = (entry: string, err: unknown) =>
        request.log.error({ entry, err: errorText(err) }, 'cannot resolve an allowlist host');
      const others = async (): Promise<boolean> => {
        if (!members || sources.otherMemberHosts === undefined) return false;
        try {
          return await allowed(request.ip, await sources.otherMemberHosts(), resolve, onError);
        } catch (err) {
          request.log.error({ err: errorText(err) }, "cannot read the other groups' members for the allowlist");
          return false;
        }
      };
      if (!(await allowed(request.ip, entries, resolve, onError)) && !(await others())) {
        request.log.warn({ ...fields, reason: 'not in the allowlist' }, 'api request refused');
        return refuse(reply, 403, 'access is denied');
      }
    }
    if (verifyClient !== 'none' && !(request.raw.socket as TLSSocket).authorized) {
      request.log.warn({ ...fields, reason: 'no valid client certificate' }, 'api request refused');
      return refuse(reply, 403, 'client certificate required');
    }
    const refusal = authRefusal(rules.authentication, request.headers.authorization);
    if (refusal === null) return;
    request.log.warn({ ...fields, reason: refusal }, 'api request refused');
    return refuse(reply, 401, refusal);
  });
}
