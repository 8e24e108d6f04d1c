// The `restapi` section: where the agent's REST API listens, the address peers and patronictl
// use to reach it (published as `api_url`), and the optional basic-auth credentials.
import { Findings, readString } from './findings.ts';
import { formatHostPort, isWildcardHost, parseHostPort, readConnectAddress, recorded } from './hostPort.ts';
import * as K from './keys.ts';
import type { Config, HostPort, UserAuth } from './types.ts';

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
  if (!listen || !connect) return undefined;
  return authentication ? { listen, connect_address: connect, authentication } : { listen, connect_address: connect };
}
