// When membership changes (citus_add_node, citus_remove_node) may run. Citus runs each on every
// metadata worker and refuses while one is out of sync, down or a read-only standby, so the
// manager waits for all of them to be synced running primaries instead of collecting refusals.
import { isMetadataWorker } from './planRows.ts';
import type { DesiredTopology, PgDistNodeRow } from './types.ts';

/** Null when adds and removes may run now; otherwise what they wait for, fit for a log line. */
export function membershipBlocker(
  rows: readonly PgDistNodeRow[],
  desired: DesiredTopology,
  pausedGroups: readonly number[],
): string | null {
  if (pausedGroups.length > 0) return `a pause is open for group ${pausedGroups.join(', ')}`;
  const byGroup = new Map(desired.groups.map((g) => [g.group, g]));
  for (const w of [...rows].filter(isMetadataWorker).sort((a, b) => a.groupid - b.groupid || a.nodeid - b.nodeid)) {
    const at = `${w.nodename}:${w.nodeport}`;
    const primary = byGroup.get(w.groupid)?.primary;
    if (primary?.kind !== 'node' || primary.node.host !== w.nodename || primary.node.port !== w.nodeport) {
      const why =
        primary?.kind === 'keep'
          ? primary.reason
          : primary === undefined
            ? 'the group is not in etcd'
            : `its leader is ${primary.node.member}`;
      return `group ${w.groupid}'s registered primary ${at} is not known to run as its primary (${why})`;
    }
    if (!w.metadatasynced) return `metadata worker ${at} (group ${w.groupid}) is not synced yet`;
  }
  return null;
}
