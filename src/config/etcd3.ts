// The `etcd3` section: the etcd endpoints (Patroni's `hosts` list or comma-separated string, or
// a single `host`), the protocol, and the optional credentials and TLS files.
import { describe, Findings, join, readString } from './findings.ts';
import { formatHostPort, parseHostPort } from './hostPort.ts';
import * as K from './keys.ts';
import type { Config } from './types.ts';

export function readEtcd3(value: unknown, f: Findings): Config['etcd3'] | undefined {
  if (value === undefined || value === null)
    return f.problem(
      'etcd3',
      'required: Shardherd keeps its state in etcd (v3 API), e.g. etcd3: {hosts: [10.0.0.1:2379]}',
    );
  const map = K.readSection(value, 'etcd3', K.ETCD3, f);
  if (!map) return undefined;

  let hostsPath = 'etcd3.hosts';
  let items: unknown[] | undefined;
  if (map.hosts !== undefined && map.hosts !== null) {
    if (map.host !== undefined) f.warn('etcd3.host', 'ignored because etcd3.hosts is set');
    if (typeof map.hosts === 'string') items = map.hosts.split(',').map((h) => h.trim());
    else if (Array.isArray(map.hosts)) items = map.hosts;
    else
      f.problem('etcd3.hosts', `expected a list of host:port or a comma-separated string, got ${describe(map.hosts)}`);
  } else if (map.host !== undefined && map.host !== null) {
    hostsPath = 'etcd3.host';
    items = [map.host];
  } else {
    f.problem('etcd3.hosts', 'required (a list of host:port)');
  }
  let hosts: string[] | undefined;
  if (items) {
    if (items.length === 0 || (items.length === 1 && items[0] === ''))
      f.problem(hostsPath, 'must name at least one etcd endpoint');
    else {
      const parsed = items.map((item, i) =>
        parseHostPort(item, hostsPath === 'etcd3.host' ? hostsPath : join(hostsPath, i)),
      );
      for (const r of parsed) if (!r.ok) f.problem(r.problem.path, r.problem.message);
      if (parsed.every((r) => r.ok)) hosts = parsed.map((r) => (r.ok ? formatHostPort(r.value) : ''));
    }
  }

  let protocol: 'http' | 'https' | undefined = 'http';
  if (map.protocol !== undefined && map.protocol !== null) {
    const s = readString(map.protocol, 'etcd3.protocol', f);
    if (s === 'http' || s === 'https') protocol = s;
    else
      protocol =
        s === undefined
          ? undefined
          : f.problem('etcd3.protocol', `expected "http" or "https", got ${JSON.stringify(s)}`);
  }
  const optional = (key: 'username' | 'password' | 'cacert' | 'cert' | 'key'): string | undefined =>
    map[key] === undefined || map[key] === null
      ? undefined
      : readString(map[key], join('etcd3', key), f, { nonEmpty: true });
  const username = optional('username');
  const password = optional('password');
  const cacert = optional('cacert');
  const cert = optional('cert');
  const key = optional('key');
  if ((map.username === undefined) !== (map.password === undefined)) {
    f.problem(
      map.username === undefined ? 'etcd3.username' : 'etcd3.password',
      'etcd3.username and etcd3.password go together',
    );
  }
  if ((map.cert === undefined) !== (map.key === undefined)) {
    f.problem(map.cert === undefined ? 'etcd3.cert' : 'etcd3.key', 'etcd3.cert and etcd3.key go together');
  }
  if (!hosts || !protocol) return undefined;
  const out: Config['etcd3'] = { hosts, protocol };
  if (username !== undefined) out.username = username;
  if (password !== undefined) out.password = password;
  if (cacert !== undefined) out.cacert = cacert;
  if (cert !== undefined) out.cert = cert;
  if (key !== undefined) out.key = key;
  return out;
}
