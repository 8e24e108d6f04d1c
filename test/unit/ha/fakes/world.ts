// One group's fake world (a FakeClock, a FakeEtcd and a PgNetwork) and its members, each a real
// HaLoop wired to a FakeStore, a FakePostgres, a FakeFence and GET /patroni of the others.
import type { Config } from '../../../../src/config/types.ts';
import { withCallbacks } from '../../../../src/ha/callbacks.ts';
import type { HaHooks } from '../../../../src/ha/execute.ts';
import { HaLoop } from '../../../../src/ha/loop.ts';
import type { PeerAsker } from '../../../../src/ha/ports.ts';
import type { Logger } from '../../../../src/log.ts';
import type { FenceOutcome } from '../../../../src/postgres/callbacks.ts';
import { silentLogger } from '../../../../src/log.ts';
import { FakeClock } from './clock.ts';
import { memberConfig } from './config.ts';
import { FakeEtcd, FakeStore, type FakeStoreOptions } from './etcd.ts';
import { FakeFence } from './fence.ts';
import { fakePeerAsker } from './peers.ts';
import { FakePostgres, PgNetwork, type FakePostgresOptions } from './postgres.ts';

export interface FakeMember {
  name: string;
  config: Config;
  store: FakeStore;
  pg: FakePostgres;
  fence: FakeFence;
  loop: HaLoop;
  /** The callbacks the agent fired, `<event> <role>` (`on_start replica`), in order. */
  callbacks: string[];
  /** When the agent ran postgresql.pre_promote (set it in `config` first), and what it answers. */
  fencing: { askedAt: number[]; verdict: () => FenceOutcome };
  /** The agent is not running (killed, or never started); its REST API does not answer. */
  down: boolean;
}

export interface MemberSpec {
  name: string;
  /** Addresses 10.0.0.<index>; by default the member's position in the world plus one. */
  index?: number;
  dcs?: Record<string, unknown>;
  tags?: Record<string, unknown>;
  log?: Logger;
  hooks?: HaHooks;
  askPeers?: PeerAsker;
  /** The fence stops the postmaster when its deadline passes (off: it only records). */
  enforcingFence?: boolean;
  store?: Partial<FakeStoreOptions>;
  postgres?: Partial<Pick<FakePostgresOptions, 'walBytesPerSecond' | 'streamIntervalMs' | 'delays'>>;
}

export class FakeWorld {
  readonly clock: FakeClock;
  readonly etcd: FakeEtcd;
  readonly network = new PgNetwork();
  readonly members: FakeMember[] = [];

  constructor(clock = new FakeClock()) {
    this.clock = clock;
    this.etcd = new FakeEtcd(clock);
  }

  member(name: string): FakeMember {
    const m = this.members.find((x) => x.name === name);
    if (m === undefined) throw new Error(`no member ${name}`);
    return m;
  }

  /** A member with its loop built but not attached. */
  add(spec: MemberSpec): FakeMember {
    const index = spec.index ?? this.members.length + 1;
    const config = memberConfig({ name: spec.name, index, dcs: spec.dcs, tags: spec.tags });
    const dcs = config.bootstrap.dcs;
    const store = new FakeStore(this.etcd, { ttl: dcs.ttl, retryTimeout: dcs.retry_timeout, ...spec.store });
    const pg = new FakePostgres({
      name: spec.name,
      address: config.postgresql.connect_address,
      dataDir: config.postgresql.data_dir,
      clock: this.clock,
      network: this.network,
      ...spec.postgres,
    });
    const fence = new FakeFence(spec.enforcingFence ? { clock: this.clock, fire: () => pg.crash() } : undefined);
    const callbacks: string[] = [];
    const fencing: FakeMember['fencing'] = { askedAt: [], verdict: () => ({ ok: true }) };
    const loop = new HaLoop({
      config,
      store,
      postgres: withCallbacks(pg, (action, role) => callbacks.push(`${action} ${role}`)),
      log: spec.log ?? silentLogger,
      version: '0.1.0',
      hooks: spec.hooks,
      now: this.clock.now,
      askPeers: spec.askPeers ?? fakePeerAsker(() => this.members),
      fence,
      runFencing: () => {
        fencing.askedAt.push(this.clock.now());
        return Promise.resolve(fencing.verdict());
      },
    });
    const member: FakeMember = { name: spec.name, config, store, pg, fence, loop, callbacks, fencing, down: false };
    this.members.push(member);
    return member;
  }
}
