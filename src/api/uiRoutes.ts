// `GET /ui` (the topology page) and `GET /ui/state` (what it shows), on every agent.
import type { FastifyInstance } from 'fastify';
import type { ClusterView } from '../dcs/types.ts';
import { UI_PAGE } from './uiPage.ts';
import { buildUiState } from './uiState.ts';

export interface UiSource {
  scope: string;
  name: string;
  /** Every group of the cluster from one etcd read. */
  load: () => Promise<ClusterView>;
}

export function registerUiRoutes(app: FastifyInstance, source: UiSource): void {
  app.get('/ui', async (_request, reply) =>
    reply.code(200).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(UI_PAGE),
  );
  app.get('/ui/state', async (_request, reply) =>
    reply
      .code(200)
      .header('cache-control', 'no-store')
      .send(await buildUiState(source)),
  );
}
