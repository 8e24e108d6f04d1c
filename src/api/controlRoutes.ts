// Control endpoints of the REST API: POST/DELETE /switchover, POST /failover, POST and GET /citus,
// mapped onto the agent's SwitchoverControl. Answers are one line of plain text, as Patroni's.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { PauseEvent } from '../citus/pause.ts';
import type { ControlAnswer, SwitchoverControl } from './types.ts';

function send(reply: FastifyReply, answer: ControlAnswer): FastifyReply {
  return reply.code(answer.status).type('text/plain; charset=utf-8').send(answer.message);
}

/**
 * Patroni's `POST /citus` body carries `cooldown` in seconds (its retry_timeout); the pause
 * protocol counts milliseconds. Other fields pass unchanged; their checks are the manager's.
 */
export function citusEventFromBody(body: unknown): PauseEvent | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const fields = body as Record<string, unknown>;
  const cooldown = typeof fields.cooldown === 'number' ? fields.cooldown * 1000 : fields.cooldown;
  return { ...fields, cooldown } as PauseEvent;
}

export function registerControlRoutes(app: FastifyInstance, control: SwitchoverControl): void {
  app.post('/switchover', async (request, reply) => send(reply, await control.manualFailover('switchover', request.body ?? null)));
  app.post('/failover', async (request, reply) => send(reply, await control.manualFailover('failover', request.body ?? null)));
  app.delete('/switchover', async (_request, reply) => send(reply, await control.cancelScheduledSwitchover()));
  app.get('/citus', async (_request, reply) => {
    const stats = control.citusPauseStats();
    if (stats === null) return send(reply, { status: 503, message: 'no Citus manager runs here' });
    return reply.code(200).send({ pauses: stats });
  });
  app.post('/citus', async (request, reply) => {
    const event = citusEventFromBody(request.body);
    if (event === null) return send(reply, { status: 400, message: 'the request body must be a JSON object' });
    return send(reply, await control.citusEvent(event));
  });
}
