// The etcd HTTP client against a small in-process server speaking the gateway's shapes: answers
// split across chunks, both error shapes, token renewal, and moving to the next member.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, mock, test } from 'node:test';
import { EtcdCalls } from '../../../src/dcs/calls.ts';
import { EtcdError, EtcdHttp, GRPC_CODE } from '../../../src/dcs/etcdHttp.ts';
import { silentLogger } from '../../../src/log.ts';

type Handler = (path: string, body: Record<string, unknown>, req: IncomingMessage, res: ServerResponse) => void;

/** An HTTP server on a free loopback port answering with `handler`; closed after the suite. */
async function fakeEtcd(handler: Handler): Promise<{ url: string; calls: string[] }> {
  const calls: string[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      const path = (req.url ?? '').replace(/^\/v3\//, '');
      calls.push(path);
      handler(path, JSON.parse(text || '{}') as Record<string, unknown>, req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

const soon = (): number => Date.now() + 2_000;

describe('EtcdHttp', () => {
  test('a stream answer split inside a line arrives whole, one message per line', async () => {
    const etcd = await fakeEtcd((_path, _body, _req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"result":{"created":true}}\n{"result":{"ev');
      setTimeout(() => res.write('ents":[{"kv":{"key":"YQ=="}}]}}\n'), 20);
    });
    const client = new EtcdHttp({ hosts: [etcd.url] });
    const messages: unknown[] = [];
    const stream = await client.stream('watch', {}, { onMessage: (m) => messages.push(m), onEnd: () => undefined });
    while (messages.length < 2) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(messages, [{ created: true }, { events: [{ kv: { key: 'YQ==' } }] }]);
    stream.close();
    client.close();
  });

  test("etcd's errors come back as EtcdError with its gRPC code, in both shapes", async () => {
    const etcd = await fakeEtcd((path, _body, _req, res) => {
      if (path === 'kv/put') {
        res.writeHead(404);
        res.end(
          JSON.stringify({
            error: 'etcdserver: requested lease not found',
            message: 'etcdserver: requested lease not found',
            code: 5,
          }),
        );
      } else {
        res.writeHead(200);
        res.end('{"error":{"grpc_code":7,"http_code":403,"message":"etcdserver: permission denied"}}\n');
      }
    });
    const client = new EtcdHttp({ hosts: [etcd.url] });
    await assert.rejects(client.request('kv/put', {}, soon()), (err: unknown) => {
      assert.ok(err instanceof EtcdError);
      assert.equal(err.code, GRPC_CODE.NOT_FOUND);
      assert.equal(err.message, 'etcdserver: requested lease not found');
      return true;
    });
    await assert.rejects(client.request('lease/keepalive', {}, soon()), (err: unknown) => {
      assert.ok(err instanceof EtcdError);
      assert.equal(err.code, GRPC_CODE.PERMISSION_DENIED);
      return true;
    });
    client.close();
  });

  test('credentials: one authentication, its token on every request, a new one when etcd drops it', async () => {
    let tokens = 0;
    let valid = '';
    const seen: string[] = [];
    const etcd = await fakeEtcd((path, body, req, res) => {
      if (path === 'auth/authenticate') {
        assert.deepEqual(body, { name: 'root', password: 'pw' });
        valid = `t${++tokens}`;
        return res.end(JSON.stringify({ token: valid }));
      }
      seen.push(String(req.headers.authorization));
      if (req.headers.authorization !== valid) {
        res.writeHead(401);
        return res.end('{"error":"etcdserver: invalid auth token","code":16}');
      }
      res.end('{"header":{"revision":"7"}}');
    });
    const client = new EtcdHttp({ hosts: [etcd.url], username: 'root', password: 'pw' });
    await client.request('kv/range', {}, soon());
    await client.request('kv/range', {}, soon());
    assert.equal(tokens, 1);
    valid = 'expired-elsewhere';
    assert.deepEqual(await client.request('kv/range', {}, soon()), { header: { revision: '7' } });
    assert.equal(tokens, 2);
    assert.deepEqual(seen, ['t1', 't1', 't1', 't2']);
    client.close();
  });

  test('a member that cannot be reached: the next request goes to the next one', async () => {
    const good = await fakeEtcd((_path, _body, _req, res) => res.end('{"header":{"revision":"3"}}'));
    const client = new EtcdHttp({ hosts: ['127.0.0.1:9', good.url] });
    assert.equal(client.host, '127.0.0.1:9');
    await assert.rejects(client.request('kv/range', {}, soon()), /ECONNREFUSED/);
    assert.equal(client.host, new URL(good.url).host);
    assert.deepEqual(await client.request('kv/range', {}, soon()), { header: { revision: '3' } });
    client.close();
  });

  test('a member that accepts but never answers: the request fails at its deadline; its streams move', async () => {
    const silent = await fakeEtcd(() => undefined);
    const good = await fakeEtcd((_path, _body, _req, res) => res.end('{}'));
    const client = new EtcdHttp({ hosts: [silent.url, good.url] });
    const ends: string[] = [];
    await client.stream('watch', {}, { onMessage: () => undefined, onEnd: (err) => ends.push(err.message) });
    await assert.rejects(client.request('kv/range', {}, Date.now() + 200), /no answer from 127\.0\.0\.1:\d+ in \d+ ms/);
    // The stream learns of it as its socket closes, a tick later.
    for (let i = 0; i < 100 && ends.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(ends.length, 1);
    assert.match(ends[0]!, /stopped answering; moving to/);
    client.close();
  });

  test('hosts: a scheme other than http or https is refused naming etcd3.hosts', () => {
    assert.throws(() => new EtcdHttp({ hosts: ['unix://sock'] }), /etcd3\.hosts: unix:\/\/sock: only http and https/);
    assert.throws(() => new EtcdHttp({ hosts: [] }), /etcd3\.hosts: no etcd host given/);
  });
});

describe('EtcdCalls', () => {
  const unavailable = (res: ServerResponse) => {
    res.writeHead(503);
    res.end(JSON.stringify({ error: 'etcdserver: leader changed', code: 14 })); // gRPC's UNAVAILABLE
  };

  test('out of time: the error names what the last attempt met, after retrying', async () => {
    const etcd = await fakeEtcd((_path, _body, _req, res) => unavailable(res));
    const calls = new EtcdCalls({ hosts: [etcd.url] }, 1, silentLogger);
    await assert.rejects(
      calls.range('/service/x/', true, Date.now() + 1_000),
      /range failed: etcdserver: leader changed \(retry_timeout exceeded\)/,
    );
    assert.ok(etcd.calls.length > 1, `attempts: ${etcd.calls.length}`);
    calls.close();
  });

  test('no retry starts in the last moments before the deadline: the error is what the last attempt met', async () => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    try {
      const calls = new EtcdCalls({ hosts: ['http://127.0.0.1:1'] }, 1, silentLogger);
      const met = ['unable to verify the first certificate', 'no answer from 127.0.0.1:1 in 1 ms'];
      let attempts = 0;
      // 130 ms: the first failure is retried after the 100 ms backoff, which leaves 30 ms.
      const result = calls.call('/service/x/', 'range', 130, () => Promise.reject(new Error(met[attempts++])));
      const settled = assert.rejects(result, /range failed: unable to verify the first certificate \(retry_timeout/);
      await new Promise((resolve) => setImmediate(resolve));
      mock.timers.tick(100);
      await settled;
      assert.equal(attempts, 1);
      calls.close();
    } finally {
      mock.timers.reset();
    }
  });

  test('a transient failure is retried, and the answer of the next attempt returned', async () => {
    let failures = 1;
    const etcd = await fakeEtcd((_path, _body, _req, res) =>
      failures-- > 0 ? unavailable(res) : res.end('{"header":{"revision":"7"}}'),
    );
    const calls = new EtcdCalls({ hosts: [etcd.url] }, 10, silentLogger);
    assert.deepEqual(await calls.range('/service/x/', true, Date.now() + 10_000), { revision: '7', kvs: [] });
    assert.equal(etcd.calls.length, 2);
    calls.close();
  });
});
