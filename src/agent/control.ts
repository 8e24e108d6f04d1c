// The agent's side of the control endpoints: switchover/failover requests are validated against
// a fresh read of the group, written to the `failover` key (compare on its mod_revision) and
// followed until the new leader runs; `POST /citus` goes to the Citus manager when it runs here;
// `PATCH`/`PUT /config` are checked (with the local pg_settings) and written to the `config` key.
import { getJson } from '../httpClient.ts';
import {
  candidateStatusFromBody,
  membersToAsk,
  validateManualRequest,
  type CandidateStatus,
  type ManualAction,
} from '../api/switchoverRequest.ts';
import type { ConfigControl } from '../api/configRoutes.ts';
import { updateConfig, type ConfigUpdateAnswer, type ConfigUpdateKind } from '../api/configUpdate.ts';
import type { PgSetting } from '../api/pgSettings.ts';
import type { ControlAnswer, SwitchoverControl } from '../api/types.ts';
import type { MetadataStatus } from '../citus/metadataView.ts';
import type { PauseStats } from '../citus/pause.ts';
import type { PauseEvent } from '../citus/pauseRules.ts';
import { pauseStatus } from '../api/pauseStatus.ts';
import type { Config } from '../config/types.ts';
import type { Dcs } from '../dcs/dcs.ts';
import type { GroupView } from '../dcs/types.ts';
import { groupOf } from '../dcs/view.ts';
import type { HaLoop } from '../ha/loop.ts';
import type { Logger } from '../log.ts';
import type { CitusRole } from './citusRole.ts';
import { errorText } from '../errors.ts';

/** How often the outcome of a switchover is read from etcd. */
const OUTCOME_POLL_MS = 50;
const STATUS_TIMEOUT_MS = 2000;

export interface AgentControlDeps {
  config: Config;
  dcs: Dcs;
  loop: HaLoop;
  citus: CitusRole | null;
  log: Logger;
  /** pg_settings of the local PostgreSQL; null when it does not run. */
  pgSettings: () => Promise<PgSetting[] | null>;
}

export class AgentControl implements SwitchoverControl, ConfigControl {
  constructor(private readonly deps: AgentControlDeps) {}

  async manualFailover(action: ManualAction, body: unknown): Promise<ControlAnswer> {
    const { dcs, log } = this.deps;
    const Action = action === 'switchover' ? 'Switchover' : 'Failover';
    let view: GroupView;
    try {
      view = await this.readGroup();
    } catch (err) {
      return { status: 503, message: `cannot read the group from etcd: ${errorText(err)}` };
    }
    const dynamic = this.deps.loop.snapshot().dynamic;
    const statuses = await askMembers(view, membersToAsk(view));
    const verdict = validateManualRequest({
      action,
      body,
      view,
      paused: dynamic.pause,
      synchronousMode: dynamic.synchronous_mode !== 'off' && !!view.sync?.value.leader,
      now: Date.now(),
      statuses,
    });
    if (verdict.kind === 'refused') {
      log.info({ action, status: verdict.status, reason: verdict.message }, `${action} request refused`);
      return { status: verdict.status, message: verdict.message };
    }
    let written: boolean;
    try {
      written = await dcs.setFailover(verdict.failover, view.failover?.modRevision ?? '0');
    } catch (err) {
      return { status: 503, message: `failed to write ${action} key into DCS: ${errorText(err)}` };
    }
    if (!written)
      return { status: 409, message: `the failover key changed while the ${action} was checked; try again` };
    log.info({ action, failover: verdict.failover }, `${action} requested`);
    if (verdict.scheduledAt !== null) return { status: 202, message: `${Action} scheduled` };
    return this.awaitOutcome(action, verdict.leader, verdict.candidate, dynamic.loop_wait);
  }

