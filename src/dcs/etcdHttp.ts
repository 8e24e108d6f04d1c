// etcd's v3 API through the JSON gateway every etcd 3.4 member serves on its client URLs
// (POST /v3/kv/range and so on): node's own HTTP client, no gRPC. Keys and values travel in
// base64 and 64-bit numbers as decimal strings; fields at their default (0, false, empty) are left
// out of answers. A streaming call (watch, lease keepalive) answers with one `{"result": ...}` or
// `{"error": ...}` object per line.
//
// One member is used at a time; a request that cannot reach it moves to the next, and the caller
// retries (calls.ts). Sockets of plain requests are kept open between requests, each stream has a
// socket of its own, and every socket has TCP keepalive on, so a member that vanished without
// closing its connections is noticed within seconds even by an idle watch.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type https from 'node:https';
import type { Config } from '../config/types.ts';
import { ConfigError, DcsError, errorText, type ConfigProblem } from '../errors.ts';
import { roundTrip, type HttpAnswer } from '../httpClient.ts';

export interface EtcdTls {
  /** PEM contents: the CA to trust, and the client certificate and key to present. */
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export interface EtcdEndpoints {
  /** `http(s)://host:port` (or `host:port`, meaning http) of etcd members. */
  hosts: string[];
  username?: string;
  password?: string;
  tls?: EtcdTls;
}

/** gRPC status codes etcd answers with that the callers tell apart. */
export const GRPC_CODE = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  UNAUTHENTICATED: 16,
} as const;

/** An error etcd itself answered with: its gRPC status code and message. */
export class EtcdError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'EtcdError';
  }
}

/** A stream of answers; `close` ends it without calling `onEnd`. */
export interface EtcdStream {
  close(): void;
}

export interface StreamHandlers<T> {
  onMessage(message: T): void;
  /** The stream broke or ended (`err` says why); not called after `close`. */
  onEnd(err: Error): void;
}

/** Idle TCP time before the first keepalive probe; Linux then probes every second, ten times. */
const KEEPALIVE_MS = 5_000;

type ErrorBody = { error?: string | { message?: string; grpc_code?: number }; message?: string; code?: number };

