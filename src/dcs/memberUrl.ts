// Addresses inside member keys: `conn_url`, `proxy_url` (postgres:// URLs) and `api_url`.

const DEFAULT_PORT = 5432;

/**
 * Host and port of a `postgres://` or `postgresql://` URL (Patroni's `conn_url` and
 * `proxy_url`); null when the text is not such a URL. IPv6 hosts lose their brackets, as
 * `pg_dist_node.nodename` holds the bare address.
 */
export function hostPortFromUrl(url: string): { host: string; port: number } | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') return null;
  let host = parsed.hostname;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  try {
    host = decodeURIComponent(host);
  } catch {
    return null;
  }
  if (host === '') return null;
  const port = parsed.port === '' ? DEFAULT_PORT : Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host, port };
}

/** `postgres://host:port/postgres`, the `conn_url` a member publishes (IPv6 in brackets). */
export function connUrl(host: string, port: number, database = 'postgres'): string {
  return `postgres://${host.includes(':') ? `[${host}]` : host}:${port}/${database}`;
}

/** `http://host:port/patroni` (https with `secure`), the `api_url` a member publishes. */
export function apiUrl(host: string, port: number, secure = false): string {
  return `${secure ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}/patroni`;
}

/** The host of every member's `api_url` in `groups` (IPv6 without brackets); members without one are left out. */
export function apiHosts(groups: ReadonlyArray<{ members: ReadonlyArray<{ data: { api_url?: unknown } }> }>): string[] {
  const hosts: string[] = [];
  for (const member of groups.flatMap((g) => g.members)) {
    if (typeof member.data.api_url !== 'string') continue;
    try {
      const host = new URL(member.data.api_url).hostname.replace(/^\[(.*)\]$/, '$1');
      if (host !== '') hosts.push(host);
    } catch {
      // Not a URL: nobody to allow.
    }
  }
  return hosts;
}

/** Another endpoint of the REST API a member's `api_url` belongs to (`/citus`, `/switchover`, ...). */
export function apiEndpoint(memberApiUrl: string, path: string): string {
  return new URL(path, memberApiUrl).href;
}

/**
 * Where a member's PostgreSQL listens, from the `conn_url` of its key; null when the key has no
 * usable one. Every reader of a peer's address goes through here.
 */
export function memberAddress(data: { conn_url?: unknown }): { host: string; port: number } | null {
  return typeof data.conn_url === 'string' ? hostPortFromUrl(data.conn_url) : null;
}
