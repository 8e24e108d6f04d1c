// When the user's callbacks fire (postgresql.callbacks), told from what the HA loop does to its
// local PostgreSQL: a decorator of that port, so the loop and the executor stay unaware of them.
// As in Patroni: on_start once PostgreSQL answers (also a server the agent found running),
// on_restart after a restart, on_stop after a stop of a running server, on_reload after a reload,
// and on_role_change after a promotion, or in place of on_start when a server that last ran in
// the other role comes up (a stopped primary started again as a replica).
import type { CallbackAction } from '../config/types.ts';
import type { CallbackRole } from '../postgres/callbacks.ts';
import type { LocalPostgres } from './ports.ts';

/** Starts the callback of `action` with `role`; never throws, never waits for it. */
export type CallbackFire = (action: CallbackAction, role: CallbackRole) => void;

export function withCallbacks(inner: LocalPostgres, fire: CallbackFire): LocalPostgres {
  /** The role the last callback named; null before any. */
  let announced: CallbackRole | null = null;
  /**
   * A start or restart whose callback waits for PostgreSQL to answer a status query, which tells
   * its role for sure (the configuration on disk may not be rendered yet); at first, the
   * agent's own start: a server found running gets its on_start too.
   */
  let pending: 'on_start' | 'on_restart' | null = 'on_start';
  const announce = (action: CallbackAction, role: CallbackRole): void => {
    announced = role;
    fire(action, role);
  };
  const overrides: Partial<LocalPostgres> = {
    async status() {
      const status = await inner.status();
      if (pending !== null && inner.isRunning) {
        const action = announced !== null && announced !== status.role ? 'on_role_change' : pending;
        pending = null;
        announce(action, status.role);
      }
      return status;
    },
    start() {
      pending = 'on_start';
      return inner.start();
    },
    restart() {
      pending = 'on_restart';
      return inner.restart();
    },
    async stop(mode) {
      const wasRunning = inner.isRunning;
      await inner.stop(mode);
      // A server no callback announced (it never answered) is not announced gone either.
      if (wasRunning && announced !== null) announce('on_stop', announced);
    },
    async promote() {
      await inner.promote();
      pending = null;
      announce('on_role_change', 'primary');
    },
    reload() {
      inner.reload();
      if (inner.isRunning && announced !== null) fire('on_reload', announced);
    },
  };
  return new Proxy(inner, {
    // Everything else is the inner port's own, its getters and methods bound to it.
    get(target, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof LocalPostgres];
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
