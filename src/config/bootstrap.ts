// The `bootstrap` section: the dynamic settings a new cluster's `config` key starts from
// (`bootstrap.dcs`) and the initdb options of the member that creates the cluster.
import { DEFAULT_DYNAMIC_CONFIG, readDynamicConfig } from './dynamic.ts';
import { Findings } from './findings.ts';
import * as K from './keys.ts';
import { readToolOptions } from './toolOptions.ts';
import type { Config } from './types.ts';

/** Options that Shardherd passes itself; Patroni refuses them too. */
const INITDB_NOT_ALLOWED = ['pgdata', 'nosync', 'pwfile', 'sync-only', 'version'];

export function readBootstrap(value: unknown, f: Findings): Config['bootstrap'] {
  const map = K.readSection(value, 'bootstrap', K.BOOTSTRAP, f) ?? {};
  const dcs = readDynamicConfig(map.dcs, 'bootstrap.dcs', DEFAULT_DYNAMIC_CONFIG, f);
  const initdb =
    map.initdb === undefined || map.initdb === null
      ? []
      : (readToolOptions(map.initdb, 'bootstrap.initdb', INITDB_NOT_ALLOWED, f) ?? []);
  return { dcs, initdb };
}
