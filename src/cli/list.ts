// `shardherd list`: every member of the cluster (all Citus groups) with role, state, timeline and
// lag, read straight from etcd and printed the way `patronictl list` prints it.
import type { Command } from 'commander';
import { ShardherdError } from '../errors.ts';
import { formatListing, parseListFormat } from './listOutput.ts';
import { listRows } from './listRows.ts';
import { configOption, groupOption, readCluster } from './readCluster.ts';
import { scaleFooterFor } from './scaleFooter.ts';

interface ListFlags {
  config?: string;
  format: string;
  group?: number;
  extended?: boolean;
}

export function registerList(program: Command): void {
  program
    .command('list')
    .description('list the members of a cluster (every Citus group) as patronictl list does')
    .argument('[scope]', 'cluster name (default: scope of the configuration)')
    .addOption(configOption())
    .option('-f, --format <format>', 'output format: pretty, json, yaml or tsv', 'pretty')
    .addOption(groupOption())
    .option(
      '-e, --extended',
      'always show Pending restart, Scheduled restart, Tags; Pooler when a member has one; rebalance and removals',
    )
    .action(async (scope: string | undefined, flags: ListFlags) => {
      const format = parseListFormat(flags.format);
      if (format === null)
        throw new ShardherdError(`unknown format ${JSON.stringify(flags.format)}: expected pretty, json, yaml or tsv`);
      const reading = await readCluster({ configPath: flags.config, scope, group: flags.group });
      const listing = listRows(reading.view, {
        scope: reading.scope,
        citus: reading.citus,
        group: reading.group,
        extended: flags.extended === true,
      });
      listing.footer.push(...(await scaleFooterFor(reading, flags.extended === true)));
      process.stdout.write(formatListing(listing, format));
    });
}
