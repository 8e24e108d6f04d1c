// The agent's etcd connection in Patroni's key layout: reads of the cluster, the member key and
// the leader lock on the agent's lease (lease.ts), and the cluster-wide keys. Every call is
// bounded by retry_timeout and fails with a DcsError (calls.ts).
import { isDeepStrictEqual } from 'node:util';
import type { JsonObject } from '../config/types.ts';
import { DcsError } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import { EtcdCalls, type Compare, type RequestOp, type TxnResult } from './calls.ts';
import type { EtcdTls } from './etcdHttp.ts';
import { compactJson } from './json.ts';
import { KEY, keyLayout, type KeyLayout } from './keys.ts';
import { AgentLease } from './lease.ts';
import type {
  CitusMark,
  ClusterView,
  GroupView,
  FailoverState,
  HistoryEntry,
  MemberData,
  StatusValue,
  SyncState,
} from './types.ts';
import { parseCluster } from './view.ts';
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
  tls?: EtcdTls;
}

/** When a write of a cluster-wide key happens; no field set means always. */
interface WriteCondition {
  /** Only if the key's create revision is this (0: the key does not exist). */
  createRevision?: number;
  /** Only if nobody changed the key since this mod revision. */
  modRevision?: string;
}

/** One write, as a transaction operation and as a request of its own. */
interface KeyWrite {
  inTxn: (key: string) => RequestOp;
  alone: (key: string, deadline: number) => Promise<unknown>;
}

/** What a leader lock operation works with: the key, the agent's lease, transactions on the key. */
interface LeaderKeyAccess {
  k: string;
  lease: string;
  txn: (compare: Compare[], success: RequestOp[], failure?: RequestOp[]) => Promise<TxnResult>;
}

/** The comparison a conditional write makes in its transaction; null when it is unconditional. */
function comparison(key: string, when: WriteCondition): Compare | null {
  if (when.createRevision !== undefined) return { key, createRevision: String(when.createRevision) };
  if (when.modRevision !== undefined) return { key, modRevision: when.modRevision };
  return null;
}

/** True when `seen` shows member `name`'s key already holding `value` on `lease` (nothing to write). */
export function memberKeyCurrent(
  seen: Pick<GroupView, 'members'> | undefined,
  name: string,
  value: string,
  lease: string | null,
): boolean {
  const stored = seen?.members.find((m) => m.name === name);
  return stored !== undefined && lease !== null && stored.lease === lease && compactJson(stored.data) === value;
}

export class Dcs {
  readonly layout: KeyLayout;
  private readonly etcd: EtcdCalls;
  private readonly logger: Logger;
  private readonly lease: AgentLease;
  private readonly watches = new Set<DcsWatch>();

  constructor(private readonly options: DcsOptions) {
    this.logger = options.logger ?? silentLogger;
    this.etcd = new EtcdCalls(options, options.retryTimeout, this.logger);
    this.layout = keyLayout(options);
    this.lease = new AgentLease(this.etcd, this.logger, options.ttl);
  }

  /** The agent's current lease id, or null before the first grant or after it was lost. */
  get leaseId(): string | null {
    return this.lease.current;
  }

  /** Applies changed dynamic settings; a new ttl takes effect with a new lease at the next renewal. */
  reconfigure(settings: { ttl?: number; retryTimeout?: number }): void {
    if (settings.retryTimeout !== undefined) this.etcd.setRetryTimeout(settings.retryTimeout);
    if (settings.ttl !== undefined) this.lease.setTtl(settings.ttl);
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
    const res = await this.etcd.range(prefix, true, this.etcd.deadline());
    return parseCluster(res.kvs, {
      scopePrefix: layout.scopePrefix,
      citus: layout.citus,
      revision: res.revision,
      ensureGroups: this.options.group === null ? undefined : [this.options.group],
    });
  }

