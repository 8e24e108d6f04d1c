// The etcd connection and the one way every request goes through it: retried on transient
// failures, bounded by a deadline (retry_timeout from the start of the operation), and failing
// with a DcsError naming the key.
import pRetry, { AbortError } from 'p-retry';
import {
  Etcd3,
  EtcdAuthenticationFailedError,
  EtcdLeaseInvalidError,
  EtcdPermissionDeniedError,
  ClientClosedError,
  type ICompare,
  type IOptions,
  type IRequestOp,
  type ITxnResponse,
} from 'etcd3';
import { DcsError, errorText } from '../errors.ts';
import type { Logger } from '../log.ts';

export interface ConnectOptions {
  /** `host:port` or `http(s)://host:port`, as in `etcd3.hosts`. */
  hosts: string[];
  username?: string;
  password?: string;
}

/** Per-request options of the etcd3 client (here: the grpc deadline). */
export type CallOptions = NonNullable<Parameters<Etcd3['kv']['range']>[1]>;
type Policy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

/**
 * etcd3's default policies retry three times and open a circuit breaker for 5 s after
 * failures; retries here are bounded by retry_timeout instead, so the library must not add
 * its own (a broken circuit after an etcd restart would outlast a short ttl).
 */
const passthrough: Policy = {
  _altReturn: undefined as never,
  onSuccess: () => ({ dispose: () => undefined }),
  onFailure: () => ({ dispose: () => undefined }),
  execute: async (fn, signal) => fn({ signal: signal ?? new AbortController().signal }),
};

/** Errors that retrying cannot fix. */
function isPermanent(err: unknown): boolean {
  return (
    err instanceof EtcdLeaseInvalidError ||
    err instanceof EtcdPermissionDeniedError ||
    err instanceof EtcdAuthenticationFailedError ||
    err instanceof ClientClosedError ||
    err instanceof DcsError
  );
}

export class EtcdCalls {
  readonly client: Etcd3;
  private retryTimeoutMs: number;
  private closedFlag = false;

  /** `retryTimeout` in seconds: how long one operation may take, retries included. */
  constructor(
    options: ConnectOptions,
    retryTimeout: number,
    private readonly logger: Logger,
  ) {
    if (options.hosts.length === 0) throw new DcsError('etcd3.hosts', 'no etcd host given');
    this.retryTimeoutMs = retryTimeout * 1000;
    const clientOptions: IOptions = {
      hosts: options.hosts,
      faultHandling: { host: () => passthrough, global: passthrough },
      grpcOptions: {
        // Notice a silently dead connection; etcd rejects pings more often than every 5 s.
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
        // Reconnect quickly once etcd is back instead of grpc's default of up to 2 minutes.
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1_000,
      },
    };
    if (options.username && options.password)
      clientOptions.auth = { username: options.username, password: options.password };
    this.client = new Etcd3(clientOptions);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Seconds; operations started from now on get the new bound. */
  setRetryTimeout(seconds: number): void {
    this.retryTimeoutMs = seconds * 1000;
  }

  /** The deadline of an operation starting now. */
  deadline(): number {
    return Date.now() + this.retryTimeoutMs;
  }

  /** Closes the connection; every later call fails at once. */
  close(): void {
    this.closedFlag = true;
    this.client.close();
  }

  /**
   * Runs one etcd request, retrying transient failures until `deadline`; each attempt
   * carries the deadline to grpc, so a hung etcd cannot hold the caller longer.
   */
  async call<T>(key: string, what: string, deadline: number, op: (opts: CallOptions) => Promise<T>): Promise<T> {
    if (this.closedFlag) throw new DcsError(key, `${what}: client is closed`);
    const left = () => deadline - Date.now();
    try {
      return await pRetry(
        async () => {
          if (this.closedFlag) throw new AbortError(`${what}: client is closed`);
          if (left() <= 0) throw new AbortError(`${what}: retry_timeout exceeded`);
          return op({ deadline: new Date(deadline) });
        },
        {
          retries: Number.MAX_SAFE_INTEGER,
          minTimeout: 100,
          maxTimeout: 1000,
          factor: 2,
          maxRetryTime: Math.max(1, left()),
          signal: AbortSignal.timeout(Math.max(1, left())),
          shouldRetry: ({ error }) => !isPermanent(error) && left() > 100,
          onFailedAttempt: ({ error, attemptNumber }) => {
            this.logger.debug({ key, what, attemptNumber, err: errorText(error) }, 'etcd call failed');
          },
        },
      );
    } catch (err) {
      if (err instanceof DcsError) throw err;
      throw new DcsError(key, `${what} failed: ${errorText(err)}`, { cause: err });
    }
  }

  /** One transaction: `success` when every comparison holds, else `failure`. */
  txn(
    key: string,
    deadline: number,
    compare: ICompare[],
    success: IRequestOp[],
    failure: IRequestOp[] = [],
  ): Promise<ITxnResponse> {
    return this.call(key, 'txn', deadline, (opts) => this.client.kv.txn({ compare, success, failure }, opts));
  }
}
