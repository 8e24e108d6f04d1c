// The etcd connection and the one way every request goes through it: retried on transient
// failures, bounded by a deadline (retry_timeout from the start of the operation), and failing
// with a DcsError naming the key. The requests the agent makes, in etcd's own terms
// (https://etcd.io/docs/v3.4/learning/api/), over etcdHttp.ts.
import pRetry, { AbortError } from 'p-retry';
import { DcsError, errorText } from '../errors.ts';
import type { Logger } from '../log.ts';
import { b64, EtcdError, EtcdHttp, GRPC_CODE, unb64, type EtcdEndpoints, type EtcdStream } from './etcdHttp.ts';
import { prefixRangeEnd } from './keys.ts';

export type ConnectOptions = EtcdEndpoints;

/** A key as etcd stores it, decoded. Revisions and the lease id are decimal strings; lease '0': none. */
export interface KeyValue {
  key: string;
  value: string;
  createRevision: string;
  modRevision: string;
  lease: string;
}

/** A transaction's comparison of one key (etcd's Compare, with an equality test). */
export type Compare =
  | { key: string; createRevision: string }
  | { key: string; modRevision: string }
  | { key: string; value: string }
  | { key: string; lease: string };

/** A transaction's operation on one key (or, with `prefix`, every key under it). */
export type RequestOp =
  | { put: { key: string; value: string; lease?: string } }
  | { deleteRange: { key: string; prefix?: boolean } }
  | { range: { key: string } };

export interface TxnResult {
  succeeded: boolean;
  /** What each `range` operation of the branch that ran found, in order (other operations: []). */
  ranges: KeyValue[][];
}

export interface RangeResult {
  /** The store's revision when read. */
  revision: string;
  kvs: KeyValue[];
}

interface WireKeyValue {
  key?: string;
  value?: string;
  create_revision?: string;
  mod_revision?: string;
  lease?: string;
}

export function decodeKeyValue(kv: WireKeyValue): KeyValue {
  return {
    key: unb64(kv.key),
    value: unb64(kv.value),
    createRevision: kv.create_revision ?? '0',
    modRevision: kv.mod_revision ?? '0',
    lease: kv.lease ?? '0',
  };
}

/** The key (or prefix range) fields of a request. */
export function keyRange(key: string, prefix = false): { key: string; range_end?: string } {
  const k = Buffer.from(key);
  return prefix ? { key: b64(k), range_end: b64(prefixRangeEnd(k)) } : { key: b64(k) };
}

function wireCompare(c: Compare): object {
  const key = b64(c.key);
  if ('createRevision' in c) return { key, target: 'CREATE', result: 'EQUAL', create_revision: c.createRevision };
  if ('modRevision' in c) return { key, target: 'MOD', result: 'EQUAL', mod_revision: c.modRevision };
  if ('value' in c) return { key, target: 'VALUE', result: 'EQUAL', value: b64(c.value) };
  return { key, target: 'LEASE', result: 'EQUAL', lease: c.lease };
}

function wireOp(op: RequestOp): object {
  if ('put' in op) {
    const { key, value, lease } = op.put;
    return { request_put: { key: b64(key), value: b64(value), ...(lease ? { lease } : {}) } };
  }
  if ('deleteRange' in op) return { request_delete_range: keyRange(op.deleteRange.key, op.deleteRange.prefix) };
  return { request_range: keyRange(op.range.key) };
}

/** True when etcd answered that the lease a request named does not exist (any more). */
export function isLeaseGone(err: unknown): boolean {
  const inner = err instanceof DcsError ? err.cause : err;
  return inner instanceof EtcdError && inner.code === GRPC_CODE.NOT_FOUND && /lease not found/.test(inner.message);
}

/** Errors that retrying cannot fix: a lost lease, refused credentials or permissions, a malformed request. */
function isPermanent(err: unknown): boolean {
  if (err instanceof DcsError) return true;
  if (!(err instanceof EtcdError)) return false;
  return (
    isLeaseGone(err) ||
    err.code === GRPC_CODE.PERMISSION_DENIED ||
    err.code === GRPC_CODE.INVALID_ARGUMENT ||
    err.code === GRPC_CODE.UNAUTHENTICATED
  );
}

/** A retry is not started with less time than this left before the operation's deadline. */
const MIN_ATTEMPT_MS = 100;

function retryTimeoutExceeded(): DOMException {
  return new DOMException('retry_timeout exceeded', 'TimeoutError');
}

export class EtcdCalls {
  private readonly http: EtcdHttp;
  private retryTimeoutMs: number;
  private closedFlag = false;

  /** `retryTimeout` in seconds: how long one operation may take, retries included. */
  constructor(
    options: ConnectOptions,
    retryTimeout: number,
    private readonly logger: Logger,
  ) {
    this.http = new EtcdHttp(options);
    this.retryTimeoutMs = retryTimeout * 1000;
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
    this.http.close();
  }

