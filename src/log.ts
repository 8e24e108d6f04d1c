// The agent's logger: pino, one JSON event per line, pretty only when stdout is a terminal, or
// into a size-rotated file under `log.dir`. Every line carries the stable fields `scope`, `group`,
// `member` and `role` (the agent's own unless the event names another), beside the event's own
// `action`, `reason` and `duration_ms` where it has them.
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { RotatingFile } from './logFile.ts';

export type { Logger };

/** The log file's name under `log.dir`. */
export const LOG_FILE_NAME = 'shardherd.log';

export interface LoggerOptions {
  level?: string;
  name?: string;
  /** Fields on every line that an event's own fields of the same name replace (scope, group, member). */
  identity?: Record<string, unknown>;
  /** The agent's role now (`primary`, `replica`, ...), read for each line; omitted while undefined. */
  role?: () => string | undefined;
  /** Patroni's `log.dir`, `log.file_size`, `log.file_num`: a rotated file instead of stdout. */
  file?: { dir: string; fileSize: number; fileNum: number };
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.SHARDHERD_LOG_LEVEL ?? 'info';
  const identity = options.identity ?? {};
  const role = options.role;
  // Merged under each event's fields (pino's default merge), so one line never has a key twice.
  const mixin = (): Record<string, unknown> => {
    const now = role?.();
    return now === undefined ? { ...identity } : { ...identity, role: now };
  };
  const settings = { level, base: { name: options.name ?? 'shardherd' }, mixin };
  if (options.file) {
    const { dir, fileSize, fileNum } = options.file;
    return pino(settings, new RotatingFile({ path: join(dir, LOG_FILE_NAME), maxBytes: fileSize, keep: fileNum }));
  }
  if (process.stdout.isTTY) {
    const pretty = { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name,scope' };
    try {
      return pino({ ...settings, transport: { target: 'pino-pretty', options: pretty } });
    } catch {
      // pino-pretty is a dev dependency; JSON lines when it is absent.
    }
  }
  return pino(settings);
}

/** A logger that drops everything, for pure-logic tests and library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
