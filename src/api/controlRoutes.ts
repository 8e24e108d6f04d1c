// Control endpoints of the REST API: POST/DELETE /switchover, POST /failover, POST /failsafe, POST and GET /citus,
// mapped onto the agent's SwitchoverControl. Answers are one line of plain text, as Patroni's.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { MetadataStatus, NodeView } from '../citus/metadataView.ts';
import type { PauseStats } from '../citus/pause.ts';
import type { PauseEvent } from '../citus/pauseRules.ts';
import type { ScaleStatus } from '../citus/scale.ts';
import type { PoolinfoRow } from '../citus/types.ts';
import type { ControlAnswer, SwitchoverControl } from './types.ts';

/** How long GET /citus waits for a fresh look at placements and the rebalancer. */
const REFRESH_LIMIT_MS = 2000;

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

/** The `GET /citus` JSON: the pause counters, then the coordinator's metadata as the manager last saw it. */
export interface CitusStatusBody {
  pauses: PauseStats;
  /** Why adds and removes wait; null when none wait. */
  membership_waiting: string | null;
  /** Null until the manager has read the rows once. */
  metadata: { read_at: string; pg_dist_node: NodeView[]; pg_dist_poolinfo: PoolinfoRow[] } | null;
  /** Worker groups joining and leaving: Citus's rebalancer, shard placements per group, removals. */
  scale: ScaleStatus | null;
}

export function citusStatusBody(pauses: PauseStats, status: MetadataStatus | null): CitusStatusBody {
  const view = status?.metadata ?? null;
  const metadata =
    view === null
      ? null
      : { read_at: new Date(view.readAt).toISOString(), pg_dist_node: view.nodes, pg_dist_poolinfo: view.poolinfo };
  return { pauses, membership_waiting: status?.membershipWaiting ?? null, metadata, scale: status?.scale ?? null };
}

export function registerControlRoutes(app: FastifyInstance, control: SwitchoverControl): void {
  app.post('/switchover', async (request, reply) =>
    send(reply, await control.manualFailover('switchover', request.body ?? null)),
  );
  app.post('/failover', async (request, reply) =>
    send(reply, await control.manualFailover('failover', request.body ?? null)),
  );
  app.delete('/switchover', async (_request, reply) => send(reply, await control.cancelScheduledSwitchover()));
  app.post('/failsafe', async (request, reply) => send(reply, control.failsafe(request.body ?? null)));
  app.get('/citus', async (_request, reply) => {
    const stats = control.citusPauseStats();
    if (stats === null) return send(reply, { status: 503, message: 'no Citus manager runs here' });
    // Bounded: a slow coordinator shows the last look rather than holding the answer.
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise((done) => (timer = setTimeout(done, REFRESH_LIMIT_MS)));
    await Promise.race([control.refreshCitus?.().catch(() => undefined), limit]);
    clearTimeout(timer);
    return reply.code(200).send(citusStatusBody(stats, control.citusMetadata()));
  });
  app.post('/citus', async (request, reply) => {
    const event = citusEventFromBody(request.body);
    if (event === null) return send(reply, { status: 400, message: 'the request body must be a JSON object' });
    return send(reply, await control.citusEvent(event));
  });
}
