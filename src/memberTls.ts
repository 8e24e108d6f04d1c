// The REST API's TLS (restapi.certfile, keyfile, keyfile_password, cafile, ciphers): the files
// read once, for the agent's HTTPS server and for its requests to other members. Those requests
// go through node's global https agent (src/httpClient.ts), which this installs, as Patroni's
// members and patronictl do: the own certificate is shown as a client certificate, and a member's
// certificate must chain to the CA; the agent does not check host names (members publish
// addresses), the commands do.
import { readFileSync } from 'node:fs';
import type { RestapiTls } from './config/types.ts';
import { ShardherdError, errorText } from './errors.ts';

export interface TlsMaterial {
  cert: Buffer;
  key?: Buffer;
  passphrase?: string;
  ca?: Buffer;
  ciphers?: string;
}

function readNamed(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ShardherdError(`restapi.${key}: cannot read ${path}: ${errorText(err)}`);
  }
}

/** The files of `tls`; a file that cannot be read is an error naming its setting. */
export function readTlsMaterial(tls: RestapiTls): TlsMaterial {
  const material: TlsMaterial = { cert: readNamed(tls.certfile, 'certfile') };
  if (tls.keyfile !== undefined) material.key = readNamed(tls.keyfile, 'keyfile');
  if (tls.keyfile_password !== undefined) material.passphrase = tls.keyfile_password;
  if (tls.cafile !== undefined) material.ca = readNamed(tls.cafile, 'cafile');
  if (tls.ciphers !== undefined) material.ciphers = tls.ciphers;
  return material;
}

/**
 * Makes every later request of this process to a member's https API verify the member against
 * the CA (host names only with `checkHostnames`) and show this member's certificate.
 */
export async function installMemberTls(material: TlsMaterial, checkHostnames: boolean): Promise<void> {
  const https = (await import('node:https')).default;
  https.globalAgent = new https.Agent({
    ...material,
    keepAlive: false,
    rejectUnauthorized: true,
    ...(checkHostnames ? {} : { checkServerIdentity: () => undefined }),
  });
}
