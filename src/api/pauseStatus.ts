// The HTTP code of a pause protocol answer (POST /citus), as Patroni's workers expect them.
import type { PauseAnswer, PauseRefusal } from '../citus/pauseRules.ts';

const STATUS: Record<PauseRefusal, number> = {
  malformed: 400,
  'not-a-worker-group': 400,
  'unknown-group': 404,
  'not-the-leader': 409,
  'not-running-primary': 409,
  unavailable: 503,
  failed: 503,
};

export function pauseStatus(answer: PauseAnswer): number {
  return answer.ok ? 200 : STATUS[answer.refusal];
}