  /**
   * Runs one etcd request, retrying transient failures until `deadline`. `op` gets the deadline of
   * its attempt: retry_timeout shared among the members (at least 1 s, as Patroni does), so a
   * member that stopped answering leaves time to ask the next; never past `deadline`.
   */
  async call<T>(key: string, what: string, deadline: number, op: (attemptDeadline: number) => Promise<T>): Promise<T> {
    if (this.closedFlag) throw new DcsError(key, `${what}: client is closed`);
    const left = () => deadline - Date.now();
    let last: unknown = null;
    // Ends a wait between attempts at the deadline. A timer of its own, cleared when the call
    // ends: AbortSignal.timeout's would fire for every call, long after it succeeded.
    const expiry = new AbortController();
    const timer = setTimeout(() => expiry.abort(retryTimeoutExceeded()), Math.max(1, left()));
    try {
      return await pRetry(
        async () => {
          if (this.closedFlag) throw new AbortError(`${what}: client is closed`);
          // A retry that would get only the last few milliseconds could not finish: it would
          // replace what the earlier attempts met with a timeout of its own.
          if (last !== null && left() < MIN_ATTEMPT_MS) throw new AbortError(retryTimeoutExceeded());
          if (left() <= 0) throw new AbortError(`${what}: retry_timeout exceeded`);
          const share = Math.max(1000, this.retryTimeoutMs / this.http.members);
          return op(Math.min(deadline, Date.now() + share));
        },
        {
          retries: Number.MAX_SAFE_INTEGER,
          minTimeout: 100,
          maxTimeout: 1000,
          factor: 2,
          maxRetryTime: Math.max(1, left()),
          signal: expiry.signal,
          shouldRetry: ({ error }) => !isPermanent(error) && left() > MIN_ATTEMPT_MS,
          onFailedAttempt: ({ error, attemptNumber }) => {
            last = error;
            this.logger.debug({ key, what, attemptNumber, err: errorText(error) }, 'etcd call failed');
          },
        },
      );
    } catch (err) {
      if (err instanceof DcsError) throw err;
      // Out of time while waiting to retry: what the last attempt met is the news, not the timeout.
      const timedOut = err instanceof DOMException && err.name === 'TimeoutError' && last !== null;
      const cause = timedOut ? last : err;
      throw new DcsError(key, `${what} failed: ${errorText(cause)}${timedOut ? ' (retry_timeout exceeded)' : ''}`, {
        cause,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Every key under `prefix` (or the one key), with the store's revision. */
  range(key: string, prefix: boolean, deadline: number): Promise<RangeResult> {
    return this.call(key, 'range', deadline, async (attempt) => {
      const res = await this.http.request<{ header?: { revision?: string }; kvs?: WireKeyValue[] }>(
        'kv/range',
        keyRange(key, prefix),
        attempt,
      );
      return { revision: res.header?.revision ?? '0', kvs: (res.kvs ?? []).map(decodeKeyValue) };
    });
  }

  put(key: string, value: string, deadline: number, lease?: string): Promise<void> {
    const body = { key: b64(key), value: b64(value), ...(lease ? { lease } : {}) };
    return this.call(key, 'put', deadline, async (attempt) => void (await this.http.request('kv/put', body, attempt)));
  }

  /** Deletes the key, or with `prefix` every key under it. */
  deleteRange(key: string, prefix: boolean, deadline: number): Promise<void> {
    const body = keyRange(key, prefix);
    return this.call(key, 'delete', deadline, async (attempt) => {
      await this.http.request('kv/deleterange', body, attempt);
    });
  }

  /** One transaction: `success` when every comparison holds, else `failure`. */
  txn(
    key: string,
    deadline: number,
    compare: Compare[],
    success: RequestOp[],
    failure: RequestOp[] = [],
  ): Promise<TxnResult> {
    const body = { compare: compare.map(wireCompare), success: success.map(wireOp), failure: failure.map(wireOp) };
    return this.call(key, 'txn', deadline, async (attempt) => {
      const res = await this.http.request<{
        succeeded?: boolean;
        responses?: Array<{ response_range?: { kvs?: WireKeyValue[] } }>;
      }>('kv/txn', body, attempt);
      const ranges = (res.responses ?? []).map((r) => (r.response_range?.kvs ?? []).map(decodeKeyValue));
      return { succeeded: res.succeeded === true, ranges };
    });
  }

  /** Grants a lease of `ttl` seconds; its id. */
  leaseGrant(ttl: number, deadline: number): Promise<string> {
    return this.call('lease', 'grant', deadline, async (attempt) => {
      const res = await this.http.request<{ ID?: string; error?: string }>('lease/grant', { TTL: ttl }, attempt);
      if (res.error) throw new DcsError('lease', `grant failed: ${res.error}`);
      if (!res.ID) throw new DcsError('lease', 'grant failed: etcd returned no lease id');
      return res.ID;
    });
  }

  /** Renews the lease once: true when renewed, false when etcd no longer has it. */
  leaseKeepAlive(lease: string, deadline: number): Promise<boolean> {
    return this.call(`lease ${lease}`, 'keepalive', deadline, async (attempt) => {
      const res = await this.http.request<{ TTL?: string }>('lease/keepalive', { ID: lease }, attempt);
      return Boolean(res.TTL) && res.TTL !== '0';
    });
  }

  /** Opens a watch stream with one create request; see watch.ts. */
  watch<T>(request: object, onMessage: (message: T) => void, onEnd: (err: Error) => void): Promise<EtcdStream> {
    if (this.closedFlag) return Promise.reject(new Error('client is closed'));
    return this.http.stream<T>('watch', { create_request: request }, { onMessage, onEnd });
  }
}
