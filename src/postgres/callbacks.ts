// The user's commands around PostgreSQL, run as Patroni runs them. Callbacks
// (postgresql.callbacks): `<command> <event> <role> <scope>`, without waiting, one at a time; a
// callback still running when the next event comes is killed with its children, and on_reload
// callbacks have a slot of their own, so a reload does not cut short a role change's callback.
// The fencing command (postgresql.pre_promote) is waited for, and its exit status decides.
import { spawn, type ChildProcess } from 'node:child_process';
import type { CallbackAction, Config } from '../config/types.ts';
import { errorText } from '../errors.ts';
import type { Logger } from '../log.ts';

export type CallbackRole = 'primary' | 'replica';

export class CallbackRunner {
  private readonly running = new Map<'reload' | 'other', ChildProcess>();

  /** `config` is the live configuration: a reloaded file's callbacks apply to the next event. */
  constructor(
    private readonly config: Pick<Config, 'scope' | 'postgresql'>,
    private readonly log: Logger,
  ) {}

  /** Starts the callback of `action`, if one is configured, and returns at once. */
  fire(action: CallbackAction, role: CallbackRole): void {
    const command = this.config.postgresql.callbacks[action];
    if (command === undefined) return;
    const slot = action === 'on_reload' ? 'reload' : 'other';
    this.kill(slot);
    const [program, ...args] = command;
    const fields = { action, role, callback: command.join(' ') };
    // Its own process group, so it and its children can be killed together, and so it outlives
    // the agent: a stop's callback (removing a virtual IP, say) must finish after a shutdown.
    const child = spawn(program!, [...args, action, role, this.config.scope], {
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.unref();
    this.running.set(slot, child);
    child.on('error', (err) => this.log.error({ ...fields, err: errorText(err) }, 'callback could not be started'));
    child.on('exit', (code, signal) => {
      if (this.running.get(slot) === child) this.running.delete(slot);
      if (code === 0) this.log.info({ ...fields, pid: child.pid }, 'callback finished');
      else if (code !== null) this.log.warn({ ...fields, pid: child.pid, code }, `callback exited with ${code}`);
      else this.log.warn({ ...fields, pid: child.pid, signal }, `callback ended by ${signal}`);
    });
    if (child.pid !== undefined) this.log.info({ ...fields, pid: child.pid }, `callback ${action} ${role} started`);
  }

  private kill(slot: 'reload' | 'other'): void {
    const previous = this.running.get(slot);
    this.running.delete(slot);
    if (previous?.pid === undefined || previous.exitCode !== null || previous.signalCode !== null) return;
    this.log.warn({ pid: previous.pid, callback: previous.spawnargs.join(' ') }, 'killing a callback still running');
    killGroup(previous.pid);
  }
}

/** How a fencing command ended: it allowed what waited for it, or why not. */
export type FenceOutcome = { ok: true } | { ok: false; reason: string };

/**
 * Runs `command` (postgresql.pre_promote) and waits for it: exit status 0 allows, anything else
 * refuses, as does still running after `timeoutMs` (it is then killed with its children).
 */
export function runFencing(command: string[], timeoutMs: number): Promise<FenceOutcome> {
  const [program, ...args] = command;
  return new Promise<FenceOutcome>((resolve) => {
    const child = spawn(program!, args, { detached: true, stdio: ['ignore', 'inherit', 'inherit'] });
    const timer = setTimeout(() => {
      resolve({ ok: false, reason: `still running after ${timeoutMs} ms; killed` });
      if (child.pid !== undefined) killGroup(child.pid);
    }, timeoutMs);
    const settle = (outcome: FenceOutcome): void => {
      clearTimeout(timer);
      resolve(outcome);
    };
    child.on('error', (err) => settle({ ok: false, reason: `could not be started: ${errorText(err)}` }));
    child.on('exit', (code, signal) =>
      settle(
        code === 0 ? { ok: true } : { ok: false, reason: code !== null ? `exited with ${code}` : `ended by ${signal}` },
      ),
    );
  });
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Gone meanwhile.
  }
}
