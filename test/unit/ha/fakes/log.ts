// A Logger that hands every line (debug and up) to a callback instead of writing it: tests read
// what the HA loop said, and the group simulator keeps it as the trace of a run.
import { pino } from 'pino';
import type { Logger } from '../../../../src/log.ts';

export interface LogLine {
  /** pino's number: 20 debug, 30 info, 40 warn, 50 error. */
  level: number;
  msg: string;
  fields: Record<string, unknown>;
}

export function recordingLogger(onLine: (line: LogLine) => void): Logger {
  return pino(
    {
      level: 'debug',
      hooks: {
        // Nothing is serialized or written: the line goes to the callback as the caller gave it.
        logMethod(args: unknown[], _method, level: number) {
          const [first, second] = args;
          if (typeof first === 'string') onLine({ level, msg: first, fields: {} });
          else
            onLine({
              level,
              msg: typeof second === 'string' ? second : '',
              fields: (first ?? {}) as Record<string, unknown>,
            });
        },
      },
    },
    { write: () => undefined },
  );
}