  failsafe(body: unknown): ControlAnswer {
    const name = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).name : undefined;
    if (typeof name !== 'string' || name === '') {
      return { status: 400, message: "the request body must be a JSON object with the calling primary's name" };
    }
    const verdict = this.deps.loop.acceptFailsafe(name);
    return verdict.accepted
      ? { status: 200, message: 'Accepted' }
      : { status: verdict.status, message: verdict.reason };
  }

  async cancelScheduledSwitchover(): Promise<ControlAnswer> {
    let view: GroupView;
    try {
      view = await this.readGroup();
    } catch (err) {
      return { status: 503, message: `cannot read the group from etcd: ${errorText(err)}` };
    }
    const failover = view.failover;
    if (!failover?.value.scheduled_at) return { status: 404, message: 'no switchover is scheduled' };
    try {
      if (!(await this.deps.dcs.setFailover({}, failover.modRevision))) {
        return { status: 409, message: 'the failover key changed meanwhile; the scheduled switchover was not deleted' };
      }
    } catch (err) {
      return { status: 503, message: `failed to delete the scheduled switchover: ${errorText(err)}` };
    }
    this.deps.log.info({ action: 'switchover' }, 'scheduled switchover deleted');
    return { status: 200, message: 'scheduled switchover deleted' };
  }

  async citusEvent(event: PauseEvent): Promise<ControlAnswer> {
    const citus = this.deps.citus;
    if (citus === null)
      return { status: 503, message: 'no Citus manager runs here: this member is not part of a Citus cluster' };
    const answer = await citus.handleEvent(event);
    return { status: pauseStatus(answer), message: answer.message };
  }

  citusPauseStats(): PauseStats | null {
    return this.deps.citus?.pauseStats() ?? null;
  }

  citusMetadata(): MetadataStatus | null {
    return this.deps.citus?.metadataStatus() ?? null;
  }

  async refreshCitus(): Promise<void> {
    await this.deps.citus?.refreshStatus();
  }

  async updateConfig(kind: ConfigUpdateKind, body: unknown): Promise<ConfigUpdateAnswer> {
    const { dcs, log } = this.deps;
    const answer = await updateConfig(kind, body, {
      read: async () => (await this.readGroup()).config,
      write: (value, modRevision) => dcs.setConfig(value, modRevision),
      settings: () =>
        this.deps.pgSettings().catch((err: unknown) => {
          log.warn({ err: errorText(err) }, 'cannot read pg_settings; parameters are not checked against the server');
          return null;
        }),
    });
    if ('message' in answer)
      log.info({ action: 'config', status: answer.status, reason: answer.message }, 'config refused');
    else if (answer.written) {
      const fields = { action: 'config', kind, restart: answer.restart, warnings: answer.warnings };
      log.info(fields, 'config key written through the REST API');
    }
    return answer;
  }

  pgSettings(): Promise<PgSetting[] | null> {
    return this.deps.pgSettings();
  }

  private async readGroup(): Promise<GroupView> {
    return groupOf(await this.deps.dcs.loadCluster(), this.deps.config.citus?.group ?? null);
  }

  /**
   * Waits until a leader other than `from` holds the key and runs as primary (200), the request
   * was dropped with the leader unchanged (503 failed), or the deadline passes (503 unknown), as
   * Patroni's max(10, loop_wait) * 2 seconds.
   */
  private async awaitOutcome(
    action: ManualAction,
    from: string | null,
    candidate: string | null,
    loopWait: number,
  ): Promise<ControlAnswer> {
    const Action = action === 'switchover' ? 'Switchover' : 'Failover';
    const verb = action === 'switchover' ? 'switched' : 'failed';
    const deadline = Date.now() + Math.max(10, loopWait) * 2000;
    let state = 'etcd not read yet';
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, OUTCOME_POLL_MS));
      let view: GroupView;
      try {
        view = await this.readGroup();
      } catch (err) {
        state = `etcd unreadable: ${errorText(err)}`;
        continue;
      }
      const leader = view.leader?.name ?? null;
      const pending = !!(view.failover?.value.leader || view.failover?.value.member);
      const data = view.members.find((m) => m.name === leader)?.data;
      const leaderState = data ? ` (${data.role}, ${data.state})` : '';
      state = `leader ${leader ?? 'none'}${leaderState}, request ${pending ? 'pending' : 'cleared'}`;

      if (leader !== null && leader !== from) {
        if (data?.role === 'primary' && data.state === 'running') {
          return candidate === null || candidate === leader
            ? { status: 200, message: `Successfully ${verb} over to "${leader}"` }
            : {
                status: 200,
                message: `${verb[0]!.toUpperCase()}${verb.slice(1)} over to "${leader}" instead of "${candidate}"`,
              };
        }
        continue;
      }
      if (!pending && leader !== null)
        return {
          status: 503,
          message: `${Action} failed: the request was dropped and ${leader} is still the leader (see its log)`,
        };
    }
    return { status: 503, message: `${Action} status unknown: ${state}` };
  }
}

/** GET /patroni of each member at once, each within STATUS_TIMEOUT_MS. */
async function askMembers(view: GroupView, names: string[]): Promise<Record<string, CandidateStatus>> {
  const out: Record<string, CandidateStatus> = {};
  await Promise.all(
    names.map(async (name) => {
      const url = view.members.find((m) => m.name === name)?.data.api_url;
      if (!url) {
        out[name] = { kind: 'unreachable', error: 'no api_url in its member key' };
        return;
      }
      try {
        // 503 still carries the status (a replica's /patroni answers 200; Patroni's may not).
        out[name] = candidateStatusFromBody((await getJson(url, STATUS_TIMEOUT_MS)).body);
      } catch (err) {
        out[name] = { kind: 'unreachable', error: errorText(err) };
      }
    }),
  );
  return out;
}
