// The agent's etcd connection: one client, one lease renewed only when the caller asks, and
// Patroni's key layout. Every call is bounded by retry_timeout and fails with a DcsError.
import pRetry, { AbortError } from 'p-retry';
import {
  Etcd3,
  EtcdAuthenticationFailedError,
  EtcdLeaseInvalidError,
  EtcdPermissionDeniedError,
  ClientClosedError,
  type ICompare,
  type IKeyValue,
  type IOptions,
  type IRequestOp,
  type ITxnResponse,
} from 'etcd3';
import type { JsonObject } from '../config/types.ts';
import { DcsError, errorText } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import { compactJson } from './json.ts';
import { KEY, keyLayout, prefixRangeEnd, type KeyLayout } from './keys.ts';
import type { ClusterView, FailoverState, HistoryEntry, MemberData, StatusValue, SyncState } from './types.ts';
import { parseCluster, type StoredKey } from './view.ts';
import { PrefixWatch, type DcsWatch, type WatchListener } from './watch.ts';

export interface DcsOptions {
  /** `host:port` or `http(s)://host:port`, as in `etcd3.hosts`. */
  hosts: string[];
  namespace: string;
  scope: string;
  /** Citus group; null when `citus` is not configured. */
  group: number | null;
  /** Seconds any single call may take, retries included. */
  retryTimeout: number;
  /** Seconds the agent's lease (leader and member keys) survives without renewal. */
  ttl: number;
  logger?: Logger;
  username?: string;
  password?: string;
}

type CallOptions = NonNullable<Parameters<Etcd3['kv']['range']>[1]>;
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

function isLeaseGone(err: unknown): boolean {
  return (
    err instanceof EtcdLeaseInvalidError || (err instanceof DcsError && err.cause instanceof EtcdLeaseInvalidError)
  );
}

function toStored(kv: IKeyValue): StoredKey {
  return {
    key: kv.key.toString(),
    value: kv.value.toString(),
    modRevision: kv.mod_revision,
    createRevision: kv.create_revision,
    lease: kv.lease || '0',
  };
}

export class Dcs {
  readonly layout: KeyLayout;
  private readonly client: Etcd3;
  private readonly logger: Logger;
  private ttl: number;
  private retryTimeoutMs: number;
  private lease: string | null = null;
  /** Last member value written, re-attached when the lease has to be replaced. */
  private lastMember: { name: string; value: string } | null = null;
  /** Lease grants and renewals run one at a time so the agent never holds two leases. */
  private leaseQueue: Promise<unknown> = Promise.resolve();
  private readonly watches = new Set<DcsWatch>();
  private closed = false;

