// The `restapi` section: where the agent's REST API listens, the address peers and patronictl
// use to reach it (published as `api_url`), and the optional basic-auth credentials.
import { isIP } from 'node:net';
import { Findings, join, readBool, readScalarMap, readString, readStringList } from './findings.ts';
import { formatHostPort, isWildcardHost, parseHostPort, readConnectAddress, recorded } from './hostPort.ts';
import * as K from './keys.ts';
import type { Config, HostPort, RestapiTls, UserAuth } from './types.ts';

/** `restapi.authentication`: the credentials the REST API's operations need; undefined when absent. */
export function readRestapiAuthentication(value: unknown, f: Findings): UserAuth | undefined {
  if (value === undefined || value === null) return undefined;
  const auth = K.readSection(value, 'restapi.authentication', K.RESTAPI_AUTH, f);
  if (!auth) return undefined;
  const username =
    auth.username === undefined
      ? f.problem('restapi.authentication.username', 'required')
      : readString(auth.username, 'restapi.authentication.username', f, { nonEmpty: true });
  const password =
    auth.password === undefined
      ? f.problem('restapi.authentication.password', 'required')
      : readString(auth.password, 'restapi.authentication.password', f);
  return username !== undefined && password !== undefined ? { username, password } : undefined;
}

/** `restapi.allowlist`: each entry an address, a network in CIDR notation, or a host name. */
function readAllowlist(value: unknown, f: Findings): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const entries = readStringList(value, 'restapi.allowlist', f);
  if (entries === undefined) return undefined;
  let valid = true;
  entries.forEach((entry, i) => {
    const problem = allowlistEntryProblem(entry);
    if (problem === null) return;
    f.problem(join('restapi.allowlist', i), problem);
    valid = false;
  });
  return valid ? entries : undefined;
}

/** What is wrong with one allowlist entry, or null. Host names are resolved only when used. */
export function allowlistEntryProblem(entry: string): string | null {
  if (entry.trim() === '') return 'must not be empty';
  if (!entry.includes('/')) return /^[A-Za-z0-9.:_-]+$/.test(entry) ? null : `not an address or host name: "${entry}"`;
  const [address = '', bits = '', ...rest] = entry.split('/');
  const family = isIP(address);
  const prefix = /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (rest.length > 0 || family === 0 || !(prefix <= (family === 4 ? 32 : 128)))
    return `not a network in CIDR notation (address/prefix): "${entry}"`;
  return null;
}

const VERIFY_CLIENT = ['none', 'optional', 'required'] as const;

/** certfile and the settings that go with it; the others without certfile are refused, not ignored. */
export function readRestapiTls(map: Record<string, unknown>, f: Findings): RestapiTls | undefined {
  const given = (key: string): boolean => map[key] !== undefined && map[key] !== null;
  const text = (key: string): string | undefined =>
    given(key) ? readString(map[key], join('restapi', key), f, { nonEmpty: true }) : undefined;
  if (!given('certfile')) {
    for (const key of ['keyfile', 'keyfile_password', 'cafile', 'ciphers', 'verify_client'])
      if (given(key)) f.problem(join('restapi', key), 'needs restapi.certfile (without it the API is plain HTTP)');
    return undefined;
  }
  const certfile = text('certfile');
  let verify: RestapiTls['verify_client'] = 'none';
  if (given('verify_client')) {
    const value = String(map.verify_client).toLowerCase();
    if ((VERIFY_CLIENT as readonly string[]).includes(value)) verify = value as RestapiTls['verify_client'];
    else
      f.problem(
        'restapi.verify_client',
        `expected one of ${VERIFY_CLIENT.join(', ')}, got ${JSON.stringify(map.verify_client)}`,
      );
  }
  const tls: Partial<RestapiTls> = { verify_client: verify };
  for (const key of ['keyfile', 'keyfile_password', 'cafile', 'ciphers'] as const) {
    const value = text(key);
    if (value !== undefined) tls[key] = value;
  }
  return certfile === undefined ? undefined : { ...tls, certfile, verify_client: verify };
}

/** http_extra_headers, with https_extra_headers over them when the API is served over TLS. */
function readExtraHeaders(
  map: Record<string, unknown>,
  https: boolean,
  f: Findings,
): Record<string, string> | undefined {
  const read = (key: string): Record<string, string> => {
    const headers = readScalarMap(map[key], join('restapi', key), f) ?? {};
    return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, String(value)]));
  };
  const headers = { ...read('http_extra_headers'), ...(https ? read('https_extra_headers') : {}) };
  return Object.keys(headers).length > 0 ? headers : undefined;
}

export function readRestapi(value: unknown, f: Findings): Config['restapi'] | undefined {
  if (value === undefined || value === null) return f.problem('restapi', 'required (at least restapi.listen)');
  const map = K.readSection(value, 'restapi', K.RESTAPI, f);
  if (!map) return undefined;
  const listen =
    map.listen === undefined || map.listen === null
      ? f.problem('restapi.listen', 'required (host:port)')
      : recorded(parseHostPort(map.listen, 'restapi.listen'), f);
  let connect: HostPort | undefined;
  if (map.connect_address !== undefined && map.connect_address !== null) {
    connect = readConnectAddress(map.connect_address, 'restapi.connect_address', f);
  } else if (listen) {
    if (isWildcardHost(listen.host)) {
      f.problem(
        'restapi.connect_address',
        `required when restapi.listen is a wildcard address (${formatHostPort(listen)})`,
      );
    } else connect = listen;
  }
  const authentication = readRestapiAuthentication(map.authentication, f);
  const allowlist = readAllowlist(map.allowlist, f);
  const tls = readRestapiTls(map, f);
  const extraHeaders = readExtraHeaders(map, tls !== undefined, f);
  const includeMembers =
    map.allowlist_include_members === undefined || map.allowlist_include_members === null
      ? undefined
      : readBool(map.allowlist_include_members, 'restapi.allowlist_include_members', f);
  if (!listen || !connect) return undefined;
  const restapi: Config['restapi'] = { listen, connect_address: connect };
  if (authentication) restapi.authentication = authentication;
  if (allowlist) restapi.allowlist = allowlist;
  if (includeMembers !== undefined) restapi.allowlist_include_members = includeMembers;
  if (tls) restapi.tls = tls;
  if (extraHeaders) restapi.extra_headers = extraHeaders;
  return restapi;
}
