// `GET /metrics` in Prometheus's text format (prom-client): Patroni's metrics (patroniMetrics.ts),
// the HA loop's cycle durations, and on the member that runs the Citus manager its metadata,
// reconciles and pauses. Every series carries Patroni's `scope` and `name` labels. One registry
// set per agent, so several agents in one process never share a series.
import { createRequire } from 'node:module';
import type * as PromClient from 'prom-client';
import type { MetadataStatus } from '../citus/metadataView.ts';
import type { CitusObserver } from '../citus/observer.ts';
import type { PauseStats } from '../citus/pause.ts';
import { patroniSamples } from './patroniMetrics.ts';
import type { StatusSnapshot } from './status.ts';

// prom-client's four classes from their own files: its index also loads the push gateway client
// (https, zlib), the cluster aggregator and the default process metrics, which an agent never
// uses and which would stay resident in every agent (7 MB: `npm run bench -- footprint`).
const load = createRequire(import.meta.url);
const Registry = load('prom-client/lib/registry') as typeof PromClient.Registry;
const Counter = load('prom-client/lib/counter') as typeof PromClient.Counter;
const Gauge = load('prom-client/lib/gauge') as typeof PromClient.Gauge;
const Histogram = load('prom-client/lib/histogram') as typeof PromClient.Histogram;
type Registry = PromClient.Registry;
type Counter = PromClient.Counter;
type Gauge = PromClient.Gauge;
type Histogram<T extends string = string> = PromClient.Histogram<T>;

/** What the Citus manager shows where it runs; both null elsewhere. */
export interface CitusMetricsInput {
  pauses: PauseStats | null;
  metadata: MetadataStatus | null;
}