  constructor(private readonly options: DcsOptions) {
    if (options.hosts.length === 0) throw new DcsError('etcd3.hosts', 'no etcd host given');
    this.layout = keyLayout(options);
    this.logger = options.logger ?? silentLogger;
    this.ttl = options.ttl;
    this.retryTimeoutMs = options.retryTimeout * 1000;
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

  /** The agent's current lease id, or null before the first grant or after it was lost. */
  get leaseId(): string | null {
    return this.lease;
  }

  /** Applies changed dynamic settings; a new ttl takes effect with a new lease at the next renewal. */
  reconfigure(settings: { ttl?: number; retryTimeout?: number }): void {
    if (settings.retryTimeout !== undefined) this.retryTimeoutMs = settings.retryTimeout * 1000;
    if (settings.ttl !== undefined && settings.ttl !== this.ttl) {
      this.ttl = settings.ttl;
      // The old lease is left to expire, not revoked: revoking would drop the leader key at once.
      this.lease = null;
    }
  }

  // ---- reading ------------------------------------------------------------------------

  /**
   * One range read. The coordinator (group 0) and callers passing `allGroups` get every
   * group of the scope; a worker gets its own group only.
   */
  async loadCluster(options: { allGroups?: boolean } = {}): Promise<ClusterView> {
    const { layout } = this;
    const whole = layout.citus && (options.allGroups || this.options.group === 0);
    const prefix = whole ? layout.scopePrefix : layout.groupPrefix;
    const key = Buffer.from(prefix);
    const res = await this.call(prefix, 'range', this.deadline(), (opts) =>
      this.client.kv.range({ key, range_end: prefixRangeEnd(key) }, opts),
    );
    return parseCluster((res.kvs ?? []).map(toStored), {
      scopePrefix: layout.scopePrefix,
      citus: layout.citus,
      revision: res.header.revision,
      ensureGroups: this.options.group === null ? undefined : [this.options.group],
    });
  }

  /**
   * Watches every group of the scope, delivering changes after `fromRevision` (pass the
   * revision of the view you loaded). Reconnects by itself; see WatchSignal for `resync`.
   */
  watch(fromRevision: string, onEvents: WatchListener): DcsWatch {
    if (this.closed) throw new DcsError(this.layout.scopePrefix, 'watch on a closed client');
    const inner = new PrefixWatch(
      this.client,
      this.layout.scopePrefix,
      (k) => this.layout.parse(k),
      fromRevision,
      onEvents,
      this.logger,
    );
    const handle: DcsWatch = {
      close: () => {
        this.watches.delete(handle);
        inner.close();
      },
    };
    this.watches.add(handle);
    return handle;
  }

  // ---- the lease ----------------------------------------------------------------------

  /** The agent's lease id, granting one if there is none. Does not renew an existing lease. */
  async ensureLease(): Promise<string> {
    const deadline = this.deadline();
    return this.serializeLease(async () => this.lease ?? (await this.grantLease(deadline)));
  }

  /**
   * Renews the lease once (no background renewal: keys expire when the caller stops calling).
   * Resolves true when the existing lease was renewed; false when it was gone (or there was
   * none) and a new one was granted. The member key last written is then put again on the
   * new lease; the leader key is re-attached by updateLeader.
   */
  async refreshLease(): Promise<boolean> {
    return this.renewLease(this.deadline());
  }

  private renewLease(deadline: number): Promise<boolean> {
    return this.serializeLease(async () => {
      const current = this.lease;
      if (current !== null) {
        if (await this.keepaliveOnce(current, deadline)) return true;
        this.logger.warn({ lease: current }, 'lease expired; granting a new one');
        if (this.lease === current) this.lease = null;
      }
      await this.grantLease(deadline);
      return false;
    });
  }

  private serializeLease<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.leaseQueue.then(fn, fn);
    this.leaseQueue = run.catch(() => undefined);
    return run;
  }

  /** Grants a lease and re-attaches the member key to it. Call inside serializeLease. */
  private async grantLease(deadline: number): Promise<string> {
    const res = await this.call('lease', 'grant', deadline, (opts) =>
      this.client.leaseClient.leaseGrant({ TTL: this.ttl }, opts),
    );
    if (res.error) throw new DcsError('lease', `grant failed: ${res.error}`);
    this.lease = res.ID;
    this.logger.info({ lease: res.ID, ttl: this.ttl }, 'lease granted');
    if (this.lastMember) {
      const { name, value } = this.lastMember;
      const key = this.layout.member(name);
      await this.call(key, 'put', deadline, (opts) =>
        this.client.kv.put({ key: Buffer.from(key), value: Buffer.from(value), lease: res.ID }, opts),
      );
    }
    return res.ID;
  }