  /**
   * Watches every group of the scope, delivering changes after `fromRevision` (pass the
   * revision of the view you loaded). Reconnects by itself; see WatchSignal for `resync`.
   */
  watch(fromRevision: string, onEvents: WatchListener): DcsWatch {
    if (this.etcd.closed) throw new DcsError(this.layout.scopePrefix, 'watch on a closed client');
    const inner = new PrefixWatch(
      this.etcd,
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
    return this.lease.ensure(this.etcd.deadline());
  }

  /**
   * Renews the lease once (no background renewal: keys expire when the caller stops calling).
   * Resolves true when the existing lease was renewed; false when it was gone (or there was
   * none) and a new one was granted. The member key last written is then put again on the
   * new lease; the leader key is re-attached by updateLeader.
   */
  async refreshLease(): Promise<boolean> {
    return this.lease.renew(this.etcd.deadline());
  }

  // ---- member -------------------------------------------------------------------------

  /**
   * Writes `members/<name>` on the agent's lease. Given `seen` (the group as read this cycle), only
   * when the key does not already hold that value on the current lease, as Patroni does: the lease
   * renewal before it keeps an unchanged key alive without an etcd write.
   */
  async touchMember(name: string, data: MemberData, seen?: Pick<GroupView, 'members'>): Promise<void> {
    const key = this.layout.member(name);
    const value = compactJson(data);
    this.lease.rememberMember(key, value);
    if (memberKeyCurrent(seen, name, value, this.lease.current)) return;
    const deadline = this.etcd.deadline();
    await this.lease.with(deadline, (lease) => this.etcd.put(key, value, deadline, lease));
  }

  async deleteMember(name: string): Promise<void> {
    const key = this.layout.member(name);
    this.lease.forgetMember(key);
    await this.etcd.deleteRange(key, false, this.etcd.deadline());
  }

  // ---- leader lock --------------------------------------------------------------------

  /**
   * Takes the leader lock if nobody holds it: "create_revision(leader) == 0 then put with my
   * lease". Renews the lease first. True also when the key already names us on our lease.
   */
  async attemptToAcquireLeader(name: string): Promise<boolean> {
    return this.withLeaderKey(async ({ k, lease, txn }) => {
      const res = await txn(
        [{ key: k, createRevision: '0' }],
        [{ put: { key: k, value: name, lease } }],
        [{ range: { key: k } }],
      );
      if (res.succeeded) {
        this.logger.info({ member: name, lease }, 'leader lock acquired');
        return true;
      }
      // A retried request whose first attempt succeeded lands here; it is still ours.
      const holder = res.ranges[0]?.[0];
      return holder !== undefined && holder.value === name && holder.lease === lease;
    });
  }

  /**
   * Keeps the lock: renews the lease; when the key sits on another lease of ours (the lease
   * was replaced), moves it with "value == name then put with my lease". False when the key
   * is absent or names someone else.
   */
  async updateLeader(name: string): Promise<boolean> {
    return this.withLeaderKey(async ({ k, lease, txn }) => {
      const check = await txn(
        [
          { key: k, value: name },
          { key: k, lease },
        ],
        [],
        [{ range: { key: k } }],
      );
      if (check.succeeded) return true;
      const holder = check.ranges[0]?.[0];
      if (!holder || holder.value !== name) return false;
      const moved = await txn([{ key: k, value: name }], [{ put: { key: k, value: name, lease } }]);
      if (moved.succeeded) this.logger.info({ member: name, lease }, 'leader key moved to the new lease');
      return moved.succeeded;
    });
  }

  /** Releases the lock: "value == name then delete". True when this call deleted it. */
  async deleteLeader(name: string): Promise<boolean> {
    const key = this.layout.key(KEY.leader);
    const res = await this.etcd.txn(key, this.etcd.deadline(), [{ key, value: name }], [{ deleteRange: { key } }]);
    if (res.succeeded) this.logger.info({ member: name }, 'leader lock released');
    return res.succeeded;
  }

  /**
   * Renews the lease, then runs `fn` with the leader key, the lease and transactions on that key;
   * when etcd has dropped the lease meanwhile, once more on a new one. All within one deadline.
   */
  private async withLeaderKey<T>(fn: (access: LeaderKeyAccess) => Promise<T>): Promise<T> {
    const k = this.layout.key(KEY.leader);
    const deadline = this.etcd.deadline();
    await this.lease.renew(deadline);
    const txn: LeaderKeyAccess['txn'] = (compare, success, failure) =>
      this.etcd.txn(k, deadline, compare, success, failure);
    return this.lease.with(deadline, (lease) => fn({ k, lease, txn }));
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
    await this.deleteKey(KEY.initialize, {});
  }

  /** Writes `config`; with `modRevision`, only if nobody changed it since (false when stale). */
  async setConfig(value: JsonObject, modRevision?: string): Promise<boolean> {
    return this.putValue(KEY.config, compactJson(value), { modRevision });
  }

  /**
   * Writes the `config` key of several Citus groups (null: the cluster's own) in one transaction,
   * each only if its mod revision is still the one given ('0': the key must not exist). All are
   * written, or none (false).
   */
  async setConfigs(
    writes: ReadonlyArray<{ group: number | null; value: JsonObject; modRevision: string }>,
  ): Promise<boolean> {
    const compare: Compare[] = [];
    const success: RequestOp[] = [];
    for (const w of writes) {
      const key = this.layout.key(KEY.config, w.group ?? undefined);
      compare.push({ key, modRevision: w.modRevision });
      success.push({ put: { key, value: compactJson(w.value) } });
    }
    const res = await this.etcd.txn(this.layout.scopePrefix, this.etcd.deadline(), compare, success);
    return res.succeeded;
  }

  async setSync(value: SyncState, modRevision?: string): Promise<boolean> {
    return this.putValue(KEY.sync, compactJson(value), { modRevision });
  }

  async deleteSync(modRevision?: string): Promise<boolean> {
    return this.deleteKey(KEY.sync, { modRevision });
  }

  /** Writes `failover`; `{}` clears a pending request. */
  async setFailover(value: FailoverState, modRevision?: string): Promise<boolean> {
    return this.putValue(KEY.failover, compactJson(value), { modRevision });
  }

  async setHistory(entries: HistoryEntry[]): Promise<boolean> {
    return this.putValue(KEY.history, compactJson(entries), {});
  }

  /**
   * Writes `status` (`{"optime":...,"slots":...}`); the legacy `optime/leader` key is not written.
   * Given `stored` (the key as read this cycle), only when it changed, as Patroni does.
   */
  async setStatus(value: StatusValue, stored?: StatusValue | null): Promise<boolean> {
    if (stored !== undefined && isDeepStrictEqual(stored, value)) return true;
    return this.putValue(KEY.status, compactJson(value), {});
  }

  async setFailsafe(value: Record<string, string>): Promise<boolean> {
    return this.putValue(KEY.failsafe, compactJson(value), {});
  }

  /** Writes a group's `citus` key if unchanged since `modRevision` (null: if absent); false when it was not. */
  async setCitusMark(group: number, value: CitusMark, modRevision: string | null): Promise<boolean> {
    const when: WriteCondition = modRevision === null ? { createRevision: 0 } : { modRevision };
    return this.putValue(KEY.citus, compactJson(value), when, group);
  }

  /** Removes every key of this agent's group (`patronictl remove`). */
  async deleteGroup(): Promise<void> {
    await this.etcd.deleteRange(this.layout.groupPrefix, true, this.etcd.deadline());
  }

  /** Stops every watch and the connection. The lease is left to expire. */
  close(): void {
    if (this.etcd.closed) return;
    for (const w of [...this.watches]) w.close();
    this.etcd.close();
  }

  // ---- writes of cluster-wide keys ------------------------------------------------------

  /** Puts `value` at key `name` of the group (this agent's, or `group`); false when `when` did not hold. */
  private putValue(name: string, value: string, when: WriteCondition, group?: number): Promise<boolean> {
    return this.writeKey(
      name,
      when,
      {
        inTxn: (key) => ({ put: { key, value } }),
        alone: (key, deadline) => this.etcd.put(key, value, deadline),
      },
      group,
    );
  }

  /** Deletes key `name` of the group; false when `when` did not hold. */
  private deleteKey(name: string, when: WriteCondition): Promise<boolean> {
    return this.writeKey(name, when, {
      inTxn: (key) => ({ deleteRange: { key } }),
      alone: (key, deadline) => this.etcd.deleteRange(key, false, deadline),
    });
  }

  /**
   * One write of key `name` (of this agent's group, or of `group`): with a condition, a transaction
   * that makes it only if the condition holds (resolving whether it did); without, the plain request.
   */
  private async writeKey(name: string, when: WriteCondition, write: KeyWrite, group?: number): Promise<boolean> {
    const key = this.layout.key(name, group);
    const deadline = this.etcd.deadline();
    const compare = comparison(key, when);
    if (compare !== null) return (await this.etcd.txn(key, deadline, [compare], [write.inTxn(key)])).succeeded;
    await write.alone(key, deadline);
    return true;
  }
}
