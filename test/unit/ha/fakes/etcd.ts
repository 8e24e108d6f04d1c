// An in-memory etcd for one group (FakeEtcd) and each member's view of it through the HA loop's
// HaStore (FakeStore), with the semantics of src/dcs/dcs.ts: revisions, leases that expire on the
// FakeClock and take their keys with them, the leader key's compare-and-set, the member key put
// again on a new lease, watches from a revision, and an outage in which every call fails with a
// DcsError as against an unreachable etcd.
import { isDeepStrictEqual } from 'node:util';
import type { JsonObject } from '../../../../src/config/types.ts';
import { memberKeyCurrent } from '../../../../src/dcs/dcs.ts';
import { compactJson } from '../../../../src/dcs/json.ts';
import { KEY, keyLayout, type KeyLayout } from '../../../../src/dcs/keys.ts';
import type {
  ClusterView,
  DcsEvent,
  FailoverState,
  GroupView,
  HistoryEntry,
  MemberData,
  StatusValue,
  SyncState,
} from '../../../../src/dcs/types.ts';
import { parseCluster, type StoredKey } from '../../../../src/dcs/view.ts';
import type { WatchListener } from '../../../../src/dcs/watch.ts';
import { DcsError } from '../../../../src/errors.ts';
import type { HaStore } from '../../../../src/ha/ports.ts';
import type { FakeClock, FakeTimer } from './clock.ts';

export interface EtcdKey {
  value: string;
  createRevision: number;
  modRevision: number;
  /** '0' when the key has no lease. */
  lease: string;
}

/** How an unreachable etcd fails a call: refused at once, or after the caller's retry_timeout. */
export type OutageKind = 'refused' | 'timeout';

/** A change as the fake records it (full key names, for traces and tests). */
export interface EtcdChange {
  type: 'put' | 'delete';
  /** The key name below the group prefix, e.g. `leader`, `members/m1`. */
  name: string;
  value: string | null;
  revision: number;
  /** Why a delete happened when no client asked for it. */
  cause?: 'lease expired';
}

interface Lease {
  ttlMs: number;
  expiresAt: number;
  timer: FakeTimer;
}

interface Watcher {
  listener: WatchListener;
  /** Changes not delivered yet (while etcd is unreachable). */
  pending: DcsEvent[];
  closed: boolean;
  isDead: () => boolean;
}

interface Outage {
  kind: OutageKind;
  over: Promise<void>;
  end: () => void;
}

/** etcd refuses a put on a lease it no longer has (etcd3's EtcdLeaseInvalidError). */
class LeaseGone extends Error {}

export class FakeEtcd {
  readonly layout: KeyLayout;
  private rev = 1;
  private readonly keys = new Map<string, EtcdKey>();
  private readonly leases = new Map<string, Lease>();
  private nextLease = 7001;
  private readonly watchers = new Set<Watcher>();
  private readonly history: DcsEvent[] = [];
  private outageState: Outage | null = null;
  private readonly changeListeners = new Set<(change: EtcdChange) => void>();

  constructor(
    readonly clock: FakeClock,
    options: { namespace?: string; scope?: string } = {},
  ) {
    this.layout = keyLayout({ namespace: options.namespace ?? 'service', scope: options.scope ?? 'sim', group: null });
  }

  get revision(): number {
    return this.rev;
  }

  /** Hears every change (a client's write or a lease's expiry). */
  onChange(listener: (change: EtcdChange) => void): void {
    this.changeListeners.add(listener);
  }

  // ---- direct access (operators, tests) --------------------------------------------------

  /** The key `name` of the group (`leader`, `members/m1`, ...). */
  get(name: string): EtcdKey | undefined {
    return this.keys.get(this.layout.key(name));
  }

  value(name: string): string | null {
    return this.get(name)?.value ?? null;
  }

  json(name: string): unknown {
    const v = this.value(name);
    return v === null ? null : (JSON.parse(v) as unknown);
  }

