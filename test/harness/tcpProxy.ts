// A TCP proxy on loopback between a member's advertised address and its PostgreSQL, so a test
// can blackhole the member for everyone who reaches it by that address (the coordinator,
// replicas) while the member and its agent carry on: bytes are held, not dropped, until it ends.

import { createServer, connect, type Server, type Socket } from 'node:net';
import { onCleanup } from './cleanup.ts';

export class TcpProxy {
  readonly #server: Server;
  readonly #pairs = new Set<[Socket, Socket]>();
  #holding = false;
  /** Ends the blackhole in progress early. */
  #release: (() => void) | null = null;
  readonly #waiting: Array<() => void> = [];

  private constructor(
    readonly port: number,
    readonly targetPort: number,
    server: Server,
  ) {
    this.#server = server;
  }

  /** Listens on 127.0.0.1:`port` and forwards every connection to 127.0.0.1:`targetPort`. */
  static async start(port: number, targetPort: number): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(port, targetPort, server);
    server.on('connection', (client) => proxy.#accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    onCleanup(`close the TCP proxy on ${port}`, () => proxy.close());
    return proxy;
  }

  /** Holds every byte both ways, and every new connection, for `ms` (or until close()); then lets all through. */
  async blackhole(ms: number): Promise<void> {
    this.#holding = true;
    for (const [a, b] of this.#pairs) {
      a.pause();
      b.pause();
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#release = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#release = null;
    this.#holding = false;
    for (const [a, b] of this.#pairs) {
      a.resume();
      b.resume();
    }
    for (const go of this.#waiting.splice(0)) go();
  }

  /** Ends a blackhole in progress at once, then every connection and the listener. */
  async close(): Promise<void> {
    this.#release?.();
    for (const [a, b] of this.#pairs) {
      a.destroy();
      b.destroy();
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    const go = (): void => {
      const upstream = connect(this.targetPort, '127.0.0.1');
      const pair: [Socket, Socket] = [client, upstream];
      this.#pairs.add(pair);
      client.pipe(upstream);
      upstream.pipe(client);
      const done = (): void => {
        this.#pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', done).on('close', done);
      upstream.on('error', done).on('close', done);
      if (this.#holding) {
        client.pause();
        upstream.pause();
      }
    };
    // A connection opened during a blackhole is accepted (as a SYN would be) but goes nowhere yet.
    if (this.#holding) {
      client.pause();
      this.#waiting.push(go);
    } else go();
  }
}
