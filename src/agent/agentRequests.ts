// The agent's side of POST/DELETE /restart, POST /reload and POST /reinitialize: requests go to
// the HA loop (which decides whether they are safe now), reload re-reads the configuration file.
import type { MemberRequestControl } from '../api/memberRoutes.ts';
import type { RestartConditions } from '../api/restartRequest.ts';
import type { ControlAnswer } from '../api/types.ts';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/types.ts';
import { ConfigError, errorText } from '../errors.ts';
import type { HaLoop } from '../ha/loop.ts';
import { stateWord } from '../ha/memberData.ts';
import type { Logger } from '../log.ts';
import { applyReloadedConfig } from './reload.ts';

export interface AgentRequestsDeps {
  configPath: string;
  /** The live configuration the agent runs with; a reload updates it in place. */
  config: Config;
  loop: HaLoop;
  log: Logger;
  /** Runs after a reload was applied (the managed PgBouncer rewrites its files and reloads). */
  onReloaded?: () => Promise<unknown>;
}

export class AgentRequests implements MemberRequestControl {
  constructor(private readonly deps: AgentRequestsDeps) {}

  isPaused(): boolean {
    return this.deps.loop.snapshot().dynamic.pause;
  }

  async restart(conditions: RestartConditions): Promise<ControlAnswer> {
    const { loop, config } = this.deps;
    const outcome = await loop.request({
      kind: 'restart',
      role: conditions.role,
      onlyIfPending: conditions.onlyIfPending,
    });
    if (outcome.kind === 'refused') return { status: 503, message: outcome.reason };
    // A stop may escalate to immediate after pg_ctl_timeout, and the start gets pg_ctl_timeout
    // again; the checkpoint and the Citus notification come on top.
    const waitMs = (3 * config.postgresql.pg_ctl_timeout + loop.snapshot().dynamic.retry_timeout) * 1000;
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      outcome.done.then(
        () => ({ kind: 'done' }) as const,
        (err: unknown) => ({ kind: 'failed', message: errorText(err) }) as const,
      ),
      new Promise<{ kind: 'timeout' }>((resolve) => {
        timer = setTimeout(() => resolve({ kind: 'timeout' }), waitMs);
      }),
    ]);
    clearTimeout(timer);
    if (result.kind === 'done') return { status: 200, message: 'restarted successfully' };
    if (result.kind === 'failed') return { status: 503, message: `restart failed: ${result.message}` };
    const local = loop.snapshot().local;
    return {
      status: 503,
      message: `restart not finished after ${waitMs / 1000} s: PostgreSQL is ${local ? stateWord(local) : 'unknown'}`,
    };
  }

  scheduleRestart(at: number, schedule: string, conditions: RestartConditions): boolean {
    const ok = this.deps.loop.scheduleRestart({
      at,
      schedule,
      role: conditions.role,
      onlyIfPending: conditions.onlyIfPending,
    });
    if (ok) this.deps.log.info({ action: 'restart', schedule }, `restart scheduled at ${schedule}`);
    return ok;
  }

  cancelScheduledRestart(): boolean {
    const ok = this.deps.loop.cancelScheduledRestart();
    if (ok) this.deps.log.info({ action: 'restart' }, 'scheduled restart deleted');
    return ok;
  }

  async reload(): Promise<ControlAnswer> {
    const { configPath, config, loop, log } = this.deps;
    let fresh: Config;
    try {
      fresh = loadConfig(configPath).config;
    } catch (err) {
      const why =
        err instanceof ConfigError
          ? err.problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ')
          : errorText(err);
      log.error({ action: 'reload', err: why }, 'configuration not reloaded');
      return { status: 503, message: `configuration ${configPath} not reloaded: ${why}` };
    }
    const result = applyReloadedConfig(config, fresh);
    if (result.applied.includes('log.level')) log.level = config.log.level;
    for (const key of result.needsAgentRestart)
      log.warn({ action: 'reload', key }, `${key} changed in the file: it applies when the agent restarts`);
    log.info({ action: 'reload', applied: result.applied }, 'configuration reloaded');
    loop.renderConfig();
    await this.deps.onReloaded?.();
    const later =
      result.needsAgentRestart.length > 0
        ? `; applied when the agent restarts: ${result.needsAgentRestart.join(', ')}`
        : '';
    return { status: 202, message: `reload scheduled${later}` };
  }

  async reinitialize(force: boolean): Promise<ControlAnswer> {
    const outcome = await this.deps.loop.request({ kind: 'reinitialize', force });
    if (outcome.kind === 'refused') return { status: 503, message: outcome.reason };
    return { status: 200, message: outcome.message };
  }
}
