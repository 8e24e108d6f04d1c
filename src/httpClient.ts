// Requests to members' REST APIs (peer status, failsafe, the coordinator's /citus, and the
// commands' operations), on node:http (node:https only for an https URL, through its global
// agent, which memberTls.ts sets up for the REST API's TLS). Not fetch: undici, fetch's engine,
// with its WebAssembly HTTP parser would stay resident in every agent for the few requests an
// election makes (`npm run bench -- footprint`), and it does not take node's TLS agent.
import http from 'node:http';
import type { UserAuth } from './config/types.ts';

export interface HttpAnswer {
  status: number;
  text: string;
}

export interface HttpOptions {
  method?: 'GET' | 'POST' | 'DELETE' | 'OPTIONS';
  /** A JSON body, sent with its content type. */
  json?: unknown;
  /** The whole exchange, connection included. */
  timeoutMs: number;
  /** HTTP Basic credentials (the members' restapi.authentication). */
  auth?: UserAuth;
}

/** The Authorization header value of HTTP Basic with `auth`. */
export function basicAuthorization(auth: UserAuth): string {
  return `Basic ${Buffer.from(`${auth.username}:${auth.password ?? ''}`).toString('base64')}`;
}

/** One request to `url`, resolving its status and body; rejects when unreachable or past `timeoutMs`. */
export async function httpRequest(url: string, options: HttpOptions): Promise<HttpAnswer> {
  const target = new URL(url);
  const body = options.json === undefined ? undefined : JSON.stringify(options.json);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error(`${url}: not an http(s) URL`);
  const transport = target.protocol === 'https:' ? (await import('node:https')).default : http;
  const headers: http.OutgoingHttpHeaders =
    body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  if (options.auth !== undefined) headers.authorization = basicAuthorization(options.auth);
  const req = transport.request(target, { method: options.method ?? 'GET', headers });
  return roundTrip(req, body, options.timeoutMs, target.host);
}

/**
 * Sends `req` with `body` and collects the whole answer; rejects when the request fails or no
 * complete answer came within `timeoutMs` (the request is then destroyed, naming `host`).
 */
export function roundTrip(
  req: http.ClientRequest,
  body: string | undefined,
  timeoutMs: number,
  host: string,
): Promise<HttpAnswer> {
  return new Promise<HttpAnswer>((resolve, reject) => {
    const timer = setTimeout(() => req.destroy(new Error(`no answer from ${host} in ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      reject(err);
    };
    req.on('error', fail);
    req.on('response', (res) => {
      res.setEncoding('utf8');
      let text = '';
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, text });
      });
      res.on('error', fail);
    });
    req.end(body);
  });
}

/** GET `url` and parse its body as JSON, whatever the status (a replica's 503 carries its status too). */
export async function getJson(url: string, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  const answer = await httpRequest(url, { timeoutMs });
  try {
    return { status: answer.status, body: JSON.parse(answer.text) as unknown };
  } catch {
    throw new Error(`${url} answered ${answer.status} with something that is not JSON: ${answer.text.slice(0, 200)}`);
  }
}
