// The member's REST API (fastify): Patroni's status, health-check and probe paths, answered
// from the agent's state through AgentStatusSource, and /cluster, /history and /config, read
// from etcd through it. The operations (switchover, restart, reload, /citus, ...) are registered
// by controlRoutes.ts and memberRoutes.ts, the writes of /config by configRoutes.ts.
import { createRequire } from 'node:module';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { summarizeGroup } from '../dcs/summary.ts';
import type { ClusterView, GroupView } from '../dcs/types.ts';
import type { RestapiTls } from '../config/types.ts';
import type { Logger } from '../log.ts';
import type { TlsMaterial } from '../memberTls.ts';
import { registerAccessCheck, type AccessSources } from './access.ts';
import { HEALTH_PATHS, healthCheckForPath, healthStatusCode, type QueryParams } from './health.ts';
import { livenessStatusCode, readinessStatusCode } from './probes.ts';
import { healthInput, renderNodeStatus, takeSnapshot } from './status.ts';
import { registerConfigRoutes, type ConfigControl } from './configRoutes.ts';
import { registerControlRoutes } from './controlRoutes.ts';
import { registerMemberRoutes, type MemberRequestControl } from './memberRoutes.ts';
import { AgentMetrics } from './metrics.ts';
import { registerUiRoutes } from './uiRoutes.ts';
import type { AgentStatusSource, SwitchoverControl } from './types.ts';
import { errorText } from '../errors.ts';

export interface ApiErrorBody {
  error: string;
}

// HEAD and OPTIONS get the same status code as GET with no body: HAProxy's `option httpchk
// OPTIONS /primary` reads only the status line.
const CHECK_METHODS = ['GET', 'HEAD', 'OPTIONS'] as const;

/** Sends `body` as JSON for GET, or the bare status code for HEAD and OPTIONS. */
function answer(request: FastifyRequest, reply: FastifyReply, code: number, body?: unknown): FastifyReply {
  reply.code(code);
  if (request.method !== 'GET' || body === undefined) return reply.send();
  return reply.type('application/json').send(JSON.stringify(body));
}

/** An error as JSON; HEAD answers carry no body by definition. */
function sendError(request: FastifyRequest, reply: FastifyReply, code: number, message: string): FastifyReply {
  reply.code(code);
  if (request.method === 'HEAD') return reply.send();
  return reply.type('application/json').send(JSON.stringify({ error: message } satisfies ApiErrorBody));
}

/** The last view, or a fresh read when etcd has not been reached yet (as Patroni does). */
async function someView(source: AgentStatusSource): Promise<GroupView> {
  return source.lastView() ?? (await source.freshView());
}

/** What the agent hands the server besides its status: the controls of the write endpoints. */
export interface ApiControls {
  logger?: Logger;
  control?: SwitchoverControl;
  requests?: MemberRequestControl;
  config?: ConfigControl;
  /** The agent's metrics; a set of its own when absent (Patroni's part needs nothing else). */
  metrics?: AgentMetrics;
  /** Every group of the cluster from one etcd read, for the topology page; the own group alone when absent. */
  topology?: () => Promise<ClusterView>;
  /** Who may call the operations (restapi.authentication and allowlist); anyone when absent. */
  access?: AccessSources;
  /** Headers added to every answer (restapi.http_extra_headers), as configured now. */
  extraHeaders?: () => Record<string, string> | undefined;
  /** Serve HTTPS with these files (restapi.certfile, ...); plain HTTP when absent. */
  tls?: { material: TlsMaterial; verifyClient: RestapiTls['verify_client'] };
}

/**
 * No route has a schema: fastify's validator and serializer compilers (ajv, fast-json-stringify,
 * about a hundred modules) are loaded only if one ever does, not by every agent at start.
 */
const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));
const schemaController = {
  compilersFactory: {
    buildValidator: ((...args: unknown[]) =>
      (fromFastify('@fastify/ajv-compiler') as () => (...a: unknown[]) => unknown)()(...args)) as never,
    buildSerializer: ((...args: unknown[]) =>
      (fromFastify('@fastify/fast-json-stringify-compiler') as () => (...a: unknown[]) => unknown)()(...args)) as never,
  },
};

