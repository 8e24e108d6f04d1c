// `GET /ui` (the topology page) and `GET /ui/state` (what it shows), on every agent.
import type { FastifyInstance } from 'fastify';
import type { ClusterView } from '../dcs/types.ts';
import { UI_PAGE } from './uiPage.ts';
import { buildUiState, type UiState } from './uiState.ts';

/** Pages polling this member share one answer a second: one etcd read and one GET /citus at most. */
const SHARED_MS = 1000;

export interface UiSource {
  scope: string;
  name: string;
  /** Every group of the cluster from one etcd read. */
  load: () => Promise<ClusterView>;
}

export function registerUiRoutes(app: FastifyInstance, source: UiSource): void {
  let last: { at: number; state: Promise<UiState> } | null = null;
  const state = (): Promise<UiState> => {
    const now = Date.now();
    if (last === null || now - last.at >= SHARED_MS) last = { at: now, state: buildUiState(source) };
    return last.state;
  };
  app.get('/ui', async (_request, reply) =>
    reply.code(200).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(UI_PAGE),
  );
  app.get('/ui/state', async (_request, reply) =>
    reply
      .code(200)
      .header('cache-control', 'no-store')
      .send(await state()),
  );
}
