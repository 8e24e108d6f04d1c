// Whether a pooler named in pg_dist_poolinfo accepts TCP connections. Citus does not check
// before it routes connections there, so the manager checks after it registered one and logs
// what it finds; a pooler that cannot be reached never holds a metadata change up.
import { connect } from 'node:net';

/** `host=... port=...` of a poolinfo value, or null when it names no TCP address. */
export function poolerAddress(poolinfo: string): { host: string; port: number } | null {
  const host = /(?:^|\s)host=('(?:[^'\\]|\\.)*'|\S+)/.exec(poolinfo)?.[1]?.replace(/^'|'$/g, '');
  const port = Number(/(?:^|\s)port=(\d+)/.exec(poolinfo)?.[1] ?? '5432');
  if (host === undefined || host.startsWith('/') || !Number.isInteger(port) || port <= 0 || port > 65535) return null;
  return { host, port };
}

/** Null when a TCP connection to the pooler opens within `timeoutMs`; otherwise why not. */
export function probePooler(poolinfo: string, timeoutMs = 1000): Promise<string | null> {
  const address = poolerAddress(poolinfo);
  if (address === null) return Promise.resolve(null);
  return new Promise((resolve) => {
    const socket = connect({ host: address.host, port: address.port });
    const done = (result: string | null): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs} ms`));
    socket.once('connect', () => done(null));
    socket.once('error', (err) => done(err.message));
  });
}
