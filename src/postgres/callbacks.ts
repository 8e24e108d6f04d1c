// The user's callback commands (postgresql.callbacks), run beside the agent as Patroni runs them:
// `<command> <event> <role> <scope>`, without waiting, one at a time. A callback still running
// when the next event comes is killed with its children; on_reload callbacks have a slot of their
// own, so a reload does not cut short a role change's callback.
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
    try {
      process.kill(-previous.pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}
