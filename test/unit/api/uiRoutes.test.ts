// GET /ui and GET /ui/state over fastify's inject: the page is one self-contained HTML document,
// and pages polling at once share one etcd read.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { registerUiRoutes } from '../../../src/api/uiRoutes.ts';
import type { ClusterView } from '../../../src/dcs/types.ts';

test('the page and its state; concurrent polls share one read', async () => {
  let reads = 0;
  const app = Fastify({ logger: false });
  registerUiRoutes(app, {
    scope: 'demo',
    name: 'n1',
    load: () => {
      reads++;
      return Promise.resolve<ClusterView>({ revision: '1', groups: [] });
    },
  });
  try {
    const page = await app.inject({ method: 'GET', url: '/ui' });
    assert.equal(page.statusCode, 200);
    assert.match(page.headers['content-type'] as string, /^text\/html/);
    assert.match(page.body, /^<!doctype html>/);
    assert.doesNotMatch(page.body, /<(script|link)[^>]+(src|href)=/, 'nothing loaded from elsewhere');
    const states = await Promise.all([1, 2, 3].map(() => app.inject({ method: 'GET', url: '/ui/state' })));
    assert.deepEqual(
      states.map((s) => [s.statusCode, (JSON.parse(s.body) as { served_by: string }).served_by]),
      [
        [200, 'n1'],
        [200, 'n1'],
        [200, 'n1'],
      ],
    );
    assert.equal(reads, 1);
  } finally {
    await app.close();
  }
});