export function createApiServer(source: AgentStatusSource, opts: ApiControls = {}): FastifyInstance {
  // Typed as fastify's own logger interface so the instance keeps the default generic type.
  const loggerInstance: FastifyBaseLogger | undefined = opts.logger;
  // `optional` asks for a client certificate and admits a connection without one; the access
  // check then keeps the operations from it (access.ts).
  const https = opts.tls && {
    ...opts.tls.material,
    requestCert: opts.tls.verifyClient !== 'none',
    rejectUnauthorized: opts.tls.verifyClient === 'required',
  };
  const common = { schemaController, ...(https && { https }) };
  const app = (loggerInstance
    ? Fastify({ ...common, loggerInstance, logController: new LogController({ disableRequestLogging: true }) })
    : Fastify({ ...common, logger: false })) as unknown as FastifyInstance;

  // Load balancers poll several times a second: one debug line per request, not two info lines.
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(
      {
        method: request.method,
        url: request.url,
        statusCode: reply.statusCode,
        duration_ms: Math.round(reply.elapsedTime),
      },
      'api request',
    );
  });

  if (opts.access) registerAccessCheck(app, opts.access, opts.tls?.verifyClient ?? 'none');
  const extraHeaders = opts.extraHeaders;
  if (extraHeaders)
    app.addHook('onSend', async (_request, reply, payload) => {
      for (const [name, value] of Object.entries(extraHeaders() ?? {})) reply.header(name, value);
      return payload;
    });

  app.setNotFoundHandler(async (request, reply) => {
    return sendError(request, reply, 404, `no such endpoint: ${request.method} ${request.url}`);
  });

  app.setErrorHandler(async (error, request, reply) => {
    const code =
      typeof error === 'object' &&
      error !== null &&
      'statusCode' in error &&
      typeof error.statusCode === 'number' &&
      error.statusCode >= 400
        ? error.statusCode
        : 500;
    if (code >= 500) request.log.error({ err: error, url: request.url }, 'api request failed');
    return sendError(request, reply, code, errorText(error));
  });

  app.get('/patroni', async (_request, reply) => {
    const snapshot = await takeSnapshot(source);
    return reply.code(200).send(renderNodeStatus(snapshot));
  });

  const metrics = opts.metrics ?? new AgentMetrics({ scope: source.scope, name: source.name });
  app.get('/metrics', async (_request, reply) => {
    const snapshot = await takeSnapshot(source);
    const citus = { pauses: opts.control?.citusPauseStats() ?? null, metadata: opts.control?.citusMetadata() ?? null };
    const text = await metrics.render(snapshot, citus);
    return reply.code(200).type(metrics.contentType).send(text);
  });

  for (const path of Object.keys(HEALTH_PATHS)) {
    const check = healthCheckForPath(path)!;
    app.route({
      method: [...CHECK_METHODS],
      url: path,
      handler: async (request, reply) => {
        const snapshot = await takeSnapshot(source);
        const code = healthStatusCode(healthInput(snapshot, check, request.query as QueryParams));
        // GET answers carry the full status, so a failed check shows why.
        return answer(request, reply, code, renderNodeStatus(snapshot));
      },
    });
  }

  app.route({
    method: [...CHECK_METHODS],
    url: '/liveness',
    handler: async (request, reply) => {
      const code = livenessStatusCode({
        paused: source.isPaused(),
        isLeader: source.isLeader(),
        lastCycleAt: source.lastCycleAt(),
        ttl: source.ttl(),
        now: Date.now(),
      });
      return answer(request, reply, code);
    },
  });

  app.route({
    method: [...CHECK_METHODS],
    url: '/readiness',
    handler: async (request, reply) => {
      const isLeader = source.isLeader();
      // The leader is ready whatever PostgreSQL says; only ask it when it matters.
      const state = isLeader ? 'running' : (await source.postgresStatus()).state;
      const code = readinessStatusCode({ isLeader, state, viewKnown: source.lastView() !== null });
      return answer(request, reply, code);
    },
  });

  /** GET `url` answers from the group view `read` gives; 503 naming `what` when etcd cannot be read. */
  const viewRoute = (
    url: string,
    what: string,
    read: () => Promise<GroupView>,
    respond: (view: GroupView, request: FastifyRequest, reply: FastifyReply) => FastifyReply,
  ): void => {
    app.get(url, async (request, reply) => {
      let view: GroupView;
      try {
        view = await read();
      } catch (error) {
        return sendError(request, reply, 503, `cannot read ${what} from etcd: ${errorText(error)}`);
      }
      return respond(view, request, reply);
    });
  };

  viewRoute(
    '/cluster',
    'the cluster',
    () => source.freshView(),
    (view, _request, reply) => reply.code(200).send(summarizeGroup(view)),
  );
  viewRoute(
    '/history',
    'the history',
    () => someView(source),
    (view, _request, reply) => reply.code(200).send(view.history?.value ?? []),
  );
  viewRoute(
    '/config',
    'the config',
    () => someView(source),
    (view, request, reply) =>
      view.config === null
        ? sendError(request, reply, 502, 'the group has no dynamic configuration in etcd')
        : reply.code(200).send(view.config.value),
  );

  const topology = opts.topology ?? (async () => ({ revision: '0', groups: [await source.freshView()] }));
  registerUiRoutes(app, { scope: source.scope, name: source.name, load: topology });
  if (opts.control) registerControlRoutes(app, opts.control);
  if (opts.requests) registerMemberRoutes(app, opts.requests);
  if (opts.config) registerConfigRoutes(app, opts.config);

  return app;
}

export interface RunningApiServer {
  /** `http://host:port` the server listens on (the real port when 0 was asked for). */
  address: string;
  close(): Promise<void>;
}

export async function startApiServer(
  source: AgentStatusSource,
  opts: ApiControls & { host: string; port: number },
): Promise<RunningApiServer> {
  const app = createApiServer(source, opts);
  await app.listen({ host: opts.host, port: opts.port });
  const bound = app.server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : opts.port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    address: `${opts.tls ? 'https' : 'http'}://${host}:${port}`,
    close: () => app.close(),
  };
}
