// pg_settings rows as PostgreSQL 15 has them, for the tests of changing the dynamic configuration:
// work_mem (user context, in kB) and max_connections (postmaster context: a change needs a restart).
import type { PgSetting } from '../../../src/api/pgSettings.ts';

export const WORK_MEM: PgSetting = {
  name: 'work_mem',
  vartype: 'integer',
  unit: 'kB',
  min_val: '64',
  max_val: '2147483647',
  enumvals: null,
  context: 'user',
};

export const MAX_CONNECTIONS: PgSetting = {
  name: 'max_connections',
  vartype: 'integer',
  unit: null,
  min_val: '1',
  max_val: '262143',
  enumvals: null,
  context: 'postmaster',
};

/** Both rows, as GET /pg_settings answers them. */
export const PG_SETTING_ROWS: readonly PgSetting[] = [WORK_MEM, MAX_CONNECTIONS];