  /** Puts `value` at `name`; on `lease` when given (throws when that lease is gone). */
  put(name: string, value: string, lease = '0'): EtcdKey {
    if (lease !== '0' && !this.leases.has(lease)) throw new LeaseGone(`lease ${lease} not found`);
    const key = this.layout.key(name);
    const before = this.keys.get(key);
    const revision = ++this.rev;
    const kv: EtcdKey = { value, createRevision: before?.createRevision ?? revision, modRevision: revision, lease };
    this.keys.set(key, kv);
    this.emit({ type: 'put', name, value, revision });
    return kv;
  }

  delete(name: string, cause?: EtcdChange['cause']): boolean {
    const key = this.layout.key(name);
    if (!this.keys.delete(key)) return false;
    const revision = ++this.rev;
    this.emit({ type: 'delete', name, value: null, revision, ...(cause && { cause }) });
    return true;
  }

  /** Every key of the scope, as a range read returns them. */
  stored(): StoredKey[] {
    return [...this.keys].map(([key, kv]) => ({
      key,
      value: kv.value,
      modRevision: String(kv.modRevision),
      createRevision: String(kv.createRevision),
      lease: kv.lease,
    }));
  }

  // ---- leases ------------------------------------------------------------------------------

  grant(ttlSeconds: number): string {
    const id = String(this.nextLease++);
    const ttlMs = ttlSeconds * 1000;
    const expiresAt = this.clock.now() + ttlMs;
    this.leases.set(id, { ttlMs, expiresAt, timer: this.clock.setTimer(expiresAt, () => this.expire(id)) });
    return id;
  }

  /** Renews `id` for another ttl; false when etcd no longer has it. */
  keepAlive(id: string): boolean {
    const lease = this.leases.get(id);
    if (lease === undefined) return false;
    lease.timer.cancel();
    lease.expiresAt = this.clock.now() + lease.ttlMs;
    lease.timer = this.clock.setTimer(lease.expiresAt, () => this.expire(id));
    return true;
  }

  leaseAlive(id: string): boolean {
    return this.leases.has(id);
  }

  /** When `id` expires unless renewed; null when it is gone. */
  leaseExpiresAt(id: string): number | null {
    return this.leases.get(id)?.expiresAt ?? null;
  }

  private expire(id: string): void {
    if (!this.leases.delete(id)) return;
    for (const [key, kv] of [...this.keys]) {
      if (kv.lease !== id) continue;
      const parsed = this.layout.parse(key);
      if (parsed !== null) this.delete(parsed.name, 'lease expired');
    }
  }

  // ---- reachability --------------------------------------------------------------------------

  get reachable(): boolean {
    return this.outageState === null;
  }

  /** From now on every call fails with a DcsError (`refused` at once, `timeout` after retry_timeout). */
  startOutage(kind: OutageKind = 'refused'): void {
    if (this.outageState !== null) return;
    let end!: () => void;
    const over = new Promise<void>((resolve) => (end = resolve));
    this.outageState = { kind, over, end };
  }

  /** etcd answers again; calls still waiting go through and watches get what they missed. */
  endOutage(): void {
    const outage = this.outageState;
    if (outage === null) return;
    this.outageState = null;
    outage.end();
    for (const w of this.watchers) this.flush(w);
  }

  /**
   * Where a client's call meets etcd: resolves when etcd answers; while it is unreachable, rejects
   * with a DcsError at once or after `retryTimeoutMs` unless etcd comes back first.
   */
  async reach(what: string, retryTimeoutMs: number): Promise<void> {
    const outage = this.outageState;
    if (outage === null) return;
    if (outage.kind === 'timeout') {
      let timer: FakeTimer | null = null;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = this.clock.setTimer(this.clock.now() + retryTimeoutMs, () => resolve(true));
      });
      const back = await Promise.race([timedOut, outage.over.then(() => false)]);
      (timer as FakeTimer | null)?.cancel();
      if (!back && this.outageState === null) return;
    }
    throw new DcsError(what, 'etcd is unreachable (all hosts failed)');
  }

  // ---- watches -------------------------------------------------------------------------------

  /** Delivers changes after `fromRevision`, as etcd's watch does; nothing once `isDead()` says so. */
  watch(fromRevision: string, listener: WatchListener, isDead: () => boolean): { close(): void } {
    const watcher: Watcher = { listener, pending: [], closed: false, isDead };
    const from = Number(fromRevision);
    watcher.pending.push(...this.history.filter((e) => Number(e.modRevision) > from));
    this.watchers.add(watcher);
    this.schedule(watcher);
    return {
      close: () => {
        watcher.closed = true;
        this.watchers.delete(watcher);
      },
    };
  }

  private emit(change: EtcdChange): void {
    const event: DcsEvent = {
      type: change.type,
      group: null,
      name: change.name,
      value: change.value,
      modRevision: String(change.revision),
    };
    this.history.push(event);
    for (const w of this.watchers) {
      w.pending.push(event);
      this.schedule(w);
    }
    for (const listener of this.changeListeners) listener(change);
  }

  private schedule(w: Watcher): void {
    if (w.pending.length > 0) queueMicrotask(() => this.flush(w));
  }

  private flush(w: Watcher): void {
    if (w.closed || !this.reachable || w.pending.length === 0) return;
    const events = w.pending;
    w.pending = [];
    if (w.isDead()) return;
    w.listener(events, events[events.length - 1].modRevision, 'events');
  }
}

