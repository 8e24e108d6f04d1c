// What the HA loop knows of etcd: the last group view read, whether etcd answers, the dynamic
// configuration in force, and the watch that wakes the loop when one of its group's keys changes.
import { resolveDynamicConfig } from '../config/dynamic.ts';
import type { Config, DynamicConfig } from '../config/types.ts';
import type { ClusterView, DcsEvent, GroupView } from '../dcs/types.ts';
import { emptyGroup, groupOf, parseMemberData } from '../dcs/view.ts';
import { errorText } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { HaStore } from './ports.ts';
import type { DcsHealth } from './types.ts';

/** The part of the dynamic configuration postgresql.conf is rendered from. */
function renderedFrom(c: DynamicConfig): string {
  return JSON.stringify([c.postgresql, c.synchronous_mode, c.synchronous_mode_strict]);
}

/** Keys of the own group whose change should trigger a cycle at once. */
const WAKING_KEYS = new Set(['leader', 'failover', 'config', 'initialize', 'sync']);

export interface GroupReaderOptions {
  config: Config;
  store: HaStore;
  log: Logger;
  now: () => number;
  wake: (reason: string) => void;
  /** The `config` key changed what PostgreSQL's configuration is rendered from. */
  renderWanted: () => void;
}

export class GroupReader {
  /** The last group view read; null until the first read succeeded. */
  view: GroupView | null = null;
  cluster: ClusterView | null = null;
  health: DcsHealth = { kind: 'ok' };
  /** When etcd last answered a read. */
  lastSeen = 0;
  /** The `config` key merged over the bootstrap defaults, as of the last read. */
  dynamic: DynamicConfig;
  private watch: { close(): void } | null = null;

  constructor(private readonly options: GroupReaderOptions) {
    this.dynamic = options.config.bootstrap.dcs;
  }

  private get group(): number | null {
    return this.options.config.citus?.group ?? null;
  }

  /** The last view read, or an empty one for this member's group before any read succeeded. */
  viewOrEmpty(): GroupView {
    return this.view ?? emptyGroup(this.group);
  }

  async read(): Promise<void> {
    try {
      const cluster = await this.options.store.loadCluster();
      this.cluster = cluster;
      this.view = groupOf(cluster, this.group);
      this.health = { kind: 'ok' };
      this.lastSeen = this.options.now();
      this.applyDynamicConfig(this.view);
      if (this.watch === null) this.startWatch(cluster.revision);
    } catch (err) {
      this.markDown(errorText(err));
    }
  }

  /** etcd did not answer (a read, or a write of this cycle); the first such news is logged. */
  markDown(error: string): void {
    if (this.health.kind !== 'ok') return;
    this.health = { kind: 'unreachable', since: this.options.now(), error };
    this.options.log.warn({ err: error }, 'etcd unreachable');
  }

  close(): void {
    this.watch?.close();
    this.watch = null;
  }

  private applyDynamicConfig(view: GroupView): void {
    const { config, store, log } = this.options;
    const resolved = resolveDynamicConfig(view.config?.value ?? null, config.bootstrap.dcs);
    for (const problem of resolved.problems) log.warn({ path: problem.path }, `config key: ${problem.message}`);
    const before = this.dynamic;
    this.dynamic = resolved.config;
    if (renderedFrom(before) !== renderedFrom(resolved.config)) {
      log.info({ action: 'config' }, 'the config key changed what postgresql.conf is rendered from');
      this.options.renderWanted();
    }
    if (before.ttl !== resolved.config.ttl || before.retry_timeout !== resolved.config.retry_timeout) {
      store.reconfigure({ ttl: resolved.config.ttl, retryTimeout: resolved.config.retry_timeout });
      log.info({ ttl: resolved.config.ttl, retry_timeout: resolved.config.retry_timeout }, 'timing changed');
    }
  }

  /**
   * In synchronous mode, a member key that appeared or changed its state, role or replication
   * state since the last read: a standby that now streams may be made synchronous (and a leader
   * should not wait a loop_wait to see it).
   */
  private memberMoved(event: DcsEvent): boolean {
    if (this.dynamic.synchronous_mode === 'off') return false;
    if (!event.name.startsWith('members/') || event.type !== 'put' || event.value === null) return false;
    const known = this.view?.members.find((m) => `members/${m.name}` === event.name)?.data;
    if (known === undefined) return true;
    try {
      const data = parseMemberData(event.value);
      return (
        data.state !== known.state || data.role !== known.role || data.replication_state !== known.replication_state
      );
    } catch {
      return false;
    }
  }

  private startWatch(revision: string): void {
    const own = this.group;
    this.watch = this.options.store.watch(revision, (events, _revision, signal) => {
      if (signal === 'resync') return this.options.wake('watch resync');
      const relevant = events.find((e) => e.group === own && (WAKING_KEYS.has(e.name) || this.memberMoved(e)));
      if (relevant) this.options.wake(`${relevant.name} ${relevant.type}`);
    });
  }
}
