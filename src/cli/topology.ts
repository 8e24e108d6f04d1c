// `shardherd topology`: the list table with each group drawn as a replication tree, the leader
// first and its replicas indented with `+ `, as `patronictl topology` draws it.
import type { Command } from 'commander';
import { formatListing } from './listOutput.ts';
import { listRows } from './listRows.ts';
import { configOption, groupOption, readCluster } from './readCluster.ts';
import { scaleFooterFor } from './scaleFooter.ts';

interface TopologyFlags {
  config?: string;
  group?: number;
  extended?: boolean;
}

export function registerTopology(program: Command): void {
  program
    .command('topology')
    .description('show each group of a cluster as a tree: the leader, then its replicas')
    .argument('[scope]', 'cluster name (default: scope of the configuration)')
    .addOption(configOption())
    .addOption(groupOption())
    .option(
      '-e, --extended',
      'as list -e: Pending restart, Scheduled restart, Tags, Pooler when published, the rebalancer and removals',
    )
    .action(async (scope: string | undefined, flags: TopologyFlags) => {
      const reading = await readCluster({ configPath: flags.config, scope, group: flags.group });
      const listing = listRows(reading.view, {
        scope: reading.scope,
        citus: reading.citus,
        group: reading.group,
        topology: true,
        extended: flags.extended === true,
      });
      listing.footer.push(...(await scaleFooterFor(reading, flags.extended === true)));
      process.stdout.write(formatListing(listing, 'topology'));
    });
}
