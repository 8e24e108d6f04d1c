// Shared setup for the etcd layer's integration tests: Dcs clients on a harness etcd.
import { Dcs, type DcsOptions } from '../../../src/dcs/dcs.ts';
import type { MemberData } from '../../../src/dcs/types.ts';
import { onCleanup, type EtcdServer } from '../../harness/index.ts';

/** A Dcs on `etcd` (only its port is used), closed at cleanup. */
export function dcsOn(
  etcd: Pick<EtcdServer, 'clientPort'>,
  options: Partial<DcsOptions> & Pick<DcsOptions, 'scope'>,
): Dcs {
  const dcs = new Dcs({
    hosts: [`127.0.0.1:${etcd.clientPort}`],
    namespace: 'service',
    group: null,
    retryTimeout: 10,
    ttl: 30,
    ...options,
  });
  onCleanup(`dcs client ${options.scope}`, () => dcs.close());
  return dcs;
}

/** Member data as a running Patroni member publishes it. */
export function memberData(host: string, role: 'primary' | 'replica', extra: Partial<MemberData> = {}): MemberData {
  return {
    conn_url: `postgres://${host}:5432/postgres`,
    api_url: `http://${host}:8008/patroni`,
    state: role === 'primary' ? 'running' : 'streaming',
    role,
    version: '3.0.2',
    ...extra,
  };
}