export interface FakeStoreOptions {
  /** Seconds; the lease's ttl until `reconfigure` changes it. */
  ttl: number;
  /** Seconds a call may take against an unreachable etcd (`timeout` outages). */
  retryTimeout: number;
  /** Simulated milliseconds each call takes before etcd answers; 0 by default. */
  latency?: () => number;
}

/** One member's HaStore on the shared FakeEtcd, with its own lease. */
export class FakeStore implements HaStore {
  /** Every call, in order (`loadCluster`, `touchMember m1`, `updateLeader m1`, ...). */
  readonly calls: string[] = [];
  private leaseId: string | null = null;
  private ttl: number;
  private retryTimeout: number;
  private member: { name: string; value: string } | null = null;
  private dead = false;
  private readonly callListeners = new Set<(what: string) => void>();

  constructor(
    readonly etcd: FakeEtcd,
    private readonly options: FakeStoreOptions,
  ) {
    this.ttl = options.ttl;
    this.retryTimeout = options.retryTimeout;
  }

  /** The lease the member's keys live on; null before the first grant or after a ttl change. */
  get lease(): string | null {
    return this.leaseId;
  }

  get settings(): { ttl: number; retryTimeout: number } {
    return { ttl: this.ttl, retryTimeout: this.retryTimeout };
  }

  onCall(listener: (what: string) => void): void {
    this.callListeners.add(listener);
  }

  /** The agent died: its calls never complete and its watch delivers nothing. */
  kill(): void {
    this.dead = true;
  }

  async loadCluster(): Promise<ClusterView> {
    await this.reach('loadCluster');
    return parseCluster(this.etcd.stored(), {
      scopePrefix: this.etcd.layout.scopePrefix,
      citus: false,
      revision: String(this.etcd.revision),
    });
  }

  watch(fromRevision: string, onEvents: WatchListener): { close(): void } {
    this.record(`watch ${fromRevision}`);
    return this.etcd.watch(fromRevision, onEvents, () => this.dead);
  }

  reconfigure(settings: { ttl?: number; retryTimeout?: number }): void {
    this.record(`reconfigure ${JSON.stringify(settings)}`);
    if (settings.retryTimeout !== undefined) this.retryTimeout = settings.retryTimeout;
    if (settings.ttl !== undefined && settings.ttl !== this.ttl) {
      // As AgentLease.setTtl: a new lease at the next renewal; the old one is left to expire.
      this.ttl = settings.ttl;
      this.leaseId = null;
    }
  }

  async refreshLease(): Promise<boolean> {
    await this.reach('refreshLease');
    return this.renew();
  }

  async touchMember(name: string, data: MemberData, seen?: Pick<GroupView, 'members'>): Promise<void> {
    await this.reach(`touchMember ${name}`);
    const value = compactJson(data);
    this.member = { name, value };
    if (memberKeyCurrent(seen, name, value, this.leaseId)) return;
    this.withLease((lease) => this.etcd.put(`${KEY.membersDir}${name}`, value, lease));
  }