/** The EtcdError an error body describes (the two shapes: unary and streaming). */
function errorFrom(body: ErrorBody, status: number): EtcdError {
  if (typeof body.error === 'object' && body.error !== null) {
    return new EtcdError(body.error.grpc_code ?? 2, body.error.message ?? `HTTP ${status}`);
  }
  return new EtcdError(body.code ?? 2, body.message ?? body.error ?? `HTTP ${status}`);
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${what}: etcd answered something that is not JSON: ${text.slice(0, 200)}`);
  }
}

export function b64(value: string | Buffer): string {
  return (typeof value === 'string' ? Buffer.from(value) : value).toString('base64');
}

export function unb64(value: string | undefined): string {
  return value === undefined ? '' : Buffer.from(value, 'base64').toString();
}

export class EtcdHttp {
  private readonly urls: URL[];
  private current = 0;
  private token: string | null = null;
  private readonly agents = new Map<string, http.Agent>();
  private httpsModule: typeof https | null = null;
  /** Open streams, and the member each is on. */
  private readonly streams = new Map<http.ClientRequest, URL>();
  private closed = false;

  constructor(private readonly endpoints: EtcdEndpoints) {
    if (endpoints.hosts.length === 0) throw new DcsError('etcd3.hosts', 'no etcd host given');
    this.urls = endpoints.hosts.map((h) => {
      const url = new URL(/^[a-z]+:\/\//i.test(h) ? h : `http://${h}`);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new DcsError('etcd3.hosts', `${h}: only http and https are spoken`);
      }
      return url;
    });
  }

  /** The member requests go to now. */
  get host(): string {
    return this.urls[this.current]!.host;
  }

  /** How many members there are to try. */
  get members(): number {
    return this.urls.length;
  }

  /**
   * One request: POST `/v3/<path>` with `body`, resolving the answer (a streaming endpoint's one
   * result). Fails with an EtcdError when etcd refused, with another Error when it was not reached
   * or did not answer by `deadline` (epoch ms); the next request then goes to the next member.
   */
  async request<T>(path: string, body: object, deadline: number): Promise<T> {
    const answer = await this.exchange(path, body, deadline);
    if (!this.endpoints.username || !(answer instanceof EtcdError)) return this.unwrap<T>(answer);
    if (answer.code !== GRPC_CODE.UNAUTHENTICATED) throw answer;
    // The token expired (etcd drops simple tokens after minutes of disuse): once more with a new one.
    this.token = null;
    return this.unwrap<T>(await this.exchange(path, body, deadline));
  }

  /** Opens a stream: `body` is its one request; each answer line goes to `onMessage`. */
  async stream<T>(path: string, body: object, handlers: StreamHandlers<T>): Promise<EtcdStream> {
    if (this.closed) throw new Error('the etcd client is closed');
    const headers = await this.headers(Date.now() + 10_000, true);
    const url = this.urls[this.current]!;
    let ended = false;
    const end = (err: Error): void => {
      if (ended) return;
      ended = true;
      this.streams.delete(req);
      req.destroy();
      handlers.onEnd(err);
    };
    const req = await this.open(url, path, headers, null);
    this.streams.set(req, url);
    req.on('socket', (socket) => socket.setKeepAlive(true, KEEPALIVE_MS));
    req.on('error', (err) => {
      this.rotate(url);
      end(err);
    });
    req.on('response', (res) => {
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (line === '' || ended) continue;
          try {
            const message = parseJson(line, path) as { result?: T } & ErrorBody;
            if (message.error !== undefined || res.statusCode !== 200)
              return end(errorFrom(message, res.statusCode ?? 0));
            handlers.onMessage(message.result as T);
          } catch (err) {
            return end(err instanceof Error ? err : new Error(String(err)));
          }
        }
      });
      res.on('end', () => end(new Error(`${path} stream ended`)));
      res.on('error', (err) => end(err));
    });
    req.end(JSON.stringify(body));
    return {
      close: () => {
        ended = true;
        this.streams.delete(req);
        req.destroy();
      },
    };
  }

  /** Ends every stream and open socket; later requests fail. */
  close(): void {
    this.closed = true;
    for (const req of this.streams.keys()) req.destroy();
    this.streams.clear();
    for (const agent of this.agents.values()) agent.destroy();
  }

  private unwrap<T>(answer: unknown): T {
    if (answer instanceof Error) throw answer;
    const streamed = answer as { result?: T };
    return streamed.result !== undefined ? streamed.result : (answer as T);
  }

  /** One round trip; an answer etcd refused comes back as an EtcdError value, not thrown. */
  private async exchange(path: string, body: object, deadline: number, signed = true): Promise<unknown> {
    if (this.closed) throw new Error('the etcd client is closed');
    const headers = await this.headers(deadline, signed);
    const url = this.urls[this.current]!;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no answer from ${url.host} in time: the deadline had passed`);
    const req = await this.open(url, path, headers, await this.agent(url));
    let answer: HttpAnswer;
    try {
      answer = await roundTrip(req, JSON.stringify(body), left, url.host);
    } catch (err) {
      this.rotate(url);
      throw err;
    }
    // A streaming endpoint answers line by line; a one-shot request gets one line.
    const parsed = parseJson(answer.text.split('\n', 1)[0]!, path) as ErrorBody;
    const failed = answer.status !== 200 || (typeof parsed.error === 'object' && parsed.error !== null);
    return failed ? errorFrom(parsed, answer.status) : parsed;
  }

  /** The request headers; `signed`: with the auth token, authenticating first when there is none. */
  private async headers(deadline: number, signed: boolean): Promise<Record<string, string>> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const { username, password } = this.endpoints;
    if (!username || !signed) return headers;
    if (this.token === null) {
      const answer = await this.exchange(
        'auth/authenticate',
        { name: username, password: password ?? '' },
        deadline,
        false,
      );
      if (answer instanceof Error) throw answer;
      this.token = (answer as { token?: string }).token ?? '';
    }
    headers.authorization = this.token;
    return headers;
  }

  private async open(
    url: URL,
    path: string,
    headers: Record<string, string>,
    agent: http.Agent | null,
  ): Promise<http.ClientRequest> {
    const options: http.RequestOptions = {
      method: 'POST',
      host: url.hostname,
      port: url.port || (url.protocol === 'https:' ? 443 : 80),
      path: `/v3/${path}`,
      headers,
      agent: agent ?? false,
    };
    if (url.protocol === 'http:') return http.request(options);
    const https = await this.https();
    return https.request({ ...options, ...this.tlsOptions() });
  }

  private tlsOptions(): EtcdTls {
    const { tls } = this.endpoints;
    return { ca: tls?.ca, cert: tls?.cert, key: tls?.key };
  }

  /** node:https only once a member is reached over TLS: it loads TLS code an http-only agent never needs. */
  private async https(): Promise<typeof https> {
    this.httpsModule ??= (await import('node:https')).default;
    return this.httpsModule;
  }

  private async agent(url: URL): Promise<http.Agent> {
    let agent = this.agents.get(url.protocol);
    if (agent === undefined) {
      const options = { keepAlive: true, keepAliveMsecs: KEEPALIVE_MS, maxSockets: 8 };
      agent =
        url.protocol === 'http:'
          ? new http.Agent(options)
          : new (await this.https()).Agent({ ...options, ...this.tlsOptions() });
      this.agents.set(url.protocol, agent);
    }
    return agent;
  }

  /**
   * After a failure to reach `url`, the next request goes to the next member, and so do its
   * streams: they are ended, and their owners reopen them there. A member that stopped answering
   * keeps its connections open, and a watch on it would wait for events forever.
   */
  private rotate(url: URL): void {
    if (this.urls.length === 1 || this.urls[this.current] !== url) return;
    this.current = (this.current + 1) % this.urls.length;
    for (const [req, on] of this.streams) {
      if (on === url) req.destroy(new Error(`${url.host} stopped answering; moving to ${this.host}`));
    }
  }
}

/**
 * What the etcd client is given from the section: member URLs in the configured protocol, the
 * credentials, and the contents of the TLS files (a ConfigError naming the key when one cannot be read).
 */
export function etcdEndpoints(etcd3: Config['etcd3']): EtcdEndpoints {
  const problems: ConfigProblem[] = [];
  const read = (key: 'cacert' | 'cert' | 'key'): Buffer | undefined => {
    const path = etcd3[key];
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      problems.push({ path: `etcd3.${key}`, message: `cannot read ${path}: ${errorText(err)}` });
      return undefined;
    }
  };
  const tls = { ca: read('cacert'), cert: read('cert'), key: read('key') };
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    hosts: etcd3.hosts.map((h) => `${etcd3.protocol}://${h}`),
    username: etcd3.username,
    password: etcd3.password,
    ...(tls.ca || tls.cert ? { tls } : {}),
  };
}
