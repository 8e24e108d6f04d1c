// The agent's logger: pino, one JSON event per line; pretty output only when stdout is a terminal.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(
  options: { level?: string; name?: string; bindings?: Record<string, unknown> } = {},
): Logger {
  const level = options.level ?? process.env.SHARDHERD_LOG_LEVEL ?? 'info';
  const transport = process.stdout.isTTY
    ? { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } }
    : undefined;
  const base = { name: options.name ?? 'shardherd', ...options.bindings };
  try {
    return pino({ level, base, transport });
  } catch {
    // pino-pretty is a dev dependency; fall back to JSON lines when it is absent.
    return pino({ level, base });
  }
}

/** A logger that drops everything, for pure-logic tests and library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
