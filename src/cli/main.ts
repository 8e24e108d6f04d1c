// The `shardherd` command line: one subcommand per file, wired together here.
import { Command } from 'commander';
import { ShardherdError } from '../errors.ts';
import { registerAgent } from './agent.ts';
import { registerConfigCommands } from './editConfig.ts';
import { registerHistory } from './history.ts';
import { registerList } from './list.ts';
import { registerPause } from './pause.ts';
import { registerReinit } from './reinit.ts';
import { registerReload } from './reload.ts';
import { registerRemove } from './remove.ts';
import { registerRemoveGroup } from './removeGroup.ts';
import { registerRestart } from './restart.ts';
import { registerSwitchover } from './switchover.ts';
import { registerTopology } from './topology.ts';
import { registerValidateConfig } from './validateConfig.ts';

const program = new Command();
program
  .name('shardherd')
  .description('High-availability and topology manager for sharded PostgreSQL (Citus) clusters')
  .showHelpAfterError();

registerAgent(program);
registerValidateConfig(program);
registerList(program);
registerTopology(program);
registerRestart(program);
registerReload(program);
registerReinit(program);
registerSwitchover(program);
registerConfigCommands(program);
registerPause(program);
registerHistory(program);
registerRemove(program);
registerRemoveGroup(program);

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
