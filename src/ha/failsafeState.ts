// Failsafe mode as one member knows it: when this primary was last accepted by every member
// while etcd was away, and which primary last called this member (POST /failsafe), each valid
// for ttl.

export type FailsafeVerdict = { accepted: true } | { accepted: false; status: 409 | 502; reason: string };

export class FailsafeState {
  private confirmedAt = Number.NEGATIVE_INFINITY;
  private leader: string | null = null;
  private heardAt = Number.NEGATIVE_INFINITY;

  /**
   * POST /failsafe from `leader`: accepted (this member then does not take the lead for ttl)
   * while failsafe mode is on and this member does not run as another primary itself.
   */
  accept(leader: string, at: number, context: { failsafeMode: boolean; runsAsOtherPrimary: boolean }): FailsafeVerdict {
    if (!context.failsafeMode) return { accepted: false, status: 502, reason: 'Failsafe mode is not enabled' };
    if (context.runsAsOtherPrimary) return { accepted: false, status: 409, reason: 'Running as a leader' };
    this.leader = leader;
    this.heardAt = at;
    return { accepted: true };
  }

  /** Every member accepted this primary at `at`. */
  confirmed(at: number): void {
    this.confirmedAt = at;
  }

  /** The primary that called within ttl, or null. */
  leaderAt(now: number, ttlSeconds: number): string | null {
    return now - this.heardAt < ttlSeconds * 1000 ? this.leader : null;
  }

  activeAt(now: number, ttlSeconds: number): boolean {
    return this.leaderAt(now, ttlSeconds) !== null || now - this.confirmedAt < ttlSeconds * 1000;
  }
}
