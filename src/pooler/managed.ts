// The agent's entry to the managed PgBouncer: a supervisor when the member configuration has a
// `pgbouncer` section, reading the live configuration at every start and reload.
import type { Config, HostPort } from '../config/types.ts';
import { PoolerError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { pgbouncerSettings } from './render.ts';
import { PgbouncerSupervisor } from './supervisor.ts';

/**
 * null without a `pgbouncer` section. `server` is how the agent reaches its own PostgreSQL; it is
 * asked again at every start, as `config` may have been reloaded in place.
 */
export function managedPgbouncer(config: Config, server: () => HostPort, log: Logger): PgbouncerSupervisor | null {
  if (config.pgbouncer === null) return null;
  return new PgbouncerSupervisor({
    bin: config.pgbouncer.bin,
    settings: () => {
      const settings = pgbouncerSettings(config, server());
      if (settings === null) throw new PoolerError('pgbouncer', 'the pgbouncer section is gone from the configuration');
      return settings;
    },
    log,
  });
}
