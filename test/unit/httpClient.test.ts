// The agent's HTTP client against an in-process server: status and body whatever the status, a
// JSON body posted, the timeout, and URLs it cannot speak to.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { getJson, httpRequest } from '../../src/httpClient.ts';

describe('httpClient', () => {
  let base = '';
  const posted: unknown[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      if (req.url === '/replica') {
        res.writeHead(503, { 'content-type': 'application/json' });
        return res.end('{"role":"replica"}');
      }
      if (req.url === '/post') {
        posted.push({ type: req.headers['content-type'], body: JSON.parse(text) as unknown });
        return res.end('ok');
      }
      if (req.url === '/text') return res.end('not json');
      // /slow never answers.
    });
  });
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  test('getJson: the status and the parsed body, a 503 included', async () => {
    assert.deepEqual(await getJson(`${base}/replica`, 2000), { status: 503, body: { role: 'replica' } });
  });

  test('getJson: a body that is not JSON is an error naming the URL', async () => {
    await assert.rejects(
      getJson(`${base}/text`, 2000),
      /\/text answered 200 with something that is not JSON: not json/,
    );
  });

  test('httpRequest: POST with a JSON body', async () => {
    const res = await httpRequest(`${base}/post`, { method: 'POST', json: { a: 1 }, timeoutMs: 2000 });
    assert.deepEqual(res, { status: 200, text: 'ok' });
    assert.deepEqual(posted, [{ type: 'application/json', body: { a: 1 } }]);
  });

  test('httpRequest: no answer within timeoutMs rejects, naming the host', async () => {
    await assert.rejects(httpRequest(`${base}/slow`, { timeoutMs: 100 }), /no answer from 127\.0\.0\.1:\d+ in 100 ms/);
  });

  test('httpRequest: a refused connection and a URL of another scheme reject', async () => {
    await assert.rejects(httpRequest('http://127.0.0.1:9/', { timeoutMs: 2000 }), /ECONNREFUSED/);
    await assert.rejects(httpRequest('ftp://example/', { timeoutMs: 2000 }), /ftp:\/\/example\/: not an http\(s\) URL/);
  });
});
