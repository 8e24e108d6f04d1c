// Typed errors shared by every layer: each names the field, key or command that failed.

/** The message of anything thrown, for one log field or one line of output. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class ShardherdError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export interface ConfigProblem {
  /** Dotted path of the offending field, e.g. `postgresql.listen`. */
  path: string;
  message: string;
}

/** Invalid configuration; carries every problem found, not just the first. */
export class ConfigError extends ShardherdError {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('\n'));
    this.problems = problems;
  }
}

/** An etcd operation failed or timed out; `key` names what it was about. */
export class DcsError extends ShardherdError {
  readonly key: string;
  constructor(key: string, message: string, options?: { cause?: unknown }) {
    super(`${key}: ${message}`, options);
    this.key = key;
  }
}

/** A step of some work failed; `command` names it, and the message starts with it. */
class CommandError extends ShardherdError {
  readonly command: string;
  constructor(command: string, message: string, options?: { cause?: unknown }) {
    super(`${command}: ${message}`, options);
    this.command = command;
  }
}

/** A PostgreSQL command or query failed; `command` names it (e.g. `pg_basebackup`, `promote`). */
export class PostgresError extends CommandError {}

/** The managed PgBouncer could not be set up or run; `command` names the step (e.g. `openssl`, `pgbouncer`). */
export class PoolerError extends CommandError {}