const CYCLE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const RECONCILE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LAG_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export class AgentMetrics implements CitusObserver {
  /** Always served: the HA loop's figures. */
  private readonly agent = new Registry();
  /** Served while the Citus manager runs here; they count over every term it ran here. */
  private readonly citus = new Registry();
  private readonly cycle: Histogram;
  private readonly reconciles: Counter;
  private readonly reconcileErrors: Counter;
  private readonly reconcileDuration: Histogram;
  private readonly leaderLag: Histogram;
  private readonly pausesOpened: Counter;
  private readonly pausesEnded: { committed: Counter; rolledBack: Counter };
  private readonly pauseDuration: Histogram<'outcome'>;

  constructor(private readonly labels: { scope: string; name: string }) {
    this.agent.setDefaultLabels(labels);
    this.citus.setDefaultLabels(labels);
    const agent = [this.agent];
    const citus = [this.citus];
    this.cycle = new Histogram({
      name: 'shardherd_ha_loop_duration_seconds',
      help: 'Duration of one HA loop cycle (read etcd, observe PostgreSQL, decide, act).',
      buckets: CYCLE_BUCKETS,
      registers: agent,
    });
    this.reconciles = new Counter({
      name: 'shardherd_citus_reconciles_total',
      help: 'Metadata reconcile attempts that ended applied (including those with nothing to do).',
      registers: citus,
    });
    this.reconcileErrors = new Counter({
      name: 'shardherd_citus_reconcile_errors_total',
      help: 'Metadata reconcile attempts that failed and were rolled back (each retry counts).',
      registers: citus,
    });
    this.reconcileDuration = new Histogram({
      name: 'shardherd_citus_reconcile_duration_seconds',
      help: 'Duration of one metadata reconcile attempt, applied or failed.',
      buckets: RECONCILE_BUCKETS,
      registers: citus,
    });
    this.leaderLag = new Histogram({
      name: 'shardherd_citus_leader_to_metadata_seconds',
      help: "Time from the manager seeing a worker group's new leader key to its primary row pointing there.",
      buckets: LAG_BUCKETS,
      registers: citus,
    });
    this.pausesOpened = new Counter({
      name: 'shardherd_citus_pauses_opened_total',
      help: 'Pauses of a worker group opened (before_demote, a vanished leader key, failed probes).',
      registers: citus,
    });
    this.pausesEnded = {
      committed: new Counter({
        name: 'shardherd_citus_pauses_committed_total',
        help: 'Pauses that ended by committing the group at its new primary.',
        registers: citus,
      }),
      rolledBack: new Counter({
        name: 'shardherd_citus_pauses_rolled_back_total',
        help: 'Pauses that ended by rolling back (deadline, a blip, the manager stopping).',
        registers: citus,
      }),
    };
    this.pauseDuration = new Histogram({
      name: 'shardherd_citus_pause_duration_seconds',
      help: 'Duration of a pause from its event (or the leader loss) to commit or rollback.',
      labelNames: ['outcome'],
      buckets: LAG_BUCKETS,
      registers: citus,
    });
  }

  get contentType(): string {
    return this.agent.contentType;
  }

  /** One HA cycle took `ms`. */
  haCycle(ms: number): void {
    this.cycle.observe(ms / 1000);
  }

  reconciled(ok: boolean, durationMs: number): void {
    (ok ? this.reconciles : this.reconcileErrors).inc();
    this.reconcileDuration.observe(durationMs / 1000);
  }

  pauseOpened(): void {
    this.pausesOpened.inc();
  }

  pauseEnded(_group: number, outcome: 'committed' | 'rolledBack', durationMs: number): void {
    this.pausesEnded[outcome].inc();
    this.pauseDuration.observe({ outcome: outcome === 'committed' ? 'committed' : 'rolled_back' }, durationMs / 1000);
  }

  leaderToMetadata(_group: number, ms: number): void {
    this.leaderLag.observe(ms / 1000);
  }

  /** The whole exposition: Patroni's set from `snapshot`, then Shardherd's. */
  async render(snapshot: StatusSnapshot, citus: CitusMetricsInput): Promise<string> {
    const managed = citus.metadata !== null;
    const registries = [this.patroniRegistry(snapshot), this.agent, this.citusGauges(citus, managed)];
    if (managed) registries.push(this.citus);
    const texts = await Promise.all(registries.map((r) => r.metrics()));
    return texts.map((t) => (t.endsWith('\n') ? t : `${t}\n`)).join('');
  }

  /** Patroni's metrics, made afresh for each scrape (some appear only while PostgreSQL runs, as in Patroni). */
  private patroniRegistry(snapshot: StatusSnapshot): Registry {
    const registry = new Registry();
    registry.setDefaultLabels(this.labels);
    for (const sample of patroniSamples(snapshot)) {
      const config = { name: sample.name, help: sample.help, registers: [registry] };
      if (sample.type === 'counter') new Counter(config).inc(sample.value);
      else new Gauge(config).set(sample.value);
    }
    return registry;
  }

  /** Whether the manager runs here and, where it does, its view of pg_dist_node and the open pauses. */
  private citusGauges(citus: CitusMetricsInput, managed: boolean): Registry {
    const registry = new Registry();
    registry.setDefaultLabels(this.labels);
    const registers = [registry];
    new Gauge({
      name: 'shardherd_citus_manager_running',
      help: 'Value is 1 while this member runs the Citus manager (the coordinator leader), 0 otherwise.',
      registers,
    }).set(managed ? 1 : 0);
    const nodes = citus.metadata?.metadata?.nodes;
    if (!managed || nodes === undefined) return registry;
    const groups = [...new Set(nodes.map((n) => n.groupid))].sort((a, b) => a - b);
    new Gauge({
      name: 'shardherd_citus_groups',
      help: "Groups in the coordinator's pg_dist_node, the coordinator's included.",
      registers,
    }).set(groups.length);
    const byRole = new Gauge({
      name: 'shardherd_citus_nodes',
      help: "Rows of the coordinator's pg_dist_node by noderole.",
      labelNames: ['role'],
      registers,
    });
    for (const role of ['primary', 'secondary'] as const)
      byRole.set({ role }, nodes.filter((n) => n.noderole === role).length);
    const open = new Gauge({
      name: 'shardherd_citus_pauses_open',
      help: 'Value is 1 while a pause of the worker group is open (routed writes to it wait), 0 otherwise.',
      labelNames: ['group'],
      registers,
    });
    const openGroups = new Set(citus.pauses?.open ?? []);
    for (const group of new Set([...groups.filter((g) => g > 0), ...openGroups]))
      open.set({ group: String(group) }, openGroups.has(group) ? 1 : 0);
    return registry;
  }
}
