// The `shardherd` command line: one subcommand per file, wired together here.
import { Command } from 'commander';
import { ShardherdError } from '../errors.ts';
type Register = (program: Command) => void;

// pg decides when it loads whether it runs in Cloudflare Workers: without a `navigator` (Node 20 has
// none; Node 21 and later do) it probes with `new Response()`, which loads undici, fetch's engine,
// into the process for good (5 MB in an agent). Node 21's own navigator, before any command loads pg.
(globalThis as { navigator?: object }).navigator ??= { userAgent: `Node.js/${process.versions.node.split('.')[0]}` };

/**
 * Every command, loaded when needed. `shardherd agent` loads its own alone: an agent runs for
 * months, and the other commands' modules would stay resident in it for nothing (about 4 MB).
 */
const agentCommand = async (): Promise<Register> => (await import('./agent.ts')).registerAgent;
const otherCommands: Array<() => Promise<Register>> = [
  async () => (await import('./validateConfig.ts')).registerValidateConfig,
  async () => (await import('./list.ts')).registerList,
  async () => (await import('./topology.ts')).registerTopology,
  async () => (await import('./restart.ts')).registerRestart,
  async () => (await import('./reload.ts')).registerReload,
  async () => (await import('./reinit.ts')).registerReinit,
  async () => (await import('./switchover.ts')).registerSwitchover,
  async () => (await import('./editConfig.ts')).registerConfigCommands,
  async () => (await import('./pause.ts')).registerPause,
  async () => (await import('./history.ts')).registerHistory,
  async () => (await import('./remove.ts')).registerRemove,
  async () => (await import('./removeGroup.ts')).registerRemoveGroup,
];

const program = new Command();
program
  .name('shardherd')
  .description('High-availability and topology manager for sharded PostgreSQL (Citus) clusters')
  .showHelpAfterError();

const commands = process.argv[2] === 'agent' ? [agentCommand] : [agentCommand, ...otherCommands];
for (const register of await Promise.all(commands.map((load) => load()))) register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // Known errors print as one readable line; anything else keeps its stack for a bug report.
  if (err instanceof ShardherdError) {
    process.stderr.write(`shardherd: ${err.message}\n`);
  } else {
    process.stderr.write(`shardherd: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exitCode = process.exitCode || 1;
}
