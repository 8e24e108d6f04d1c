// `PATCH /config` and `PUT /config` (Patroni's), and `GET /pg_settings` (Shardherd's own: the
// local server's parameter names, types, units, ranges, enum values and contexts, never their
// values), mapped onto the agent's ConfigControl.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ConfigUpdateAnswer, ConfigUpdateKind } from './configUpdate.ts';
import type { PgSetting } from './pgSettings.ts';

export interface ConfigControl {
  /** A checked write of the group's `config` key (merge or replace) with the request's body. */
  updateConfig(kind: ConfigUpdateKind, body: unknown): Promise<ConfigUpdateAnswer>;
  /** The local server's pg_settings; null when PostgreSQL does not run. Throws when the query fails. */
  pgSettings(): Promise<PgSetting[] | null>;
}

function text(reply: FastifyReply, code: number, message: string): FastifyReply {
  return reply.code(code).type('text/plain; charset=utf-8').send(message);
}

async function update(reply: FastifyReply, answer: Promise<ConfigUpdateAnswer>): Promise<FastifyReply> {
  const result = await answer;
  if ('message' in result) return text(reply, result.status, result.message);
  return reply.code(200).type('application/json').send(JSON.stringify(result.config));
}

/** Registers the endpoints in their own context (so the lenient body parser stays here). */
export function registerConfigRoutes(app: FastifyInstance, control: ConfigControl): void {
  void app.register(async (scope) => {
    // patronictl sends its JSON (`patronictl pause` is a PATCH /config) without a content type.
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
      const raw = typeof body === 'string' ? body : body.toString('utf8');
      try {
        done(null, raw.trim() === '' ? undefined : (JSON.parse(raw) as unknown));
      } catch {
        done(Object.assign(new Error('the request body is not valid JSON'), { statusCode: 400 }), undefined);
      }
    });
    scope.patch('/config', (request, reply) => update(reply, control.updateConfig('patch', request.body)));
    scope.put('/config', (request, reply) => update(reply, control.updateConfig('replace', request.body)));
    scope.get('/pg_settings', async (_request, reply) => {
      const rows = await control.pgSettings();
      if (rows === null) return text(reply, 503, 'PostgreSQL is not running here');
      return reply.code(200).send(rows);
    });
  });
}
