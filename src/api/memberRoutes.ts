// Write endpoints that act on this member only, with Patroni's semantics and codes: POST/DELETE
// /restart, POST /reload, POST /reinitialize. Bodies are validated here (restartRequest.ts); the
// agent carries them out through MemberRequestControl. Answers are one line of text, as Patroni's.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { parseReinitializeRequest, parseRestartRequest, type RestartConditions } from './restartRequest.ts';
import type { ControlAnswer } from './types.ts';

export interface MemberRequestControl {
  isPaused(): boolean;
  /** Restart now; resolves once PostgreSQL accepts connections again, it failed, or a bounded wait ended. */
  restart(conditions: RestartConditions): Promise<ControlAnswer>;
  /** False when another restart is scheduled already. */
  scheduleRestart(at: number, schedule: string, conditions: RestartConditions): boolean;
  /** False when no restart is scheduled. */
  cancelScheduledRestart(): boolean;
  /** Re-reads the configuration file and applies it (202 once accepted). */
  reload(): Promise<ControlAnswer>;
  /** Starts a re-clone of this member (200 once started). */
  reinitialize(force: boolean): Promise<ControlAnswer>;
}

function text(reply: FastifyReply, code: number, message: string): FastifyReply {
  return reply.code(code).type('text/plain; charset=utf-8').send(message);
}

/** Registers the endpoints in their own context (so the lenient body parser stays here). */
export function registerMemberRoutes(app: FastifyInstance, control: MemberRequestControl): void {
  void app.register(async (scope) => {
    // patronictl posts `reload` and `restart` with a JSON content type and no body at all.
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
      const raw = typeof body === 'string' ? body : body.toString('utf8');
      if (raw.trim() === '') return done(null, undefined);
      try {
        done(null, JSON.parse(raw) as unknown);
      } catch {
        done(Object.assign(new Error('the request body is not valid JSON'), { statusCode: 400 }), undefined);
      }
    });

    scope.post('/restart', async (request, reply) => {
      const parsed = parseRestartRequest(request.body, Date.now(), control.isPaused());
      if (!parsed.ok) return text(reply, parsed.code, parsed.message);
      const r = parsed.value;
      if (r.kind === 'scheduled') {
        if (!control.scheduleRestart(r.at, r.schedule, r.conditions))
          return text(reply, 409, 'another restart is already scheduled');
        return text(reply, 202, `restart scheduled at ${r.schedule}`);
      }
      const answer = await control.restart(r.conditions);
      return text(reply, answer.status, answer.message);
    });

    scope.delete('/restart', async (_request, reply) => {
      if (control.cancelScheduledRestart()) return text(reply, 200, 'scheduled restart deleted');
      return text(reply, 404, 'no restarts are scheduled');
    });

    scope.post('/reload', async (_request, reply) => {
      const answer = await control.reload();
      return text(reply, answer.status, answer.message);
    });

    scope.post('/reinitialize', async (request, reply) => {
      const parsed = parseReinitializeRequest(request.body);
      if (!parsed.ok) return text(reply, parsed.code, parsed.message);
      const answer = await control.reinitialize(parsed.force);
      return text(reply, answer.status, answer.message);
    });
  });
}
