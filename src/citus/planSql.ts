// The statements a plan is made of (plan.ts), exactly Citus 12/13's API: the reconcile and a pause
// run them, and the reconcile recognises by them the poolers a change registered.

/**
 * Parameters are left untyped on purpose: PostgreSQL infers each from the function's signature,
 * so `'primary'` and `'secondary'` arrive as the `noderole` enum without a cast that would tie
 * the SQL to where that type lives.
 */
export const SQL = {
  addNode: "SELECT pg_catalog.citus_add_node($1, $2, $3, $4, 'default')",
  updateNode: 'SELECT pg_catalog.citus_update_node($1, $2, $3, $4, $5)',
  removeNode: 'SELECT pg_catalog.citus_remove_node($1, $2)',
  insertPoolinfo: 'INSERT INTO pg_catalog.pg_dist_poolinfo (nodeid, poolinfo) VALUES ($1, $2)',
  /**
   * For a node added earlier in the same transaction, whose nodeid the planner cannot know:
   * the row is found by its address, which pg_dist_node keeps unique.
   */
  insertPoolinfoByAddress:
    'INSERT INTO pg_catalog.pg_dist_poolinfo (nodeid, poolinfo) ' +
    'SELECT nodeid, $3::text FROM pg_catalog.pg_dist_node WHERE nodename = $1 AND nodeport = $2',
  updatePoolinfo: 'UPDATE pg_catalog.pg_dist_poolinfo SET poolinfo = $2 WHERE nodeid = $1',
  deletePoolinfo: 'DELETE FROM pg_catalog.pg_dist_poolinfo WHERE nodeid = $1',
} as const;
