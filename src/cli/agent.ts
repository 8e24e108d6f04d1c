// `shardherd agent -c FILE`: runs the agent for one PostgreSQL node until SIGTERM/SIGINT.
import type { Command } from 'commander';
import { runAgent } from '../agent/agent.ts';

export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description('run the agent for one PostgreSQL node (HA loop, REST API, Citus manager on the coordinator leader)')
    .requiredOption(
      '-c, --config <file>',
      'member configuration: a YAML file or a directory of them',
      process.env.SHARDHERD_CONFIG,
    )
    .action(async (opts: { config: string }) => {
      await runAgent(opts.config);
    });
}