  async attemptToAcquireLeader(name: string): Promise<boolean> {
    await this.reach(`attemptToAcquireLeader ${name}`);
    this.renew();
    return this.withLease((lease) => {
      const holder = this.etcd.get(KEY.leader);
      if (holder === undefined) {
        this.etcd.put(KEY.leader, name, lease);
        return true;
      }
      return holder.value === name && holder.lease === lease;
    });
  }

  async updateLeader(name: string): Promise<boolean> {
    await this.reach(`updateLeader ${name}`);
    this.renew();
    return this.withLease((lease) => {
      const holder = this.etcd.get(KEY.leader);
      if (holder === undefined || holder.value !== name) return false;
      // The key names us on another lease of ours (the lease was replaced): move it.
      if (holder.lease !== lease) this.etcd.put(KEY.leader, name, lease);
      return true;
    });
  }

  async deleteLeader(name: string): Promise<boolean> {
    await this.reach(`deleteLeader ${name}`);
    if (this.etcd.get(KEY.leader)?.value !== name) return false;
    return this.etcd.delete(KEY.leader);
  }

  async initialize(systemId: string, create = true): Promise<boolean> {
    await this.reach(`initialize ${JSON.stringify(systemId)}${create ? ' create' : ''}`);
    if (create && this.etcd.get(KEY.initialize) !== undefined) return false;
    this.etcd.put(KEY.initialize, systemId);
    return true;
  }

  async cancelInitialization(): Promise<void> {
    await this.reach('cancelInitialization');
    this.etcd.delete(KEY.initialize);
  }

  async setConfig(value: JsonObject): Promise<boolean> {
    return this.putJson(KEY.config, value);
  }

  async setFailover(value: FailoverState): Promise<boolean> {
    return this.putJson(KEY.failover, value);
  }

  async setSync(value: SyncState): Promise<boolean> {
    return this.putJson(KEY.sync, value);
  }

  async deleteSync(): Promise<boolean> {
    await this.reach('deleteSync');
    this.etcd.delete(KEY.sync);
    return true;
  }

  async setFailsafe(value: Record<string, string>): Promise<boolean> {
    return this.putJson(KEY.failsafe, value);
  }

  async setHistory(entries: HistoryEntry[]): Promise<boolean> {
    return this.putJson(KEY.history, entries);
  }

  async setStatus(value: StatusValue, stored?: StatusValue | null): Promise<boolean> {
    if (stored !== undefined && isDeepStrictEqual(stored, value)) return true;
    return this.putJson(KEY.status, value);
  }

  private async putJson(name: string, value: unknown): Promise<boolean> {
    await this.reach(`set ${name} ${compactJson(value)}`);
    this.etcd.put(name, compactJson(value));
    return true;
  }

  private record(what: string): void {
    this.calls.push(what);
    for (const listener of this.callListeners) listener(what);
  }

  /** Records the call, takes the call's time, then meets etcd; a dead agent's call never returns. */
  private async reach(what: string): Promise<void> {
    this.record(what);
    if (this.dead) return never();
    const latency = this.options.latency?.() ?? 0;
    if (latency > 0) await this.etcd.clock.sleep(latency);
    if (this.dead) return never();
    await this.etcd.reach(what, this.retryTimeout * 1000);
    if (this.dead) return never();
  }

  /** As AgentLease.renew: true when the lease was renewed, false when a new one was granted. */
  private renew(): boolean {
    if (this.leaseId !== null && this.etcd.keepAlive(this.leaseId)) return true;
    this.grant();
    return false;
  }

  /** A new lease, with the member key last written put on it. */
  private grant(): string {
    const id = this.etcd.grant(this.ttl);
    this.leaseId = id;
    if (this.member !== null) this.etcd.put(`${KEY.membersDir}${this.member.name}`, this.member.value, id);
    return id;
  }

  /** As AgentLease.with: runs `fn` on the lease, once more on a new one when etcd lost it. */
  private withLease<T>(fn: (lease: string) => T): T {
    const lease = this.leaseId ?? this.grant();
    try {
      return fn(lease);
    } catch (err) {
      if (!(err instanceof LeaseGone)) throw err;
      return fn(this.grant());
    }
  }
}

function never(): Promise<never> {
  return new Promise(() => undefined);
}