  /** True when etcd renewed the lease, false when it no longer exists. */
  private async keepaliveOnce(lease: string, deadline: number): Promise<boolean> {
    const res = await this.call(`lease ${lease}`, 'keepalive', deadline, async (opts) => {
      const stream = await this.client.leaseClient.leaseKeepAlive(opts);
      // The stream may emit a late error (e.g. CANCELLED) after we are done with it.
      stream.on('error', () => undefined);
      try {
        return await new Promise<{ TTL?: string }>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('keepalive timed out')), Math.max(1, deadline - Date.now()));
          stream.on('data', (r) => (clearTimeout(timer), resolve(r)));
          stream.on('error', (err) => (clearTimeout(timer), reject(err)));
          stream.on('end', () => (clearTimeout(timer), reject(new Error('keepalive stream ended'))));
          stream.write({ ID: lease });
        });
      } finally {
        // Half-close first: etcd3 treats an error on a still-writable stream (the CANCELLED a
        // bare cancel() produces) as a broken host and reopens every channel, watches included.
        stream.end();
        stream.cancel();
      }
    });
    return Boolean(res.TTL) && res.TTL !== '0';
  }

  /**
   * Runs `fn` with the current lease; when etcd says the lease is gone, grants a new one
   * (re-attaching the member key) and runs `fn` once more, all within one deadline.
   */
  private async withLease<T>(deadline: number, fn: (lease: string) => Promise<T>): Promise<T> {
    const lease = await this.serializeLease(async () => this.lease ?? (await this.grantLease(deadline)));
    try {
      return await fn(lease);
    } catch (err) {
      if (!isLeaseGone(err)) throw err;
      this.logger.warn({ lease }, 'lease disappeared; granting a new one');
      const fresh = await this.serializeLease(async () => {
        if (this.lease === lease) this.lease = null;
        return this.lease ?? (await this.grantLease(deadline));
      });
      return fn(fresh);
    }
  }

  // ---- member -------------------------------------------------------------------------

  /**
   * Writes `members/<name>` on the agent's lease. Always writes: the HA loop calls it once per
   * cycle, right after the lease renewal it belongs to.
   */
  async touchMember(name: string, data: MemberData): Promise<void> {
    const key = this.layout.member(name);
    const value = compactJson(data);
    this.lastMember = { name, value };
    const deadline = this.deadline();
    await this.withLease(deadline, (lease) =>
      this.call(key, 'put', deadline, (opts) =>
        this.client.kv.put({ key: Buffer.from(key), value: Buffer.from(value), lease }, opts),
      ),
    );
  }

  async deleteMember(name: string): Promise<void> {
    if (this.lastMember?.name === name) this.lastMember = null;
    const key = this.layout.member(name);
    await this.call(key, 'delete', this.deadline(), (opts) =>
      this.client.kv.deleteRange({ key: Buffer.from(key) }, opts),
    );
  }

  // ---- leader lock --------------------------------------------------------------------

  /**
   * Takes the leader lock if nobody holds it: "create_revision(leader) == 0 then put with my
   * lease". Renews the lease first. True also when the key already names us on our lease.
   */
  async attemptToAcquireLeader(name: string): Promise<boolean> {
    const key = this.layout.key(KEY.leader);
    const k = Buffer.from(key);
    const deadline = this.deadline();
    await this.renewLease(deadline);
    return this.withLease(deadline, async (lease) => {
      const res = await this.txn(
        key,
        deadline,
        [{ key: k, target: 'Create', result: 'Equal', create_revision: 0 }],
        [{ request_put: { key: k, value: Buffer.from(name), lease } }],
        [{ request_range: { key: k } }],
      );
      if (res.succeeded) {
        this.logger.info({ member: name, lease }, 'leader lock acquired');
        return true;
      }
      // A retried request whose first attempt succeeded lands here; it is still ours.
      const holder = res.responses[0]?.response_range?.kvs?.[0];
      return holder !== undefined && holder.value.toString() === name && holder.lease === lease;
    });
  }

  /**
   * Keeps the lock: renews the lease; when the key sits on another lease of ours (the lease
   * was replaced), moves it with "value == name then put with my lease". False when the key
   * is absent or names someone else.
   */
  async updateLeader(name: string): Promise<boolean> {
    const key = this.layout.key(KEY.leader);
    const k = Buffer.from(key);
    const v = Buffer.from(name);
    const deadline = this.deadline();
    await this.renewLease(deadline);
    return this.withLease(deadline, async (lease) => {
      const check = await this.txn(
        key,
        deadline,
        [
          { key: k, target: 'Value', result: 'Equal', value: v },
          { key: k, target: 'Lease', result: 'Equal', lease },
        ],
        [],
        [{ request_range: { key: k } }],
      );
      if (check.succeeded) return true;
      const holder = check.responses[0]?.response_range?.kvs?.[0];
      if (!holder || holder.value.toString() !== name) return false;
      const moved = await this.txn(
        key,
        deadline,
        [{ key: k, target: 'Value', result: 'Equal', value: v }],
        [{ request_put: { key: k, value: v, lease } }],
      );
      if (moved.succeeded) this.logger.info({ member: name, lease }, 'leader key moved to the new lease');
      return moved.succeeded;
    });
  }

  /** Releases the lock: "value == name then delete". True when this call deleted it. */
  async deleteLeader(name: string): Promise<boolean> {
    const key = this.layout.key(KEY.leader);
    const k = Buffer.from(key);
    const res = await this.txn(
      key,
      this.deadline(),
      [{ key: k, target: 'Value', result: 'Equal', value: Buffer.from(name) }],
      [{ request_delete_range: { key: k } }],
    );
    if (res.succeeded) this.logger.info({ member: name }, 'leader lock released');
    return res.succeeded;
  }

  // ---- cluster-wide keys ----------------------------------------------------------------

  /**
   * The bootstrap race: with `create`, writes `initialize` only if it does not exist (true =
   * this agent won); without, overwrites it (to record the system id after bootstrap).
   */
  async initialize(sysid: string, create = true): Promise<boolean> {
    return this.putValue(KEY.initialize, sysid, create ? { createRevision: 0 } : {});
  }

  async cancelInitialization(): Promise<void> {
    await this.deleteKey(KEY.initialize);
  }

  /** Writes `config`; with `modRevision`, only if nobody changed it since (false when stale). */
  async setConfig(value: JsonObject, modRevision?: string): Promise<boolean> {
    return this.putValue(KEY.config, compactJson(value), { modRevision });
  }

  async setSync(value: SyncState, modRevision?: string): Promise<boolean> {
    return this.putValue(KEY.sync, compactJson(value), { modRevision });
  }

  async deleteSync(modRevision?: string): Promise<boolean> {
    return this.deleteKey(KEY.sync, modRevision);
  }

  /** Writes `failover`; `{}` clears a pending request. */
  async setFailover(value: FailoverState, modRevision?: string): Promise<boolean> {
    return this.putValue(KEY.failover, compactJson(value), { modRevision });
  }

  async setHistory(entries: HistoryEntry[]): Promise<boolean> {
    return this.putValue(KEY.history, compactJson(entries), {});
  }

  /** Writes `status` (`{"optime":...,"slots":...}`); the legacy `optime/leader` key is not written. */
  async setStatus(value: StatusValue): Promise<boolean> {
    return this.putValue(KEY.status, compactJson(value), {});
  }

  async setFailsafe(value: Record<string, string>): Promise<boolean> {
    return this.putValue(KEY.failsafe, compactJson(value), {});
  }

  /** Removes every key of this agent's group (`patronictl remove`). */
  async deleteGroup(): Promise<void> {
    const prefix = this.layout.groupPrefix;
    const key = Buffer.from(prefix);
    await this.call(prefix, 'delete', this.deadline(), (opts) =>
      this.client.kv.deleteRange({ key, range_end: prefixRangeEnd(key) }, opts),
    );
  }

  /** Stops every watch and the connection. The lease is left to expire. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.watches]) w.close();
    this.client.close();
  }

  // ---- plumbing -----------------------------------------------------------------------

  private async putValue(
    name: string,
    value: string,
    cmp: { createRevision?: number; modRevision?: string },
  ): Promise<boolean> {
    const key = this.layout.key(name);
    const k = Buffer.from(key);
    const put: IRequestOp = { request_put: { key: k, value: Buffer.from(value) } };
    const deadline = this.deadline();
    if (cmp.createRevision !== undefined) {
      return (
        await this.txn(
          key,
          deadline,
          [{ key: k, target: 'Create', result: 'Equal', create_revision: cmp.createRevision }],
          [put],
        )
      ).succeeded;
    }
    if (cmp.modRevision !== undefined) {
      return (
        await this.txn(
          key,
          deadline,
          [{ key: k, target: 'Mod', result: 'Equal', mod_revision: cmp.modRevision }],
          [put],
        )
      ).succeeded;
    }
    await this.call(key, 'put', deadline, (opts) => this.client.kv.put({ key: k, value: Buffer.from(value) }, opts));
    return true;
  }

  private async deleteKey(name: string, modRevision?: string): Promise<boolean> {
    const key = this.layout.key(name);
    const k = Buffer.from(key);
    const deadline = this.deadline();
    if (modRevision !== undefined) {
      return (
        await this.txn(
          key,
          deadline,
          [{ key: k, target: 'Mod', result: 'Equal', mod_revision: modRevision }],
          [{ request_delete_range: { key: k } }],
        )
      ).succeeded;
    }
    await this.call(key, 'delete', deadline, (opts) => this.client.kv.deleteRange({ key: k }, opts));
    return true;
  }

  private txn(
    key: string,
    deadline: number,
    compare: ICompare[],
    success: IRequestOp[],
    failure: IRequestOp[] = [],
  ): Promise<ITxnResponse> {
    return this.call(key, 'txn', deadline, (opts) => this.client.kv.txn({ compare, success, failure }, opts));
  }

  private deadline(): number {
    return Date.now() + this.retryTimeoutMs;
  }

  /**
   * Runs one etcd request, retrying transient failures until `deadline`; each attempt
   * carries the deadline to grpc, so a hung etcd cannot hold the caller longer.
   */
  private async call<T>(
    key: string,
    what: string,
    deadline: number,
    op: (opts: CallOptions) => Promise<T>,
  ): Promise<T> {
    if (this.closed) throw new DcsError(key, `${what}: client is closed`);
    const left = () => deadline - Date.now();
    try {
      return await pRetry(
        async () => {
          if (this.closed) throw new AbortError(`${what}: client is closed`);
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
}
