// `reinit --wait`: follows each reinitialized member's GET /patroni until it no longer says
// `creating replica` (Patroni's rule), printing what it waits for and how far each clone got.
import { apiEndpoint } from '../dcs/memberUrl.ts';
import { getJson } from '../httpClient.ts';
import type { TargetMember } from './memberTargets.ts';

/** The part of GET /patroni the wait reads. */
export interface ReinitStatus {
  state: string;
  clone_progress?: { source?: string; done_kb?: number; total_kb?: number | null; percent?: number | null };
}

export interface ReinitWaitDeps {
  /** GET /patroni of the member; null when it does not answer. */
  status: (t: TargetMember) => Promise<ReinitStatus | null>;
  write: (line: string) => void;
  sleep: (ms: number) => Promise<void>;
  pollMs?: number;
}

const mb = (kb: number): string => (kb / 1024).toFixed(1);

/** One line of what a member is doing now, e.g. `creating replica: 45% (120.0 of 270.0 MB from 10.0.0.1:5432)`. */
export function describeReinit(status: ReinitStatus | null): string {
  if (status === null) return 'not answering';
  const p = status.clone_progress;
  if (p === undefined || typeof p.done_kb !== 'number') return status.state;
  if (p.done_kb === 0 && p.percent == null)
    return `${status.state}: pg_basebackup started${p.source ? ` from ${p.source}` : ''}`;
  const size = p.total_kb == null ? `${mb(p.done_kb)} MB` : `${mb(p.done_kb)} of ${mb(p.total_kb)} MB`;
  const pct = p.percent == null ? '' : `${p.percent}% (`;
  return `${status.state}: ${pct}${size}${p.source ? ` from ${p.source}` : ''}${pct ? ')' : ''}`;
}

function stepOf(status: ReinitStatus | null): string {
  if (status === null) return 'none';
  const p = status.clone_progress;
  if (p === undefined || typeof p.done_kb !== 'number') return status.state;
  const step = p.percent == null ? Math.floor(p.done_kb / (100 * 1024)) : Math.floor(p.percent / 10);
  return `${status.state} ${step}`;
}

export async function waitForReinit(targets: readonly TargetMember[], deps: ReinitWaitDeps): Promise<void> {
  const waiting = new Map(targets.map((t) => [t.name, t]));
  for (const t of targets) deps.write(`Waiting for reinitialize to complete on: ${t.name}`);
  const shown = new Map<string, string>();
  while (waiting.size > 0) {
    for (const [name, t] of waiting) {
      const status = await deps.status(t);
      if (status !== null && status.state !== 'creating replica') {
        deps.write(`Reinitialize is completed on: ${name} (${status.state})`);
        waiting.delete(name);
        continue;
      }
      // A line per change of state and per tenth of a clone (or 100 MB without a size): not one per poll.
      const key = stepOf(status);
      if (shown.get(name) !== key) deps.write(`  ${name}: ${describeReinit(status)}`);
      shown.set(name, key);
    }
    if (waiting.size > 0) await deps.sleep(deps.pollMs ?? 1000);
  }
}

/** GET /patroni of a target with a short timeout; null when it does not answer. */
export async function fetchReinitStatus(t: TargetMember): Promise<ReinitStatus | null> {
  try {
    const { body } = await getJson(apiEndpoint(t.apiUrl, '/patroni'), 3000);
    return typeof body === 'object' && body !== null && typeof (body as ReinitStatus).state === 'string'
      ? (body as ReinitStatus)
      : null;
  } catch {
    return null;
  }
}
