// The agent's one etcd lease, which the leader key and its member key live on. It is renewed
// only when asked (no background keepalive: the keys expire when the agent stops asking) and
// replaced when etcd has dropped it; the member key is then put again on the new lease.
import type { Logger } from '../log.ts';
import { Serial } from '../serial.ts';
import { isLeaseGone, type EtcdCalls } from './calls.ts';

export class AgentLease {
  private id: string | null = null;
  /** The member key last written, put again on every newly granted lease. */
  private member: { key: string; value: string } | null = null;
  /** Grants and renewals run one at a time, so the agent never holds two leases. */
  private readonly serial = new Serial();

  constructor(
    private readonly etcd: EtcdCalls,
    private readonly logger: Logger,
    /** Seconds a lease survives without renewal. */
    private ttl: number,
  ) {}

  /** The current lease id, or null before the first grant or after it was lost. */
  get current(): string | null {
    return this.id;
  }

  /**
   * A changed ttl takes effect with a new lease at the next renewal. The old lease is left to
   * expire, not revoked: revoking would drop the leader key at once.
   */
  setTtl(ttl: number): void {
    if (ttl === this.ttl) return;
    this.ttl = ttl;
    this.id = null;
  }

  /** Records the member key (full key and value) to re-attach to the next lease granted. */
  rememberMember(key: string, value: string): void {
    this.member = { key, value };
  }

  /** Stops re-attaching `key` (it was deleted). */
  forgetMember(key: string): void {
    if (this.member?.key === key) this.member = null;
  }

  /** The lease id, granting one if there is none. Does not renew an existing lease. */
  ensure(deadline: number): Promise<string> {
    return this.serial.run(async () => this.id ?? (await this.grant(deadline)));
  }

  /**
   * Renews the lease once. True when the existing lease was renewed; false when it was gone (or
   * there was none) and a new one was granted, with the member key put on it.
   */
  renew(deadline: number): Promise<boolean> {
    return this.serial.run(async () => {
      const current = this.id;
      if (current !== null) {
        if (await this.keepaliveOnce(current, deadline)) return true;
        this.logger.warn({ lease: current }, 'lease expired; granting a new one');
        if (this.id === current) this.id = null;
      }
      await this.grant(deadline);
      return false;
    });
  }

  /**
   * Runs `fn` with the current lease; when etcd says the lease is gone, grants a new one
   * (re-attaching the member key) and runs `fn` once more, all within one deadline.
   */
  async with<T>(deadline: number, fn: (lease: string) => Promise<T>): Promise<T> {
    const lease = await this.ensure(deadline);
    try {
      return await fn(lease);
    } catch (err) {
      if (!isLeaseGone(err)) throw err;
      this.logger.warn({ lease }, 'lease disappeared; granting a new one');
      const fresh = await this.serial.run(async () => {
        if (this.id === lease) this.id = null;
        return this.id ?? (await this.grant(deadline));
      });
      return fn(fresh);
    }
  }

  /** Grants a lease and puts the remembered member key on it. Runs inside `serial` only. */
  private async grant(deadline: number): Promise<string> {
    const id = await this.etcd.leaseGrant(this.ttl, deadline);
    this.id = id;
    this.logger.info({ lease: id, ttl: this.ttl }, 'lease granted');
    if (this.member) await this.etcd.put(this.member.key, this.member.value, deadline, id);
    return id;
  }

  /** True when etcd renewed the lease, false when it no longer exists. */
  private keepaliveOnce(lease: string, deadline: number): Promise<boolean> {
    return this.etcd.leaseKeepAlive(lease, deadline);
  }
}
