-- Stand-in for the part of Citus's metadata API Shardherd uses, for plain PostgreSQL 15 without
-- Citus (docs/design.md, "The Citus stand-in"). Idempotent: safe to run again. Needs a superuser and the dblink extension.
--
-- Objects live in pg_catalog under Citus's own names, so product SQL is byte-for-byte the SQL
-- that runs against real Citus. Test-only helpers (routed writes and reads, the metadata sync)
-- live in citus_compat. The stand-in is held to Citus 13.2 by the conformance table
-- (test/integration/citus/conformance.test.ts, facts in citus-facts.md): same names, signatures,
-- SQLSTATEs, messages, locks and the same failures.
--
-- Locking model. citus_update_node and citus_pause_node_within_txn on a primary row take the
-- group's shard-metadata locks (AccessExclusive) on Citus; routed writes need those shards in a
-- conflicting mode, reads do not. Here a transaction-level advisory lock per group stands in for
-- "the group's shards": exclusive for the address change or pause, shared for
-- citus_compat.routed_write, none for reads. (A row lock on the group's pg_dist_node row would
-- also block the metadatasynced updates that every citus_update_node and the sync make on that
-- row, which Citus's shard locks do not.) Changes of pg_dist_node itself serialise on a table
-- lock, as Citus's ExclusiveLock on pg_dist_node does; see lock_node_metadata.
--
-- Metadata workers and their copies. A metadata worker is a primary, active row with
-- hasmetadata in a group > 0; its server runs the stand-in too and keeps its own copy of
-- pg_dist_node. citus_add_node, citus_add_secondary_node, citus_remove_node,
-- citus_set_coordinator_host and citus_set_node_property apply their change to every metadata
-- worker's copy synchronously (through dblink) and so fail when one is unreachable or now a
-- standby; citus_update_node contacts nobody, marks every metadata worker unsynced and wakes
-- the sync at COMMIT (NOTIFY citus_compat_metadata_sync). The sync itself,
-- citus_compat.sync_metadata(), is run by a loop beside the server (scripts/standInSync.ts),
-- as Citus's maintenance daemon runs it.
--
-- Distributed tables (the second half of this file): hash-distributed tables on an integer or
-- bigint column with Citus's catalog tables, shards as plain tables on the worker primaries,
-- shard moves (block_writes semantics in every transfer mode: shard locks are advisory locks
-- per shard, exclusive for a move, shared for citus_compat.dist_exec), deferred drops through
-- pg_dist_cleanup, and the background rebalancer's jobs and tasks. scripts/standInSync.ts also
-- runs the background task queue monitor (scripts/standInTasks.ts) and the cleanup, as Citus's
-- maintenance daemon runs them in the coordinator.
--
-- One difference: a remote apply runs in the worker's own transaction (dblink cannot join a
-- two-phase commit), so a coordinator ROLLBACK after a successful remote apply leaves that
-- worker's copy ahead of the coordinator until its next sync (the next citus_update_node).
-- The same holds for shards: what a move or create_distributed_table did on a worker before
-- it failed is dropped again, not rolled back.

BEGIN;

-- Two installers racing in one database would otherwise collide on CREATE TYPE and friends.
SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('shardherd citus-compat install'));

-- Creating relations in pg_catalog is refused unless this is on (superuser only, this txn only).
SET LOCAL allow_system_table_mods = on;

CREATE SCHEMA IF NOT EXISTS citus_compat;
COMMENT ON SCHEMA citus_compat IS 'Shardherd stand-in for Citus: internals and test helpers (routed writes)';
CREATE EXTENSION IF NOT EXISTS dblink WITH SCHEMA citus_compat;

DO $install$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type
                 WHERE typname = 'noderole' AND typnamespace = 'pg_catalog'::regnamespace) THEN
    CREATE TYPE pg_catalog.noderole AS ENUM (
      'primary',     -- accepts writes
      'secondary',   -- read-only replica
      'unavailable'  -- in recovery or otherwise unusable
    );
  END IF;
END
$install$;

CREATE SEQUENCE IF NOT EXISTS pg_catalog.pg_dist_groupid_seq MINVALUE 1 MAXVALUE 4294967296;
CREATE SEQUENCE IF NOT EXISTS pg_catalog.pg_dist_node_nodeid_seq MINVALUE 1 MAXVALUE 4294967296;

CREATE TABLE IF NOT EXISTS pg_catalog.pg_dist_node (
  nodeid int NOT NULL DEFAULT nextval('pg_catalog.pg_dist_node_nodeid_seq') PRIMARY KEY,
  groupid int NOT NULL DEFAULT nextval('pg_catalog.pg_dist_groupid_seq'),
  nodename text NOT NULL,
  nodeport int NOT NULL DEFAULT 5432,
  noderack text NOT NULL DEFAULT 'default',
  hasmetadata bool NOT NULL DEFAULT false,
  isactive bool NOT NULL DEFAULT true,
  noderole pg_catalog.noderole NOT NULL DEFAULT 'primary',
  nodecluster name NOT NULL DEFAULT 'default',
  metadatasynced boolean DEFAULT false,
  shouldhaveshards bool NOT NULL DEFAULT true,
  UNIQUE (nodename, nodeport),
  CONSTRAINT primaries_are_only_allowed_in_the_default_cluster
    CHECK (NOT (nodecluster <> 'default' AND noderole = 'primary'))
);
GRANT SELECT ON pg_catalog.pg_dist_node TO PUBLIC;

-- Connection-string validators Citus attaches to pg_dist_poolinfo and pg_dist_authinfo as CHECK
-- constraints. Citus accepts a fixed set of libpq keywords in each; so do these.
CREATE OR REPLACE FUNCTION citus_compat.conninfo_keywords(conninfo text)
RETURNS text[] LANGUAGE plpgsql IMMUTABLE STRICT AS $fn$
DECLARE
  rest text := conninfo;
  m text[];
  keys text[] := '{}';
BEGIN
  LOOP
    rest := ltrim(rest);
    EXIT WHEN rest = '';
    -- keyword = value, where value is bare or single-quoted with backslash escapes (libpq rules)
    m := regexp_match(rest, '^([A-Za-z_]+)\s*=\s*(''(?:[^''\\]|\\.)*''|[^\s'']+)(.*)$');
    IF m IS NULL THEN
      RETURN NULL;
    END IF;
    keys := keys || m[1];
    rest := m[3];
  END LOOP;
  RETURN keys;
END
$fn$;

CREATE OR REPLACE FUNCTION pg_catalog.poolinfo_valid(text)
RETURNS boolean LANGUAGE sql IMMUTABLE STRICT AS $fn$
  SELECT coalesce(citus_compat.conninfo_keywords($1) <@ ARRAY['host', 'hostaddr', 'port', 'dbname'], false)
$fn$;
COMMENT ON FUNCTION pg_catalog.poolinfo_valid(text) IS 'returns whether a poolinfo is valid';

CREATE OR REPLACE FUNCTION pg_catalog.authinfo_valid(text)
RETURNS boolean LANGUAGE sql IMMUTABLE STRICT AS $fn$
  SELECT coalesce(citus_compat.conninfo_keywords($1) <@
                  ARRAY['password', 'sslcert', 'sslkey', 'sslpassword', 'sslrootcert', 'sslcrl',
                        'sslmode', 'gssencmode', 'krbsrvname', 'passfile'], false)
$fn$;
COMMENT ON FUNCTION pg_catalog.authinfo_valid(text) IS 'returns whether an authinfo is valid';

CREATE OR REPLACE FUNCTION pg_catalog.role_exists(name)
RETURNS boolean LANGUAGE sql STABLE STRICT AS $fn$
  SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)
$fn$;
COMMENT ON FUNCTION pg_catalog.role_exists(name) IS 'returns whether a role exists';

CREATE TABLE IF NOT EXISTS pg_catalog.pg_dist_poolinfo (
  nodeid integer PRIMARY KEY REFERENCES pg_catalog.pg_dist_node (nodeid) ON DELETE CASCADE,
  poolinfo text NOT NULL CONSTRAINT poolinfo_valid CHECK (pg_catalog.poolinfo_valid(poolinfo))
);
GRANT SELECT ON pg_catalog.pg_dist_poolinfo TO PUBLIC;

-- Citus keys authinfo by a unique index, not a primary key; ON CONFLICT (nodeid, rolename)
-- infers it all the same.
CREATE TABLE IF NOT EXISTS pg_catalog.pg_dist_authinfo (
  nodeid integer NOT NULL,
  rolename name NOT NULL CONSTRAINT role_exists CHECK (pg_catalog.role_exists(rolename)),
  authinfo text NOT NULL CONSTRAINT authinfo_valid CHECK (pg_catalog.authinfo_valid(authinfo))
);
CREATE UNIQUE INDEX IF NOT EXISTS pg_dist_authinfo_identification_index
  ON pg_catalog.pg_dist_authinfo (rolename, nodeid DESC);
REVOKE ALL ON pg_catalog.pg_dist_authinfo FROM PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- Markers: real Citus has citus_version(); the stand-in answers it too, and says what it is.

CREATE OR REPLACE FUNCTION citus_compat.version()
RETURNS text LANGUAGE sql IMMUTABLE AS $fn$ SELECT '1.1' $fn$;
COMMENT ON FUNCTION citus_compat.version() IS 'version of the Shardherd Citus stand-in';

CREATE OR REPLACE FUNCTION pg_catalog.citus_version()
RETURNS text LANGUAGE sql STABLE AS $fn$
  SELECT 'Citus 13.2 stand-in (shardherd citus-compat ' || citus_compat.version()
         || ') on PostgreSQL ' || current_setting('server_version')
$fn$;


-- Which group this server is: 0 on the coordinator (and on a server not yet activated), the
-- worker's group once the coordinator activated it. Only the coordinator runs the sync.
CREATE TABLE IF NOT EXISTS pg_catalog.pg_dist_local_group (groupid int NOT NULL);
INSERT INTO pg_catalog.pg_dist_local_group (groupid)
  SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_local_group);
GRANT SELECT ON pg_catalog.pg_dist_local_group TO PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- Internals shared by the node functions.

-- Citus takes ExclusiveLock on pg_dist_node to serialise node changes (add, remove, and the
-- unsetting of metadatasynced in citus_update_node); its router reads metadata from a cache
-- and takes no table lock. Routed writes here read pg_dist_node with a plain SELECT, which
-- every mode short of ACCESS EXCLUSIVE lets through; SHARE ROW EXCLUSIVE conflicts with itself
-- and with the ROW EXCLUSIVE that the sync takes, like ExclusiveLock does.
CREATE OR REPLACE FUNCTION citus_compat.lock_node_metadata()
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  LOCK TABLE pg_catalog.pg_dist_node IN SHARE ROW EXCLUSIVE MODE;
END
$fn$;

-- The metadata workers: the nodes whose copy of pg_dist_node Citus keeps in step.
CREATE OR REPLACE FUNCTION citus_compat.metadata_workers()
RETURNS SETOF pg_catalog.pg_dist_node LANGUAGE sql STABLE AS $fn$
  SELECT * FROM pg_catalog.pg_dist_node n
   WHERE n.noderole = 'primary' AND n.isactive AND n.hasmetadata AND n.groupid > 0
   ORDER BY n.nodeid
$fn$;

-- Citus checks this before sending any metadata change to the workers, before connecting.
CREATE OR REPLACE FUNCTION citus_compat.ensure_metadata_synced()
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  stale pg_catalog.pg_dist_node;
BEGIN
  SELECT * INTO stale FROM citus_compat.metadata_workers() w WHERE NOT w.metadatasynced LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%:% is a metadata node, but is out of sync', stale.nodename, stale.nodeport
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'If the node is up, wait until metadata gets synced to it and try again.';
  END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION citus_compat.ensure_transactional_sync_mode()
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF current_setting('citus.metadata_sync_mode', true) = 'nontransactional' THEN
    RAISE EXCEPTION 'this operation cannot be completed in nontransactional metadata sync mode'
      USING ERRCODE = 'internal_error',
            HINT = 'SELECT SET citus.metadata_sync_mode to ''transactional''';
  END IF;
END
$fn$;

-- Runs a command on a node in its own transaction. A node that cannot be reached fails as
-- Citus reports it (08006, libpq's reason without its "connection to server at" prefix); an
-- error of the command itself (e.g. 25006 on a standby) comes back with its own SQLSTATE.
CREATE OR REPLACE FUNCTION citus_compat.remote_exec(node_id int, node_name text, node_port int, command text)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  reason text;
BEGIN
  PERFORM dblink_exec(citus_compat.node_conninfo(node_id, node_name, node_port), command, true);
EXCEPTION WHEN sqlclient_unable_to_establish_sqlconnection THEN
  GET STACKED DIAGNOSTICS reason = PG_EXCEPTION_DETAIL;
  reason := regexp_replace(coalesce(reason, SQLERRM),
                           '^connection to server (at "[^"]*"( \([^)]*\))?, port \d+|on socket "[^"]*") failed: ', '');
  RAISE EXCEPTION 'connection to the remote node %@%:% failed with the following error: %',
    current_user, node_name, node_port, reason
    USING ERRCODE = 'connection_failure';
END
$fn$;

-- Sends a change of pg_dist_node to every metadata worker but one (the node being added is
-- activated instead), stopping at the first failure as Citus's coordinated transaction does.
CREATE OR REPLACE FUNCTION citus_compat.apply_on_metadata_workers(command text, except_node int DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  w pg_catalog.pg_dist_node;
BEGIN
  FOR w IN SELECT * FROM citus_compat.metadata_workers() LOOP
    CONTINUE WHEN w.nodeid IS NOT DISTINCT FROM except_node;
    PERFORM citus_compat.remote_exec(w.nodeid, w.nodename, w.nodeport, command);
  END LOOP;
END
$fn$;

-- The command that replaces a node's copy of the metadata with this server's rows and sets
-- its local group, as Citus's metadata sync and node activation do: pg_dist_node, then the
-- distributed tables' shells and metadata (citus_compat.distributed_metadata_commands).
CREATE OR REPLACE FUNCTION citus_compat.metadata_snapshot_command(group_id int)
RETURNS text LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN format(
    'DELETE FROM pg_catalog.pg_dist_node; '
    'INSERT INTO pg_catalog.pg_dist_node '
    'SELECT * FROM json_populate_recordset(NULL::pg_catalog.pg_dist_node, %L); '
    '%s'
    'UPDATE pg_catalog.pg_dist_local_group SET groupid = %s',
    coalesce((SELECT json_agg(n ORDER BY n.nodeid) FROM pg_catalog.pg_dist_node n), '[]'::json),
    citus_compat.distributed_metadata_commands(),
    group_id);
END
$fn$;

-- Citus's AddNodeMetadata: returns the existing node's id when the address is already known
-- (whatever its group or role, without a lock and without contacting anyone), otherwise
-- validates, inserts, tells every metadata worker and activates a new worker primary.
CREATE OR REPLACE FUNCTION citus_compat.add_node_metadata(
  node_name text, node_port int, group_id int, node_role pg_catalog.noderole, node_cluster name,
  should_have_shards bool, activate bool)
RETURNS int LANGUAGE plpgsql AS $fn$
DECLARE
  existing_id int;
  coordinator_name text;
  new_row pg_catalog.pg_dist_node;
  has_metadata bool;
BEGIN
  SELECT nodeid INTO existing_id FROM pg_catalog.pg_dist_node
   WHERE nodename = node_name AND nodeport = node_port;
  IF FOUND THEN
    RETURN existing_id;
  END IF;

  PERFORM citus_compat.lock_node_metadata();

  -- recheck: two additions may have passed the first check concurrently
  SELECT nodeid INTO existing_id FROM pg_catalog.pg_dist_node
   WHERE nodename = node_name AND nodeport = node_port;
  IF FOUND THEN
    RETURN existing_id;
  END IF;

  IF group_id <> 0 AND node_name <> 'localhost' THEN
    SELECT nodename INTO coordinator_name FROM pg_catalog.pg_dist_node
     WHERE groupid = 0 AND noderole = 'primary';
    IF coordinator_name = 'localhost' THEN
      RAISE EXCEPTION 'cannot add a worker node when the coordinator hostname is set to localhost'
        USING ERRCODE = 'internal_error',
              DETAIL = 'Worker nodes need to be able to connect to the coordinator to transfer data.',
              HINT = 'Use SELECT citus_set_coordinator_host(''<hostname>'') to configure the coordinator hostname';
    END IF;
  END IF;

  IF group_id = -1 THEN
    group_id := nextval('pg_catalog.pg_dist_groupid_seq');
  END IF;

  IF node_role = 'primary' AND EXISTS (SELECT 1 FROM pg_catalog.pg_dist_node
                                        WHERE groupid = group_id AND noderole = 'primary') THEN
    RAISE EXCEPTION 'group % already has a primary node', group_id USING ERRCODE = 'internal_error';
  END IF;
  IF node_role = 'primary' AND node_cluster <> 'default' THEN
    RAISE EXCEPTION 'primaries must be added to the default cluster' USING ERRCODE = 'internal_error';
  END IF;
  IF node_role <> 'primary' THEN
    PERFORM citus_compat.ensure_transactional_sync_mode();
  END IF;

  -- Checked before any connection, as Citus does before sending metadata commands.
  PERFORM citus_compat.ensure_metadata_synced();

  -- The coordinator has the authoritative metadata; an activated worker primary receives it.
  -- Secondaries never do.
  has_metadata := node_role = 'primary' AND (group_id = 0 OR activate);

  INSERT INTO pg_catalog.pg_dist_node
    (nodeid, groupid, nodename, nodeport, noderack, hasmetadata, isactive, noderole,
     nodecluster, metadatasynced, shouldhaveshards)
  VALUES
    (nextval('pg_catalog.pg_dist_node_nodeid_seq'), group_id, node_name, node_port, 'default',
     has_metadata, true, node_role, node_cluster, has_metadata, should_have_shards)
  RETURNING * INTO new_row;

  -- The first INSERT is the command Citus sends (so a standby fails with "cannot execute
  -- INSERT"); the DELETE and second INSERT replace a copy left ahead by a rolled-back change.
  PERFORM citus_compat.apply_on_metadata_workers(format(
    'INSERT INTO pg_catalog.pg_dist_node SELECT * FROM json_populate_record(NULL::pg_catalog.pg_dist_node, %1$L) '
    'ON CONFLICT DO NOTHING; '
    'DELETE FROM pg_catalog.pg_dist_node WHERE nodeid = %2$s OR (nodename = %3$L AND nodeport = %4$s); '
    'INSERT INTO pg_catalog.pg_dist_node SELECT * FROM json_populate_record(NULL::pg_catalog.pg_dist_node, %1$L)',
    row_to_json(new_row), new_row.nodeid, new_row.nodename, new_row.nodeport), new_row.nodeid);

  -- Activation: the new worker primary receives the whole metadata and learns its group.
  IF has_metadata AND group_id > 0 THEN
    PERFORM citus_compat.remote_exec(new_row.nodeid, node_name, node_port,
                                     citus_compat.metadata_snapshot_command(group_id));
  END IF;
  RETURN new_row.nodeid;
END
$fn$;

-- Citus's ModifiableWorkerNode: lock, then find the node by address in any cluster or fail.
CREATE OR REPLACE FUNCTION citus_compat.modifiable_node(node_name text, node_port int)
RETURNS pg_catalog.pg_dist_node LANGUAGE plpgsql AS $fn$
DECLARE
  found_node pg_catalog.pg_dist_node;
BEGIN
  PERFORM citus_compat.lock_node_metadata();
  SELECT * INTO found_node FROM pg_catalog.pg_dist_node n
   WHERE n.nodename = node_name AND n.nodeport = node_port;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'node at "%:%" does not exist', node_name, node_port USING ERRCODE = 'internal_error';
  END IF;
  RETURN found_node;
END
$fn$;

-- Self-connection for the lock helper. Citus connects to itself through citus.local_hostname
-- (default localhost); plain PostgreSQL keeps that setting as a placeholder, so it works here too.
CREATE OR REPLACE FUNCTION citus_compat.quote_conninfo_value(value text)
RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $fn$
  SELECT '''' || replace(replace(value, '\', '\\'), '''', '\''') || ''''
$fn$;

-- Connection string for a node: the node's address, overridden by its pg_dist_poolinfo entry
-- (libpq keeps the last value of a repeated keyword), plus the best pg_dist_authinfo match.
CREATE OR REPLACE FUNCTION citus_compat.node_conninfo(node_id int, node_name text, node_port int)
RETURNS text LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  auth text;
  pool text;
BEGIN
  SELECT a.authinfo INTO auth FROM pg_catalog.pg_dist_authinfo a
   WHERE a.nodeid IN (node_id, 0) AND a.rolename = current_user
   ORDER BY (a.nodeid = node_id) DESC
   LIMIT 1;
  SELECT p.poolinfo INTO pool FROM pg_catalog.pg_dist_poolinfo p WHERE p.nodeid = node_id;
  RETURN concat_ws(' ',
    'connect_timeout=5',
    'host=' || citus_compat.quote_conninfo_value(node_name),
    'port=' || node_port,
    'dbname=' || citus_compat.quote_conninfo_value(current_database()),
    'user=' || citus_compat.quote_conninfo_value(current_user),
    'application_name=citus_compat',
    auth,
    pool);
END
$fn$;

-- The body of the lock helper, run in a second session of this server. Like Citus's lock
-- acquire helper background worker: wait lock_cooldown ms, then keep terminating every backend
-- that blocks the caller, for as long as the caller is still in the statement that started it.
CREATE OR REPLACE FUNCTION citus_compat.lock_acquire_helper(
  caller_pid int, lock_cooldown int, caller_statement_start timestamptz)
RETURNS int LANGUAGE plpgsql AS $fn$
DECLARE
  terminated int := 0;
  blocker int;
BEGIN
  PERFORM pg_catalog.pg_sleep(greatest(lock_cooldown, 0) / 1000.0);
  LOOP
    -- backend status is cached per transaction; look at the live state on every round
    PERFORM pg_catalog.pg_stat_clear_snapshot();
    EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity
                           WHERE pid = caller_pid AND state = 'active'
                             AND query_start = caller_statement_start);
    FOREACH blocker IN ARRAY pg_catalog.pg_blocking_pids(caller_pid) LOOP
      RAISE LOG 'citus_compat: terminating backend % that blocks citus_update_node in backend %',
        blocker, caller_pid;
      IF pg_catalog.pg_terminate_backend(blocker) THEN
        terminated := terminated + 1;
      END IF;
    END LOOP;
    PERFORM pg_catalog.pg_sleep(0.01);
  END LOOP;
  RETURN terminated;
END
$fn$;

-- Starts the helper on a dblink connection and returns its name, or NULL when it cannot connect.
CREATE OR REPLACE FUNCTION citus_compat.start_lock_helper(lock_cooldown int)
RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
  conn_name text := 'citus_compat_lock_helper_' || pg_catalog.pg_backend_pid();
  self_host text := coalesce(nullif(current_setting('citus.local_hostname', true), ''), 'localhost');
  conninfo text;
BEGIN
  -- a connection left behind by an earlier, interrupted call
  IF conn_name = ANY (coalesce(dblink_get_connections(), '{}')) THEN
    PERFORM dblink_disconnect(conn_name);
  END IF;
  conninfo := concat_ws(' ',
    citus_compat.node_conninfo(0, self_host, current_setting('port')::int),
    'application_name=citus_compat_lock_helper');
  BEGIN
    PERFORM dblink_connect(conn_name, conninfo);
  EXCEPTION WHEN OTHERS THEN
    RAISE LOG 'citus_compat: cannot start the lock helper: %', SQLERRM;
    RETURN NULL;
  END;
  PERFORM dblink_send_query(conn_name, format(
    'SELECT citus_compat.lock_acquire_helper(%s, %s, %L::timestamptz)',
    pg_catalog.pg_backend_pid(), lock_cooldown, pg_catalog.statement_timestamp()));
  RETURN conn_name;
END
$fn$;

CREATE OR REPLACE FUNCTION citus_compat.stop_lock_helper(conn_name text)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF conn_name IS NULL OR NOT conn_name = ANY (coalesce(dblink_get_connections(), '{}')) THEN
    RETURN;
  END IF;
  -- the helper is usually asleep; cancel it so that it ends now rather than at its next wake-up
  PERFORM dblink_cancel_query(conn_name);
  PERFORM dblink_disconnect(conn_name);
END
$fn$;


-- The advisory lock key of a group's "shards" (see the locking model at the top).
CREATE OR REPLACE FUNCTION citus_compat.group_lock_key()
RETURNS int LANGUAGE sql IMMUTABLE AS $fn$ SELECT pg_catalog.hashtext('citus_compat group shards') $fn$;

-- What citus_update_node and citus_pause_node_within_txn lock for a primary: the group's
-- shards, exclusively, until the transaction ends. With force, a helper terminates blockers
-- after lock_cooldown ms; without it, this waits (bounded only by lock_timeout).
CREATE OR REPLACE FUNCTION citus_compat.lock_group_for_update(
  group_id int, force bool, lock_cooldown int)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  helper text;
BEGIN
  IF force THEN
    helper := citus_compat.start_lock_helper(lock_cooldown);
    IF helper IS NULL THEN
      PERFORM set_config('lock_timeout', lock_cooldown::text, true);
      RAISE WARNING 'could not start background worker to kill backends with conflicting locks to force the update. Degrading to acquiring locks with a lock time out.'
        USING HINT = 'Increasing max_worker_processes might help.';
    END IF;
  END IF;
  BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock(citus_compat.group_lock_key(), group_id);
  EXCEPTION WHEN query_canceled OR OTHERS THEN
    PERFORM citus_compat.stop_lock_helper(helper);
    RAISE;
  END;
  PERFORM citus_compat.stop_lock_helper(helper);
END
$fn$;

-- ---------------------------------------------------------------------------------------------
-- Citus's node API, same names, signatures, defaults, return types and error texts.

CREATE OR REPLACE FUNCTION pg_catalog.citus_add_node(
  nodename text, nodeport integer, groupid integer DEFAULT -1,
  noderole pg_catalog.noderole DEFAULT 'primary', nodecluster name DEFAULT 'default')
RETURNS integer LANGUAGE plpgsql STRICT AS $fn$
BEGIN
  -- the coordinator is added without shards by default
  RETURN citus_compat.add_node_metadata($1, $2, $3, $4, $5, $3 <> 0, true);
END
$fn$;
COMMENT ON FUNCTION pg_catalog.citus_add_node(text, integer, integer, pg_catalog.noderole, name)
  IS 'add node to the cluster';

CREATE OR REPLACE FUNCTION pg_catalog.citus_add_secondary_node(
  nodename text, nodeport integer, primaryname text, primaryport integer,
  nodecluster name DEFAULT 'default')
RETURNS integer LANGUAGE plpgsql STRICT AS $fn$
DECLARE
  primary_group int;
BEGIN
  -- Citus looks the primary up in the current cluster only
  SELECT n.groupid INTO primary_group FROM pg_catalog.pg_dist_node n
   WHERE n.nodename = $3 AND n.nodeport = $4
     AND n.nodecluster = coalesce(nullif(current_setting('citus.cluster_name', true), ''), 'default');
  IF NOT FOUND THEN
    RAISE EXCEPTION 'node at "%:%" does not exist', $3, $4 USING ERRCODE = 'internal_error';
  END IF;
  RETURN citus_compat.add_node_metadata($1, $2, primary_group, 'secondary', $5, true, false);
END
$fn$;
COMMENT ON FUNCTION pg_catalog.citus_add_secondary_node(text, integer, text, integer, name)
  IS 'add a secondary node to the cluster';

-- Contacts nobody: the change reaches the metadata workers through the sync after COMMIT.
CREATE OR REPLACE FUNCTION pg_catalog.citus_update_node(
  node_id integer, new_node_name text, new_node_port integer,
  force boolean DEFAULT false, lock_cooldown integer DEFAULT 10000)
RETURNS void LANGUAGE plpgsql STRICT AS $fn$
DECLARE
  same_address_id int;
  target pg_catalog.pg_dist_node;
  unsynced int;
BEGIN
  SELECT n.nodeid INTO same_address_id FROM pg_catalog.pg_dist_node n
   WHERE n.nodename = new_node_name AND n.nodeport = new_node_port;
  IF FOUND THEN
    IF same_address_id = node_id THEN
      -- the node already has this address: a no-op that takes no lock (as measured on Citus)
      RETURN;
    END IF;
    RAISE EXCEPTION 'there is already another node with the specified hostname and port'
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;

  SELECT * INTO target FROM pg_catalog.pg_dist_node n WHERE n.nodeid = node_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'node % not found', node_id USING ERRCODE = 'no_data_found';
  END IF;

  IF target.noderole = 'primary' THEN
    PERFORM citus_compat.lock_group_for_update(target.groupid, force, lock_cooldown);
  ELSE
    PERFORM citus_compat.ensure_transactional_sync_mode();
  END IF;

  UPDATE pg_catalog.pg_dist_node n
     SET nodename = new_node_name, nodeport = new_node_port
   WHERE n.nodeid = node_id;

  -- Citus unsets metadatasynced under an ExclusiveLock on pg_dist_node, held to the end of the
  -- transaction: a second citus_update_node (any group) waits for this one to end.
  PERFORM citus_compat.lock_node_metadata();
  UPDATE pg_catalog.pg_dist_node n SET metadatasynced = false
   WHERE n.hasmetadata AND n.metadatasynced AND n.groupid > 0;
  GET DIAGNOSTICS unsynced = ROW_COUNT;
  IF unsynced > 0 THEN
    -- delivered at COMMIT only, so a ROLLBACK wakes no sync
    NOTIFY citus_compat_metadata_sync;
  END IF;
END
$fn$;
COMMENT ON FUNCTION pg_catalog.citus_update_node(integer, text, integer, boolean, integer)
  IS 'change the location of a node. when force => true it will wait lock_cooldown ms before killing competing locks';

CREATE OR REPLACE FUNCTION pg_catalog.citus_pause_node_within_txn(
  node_id integer, force boolean DEFAULT false, lock_cooldown integer DEFAULT 10000)
RETURNS void LANGUAGE plpgsql STRICT AS $fn$
DECLARE
  target pg_catalog.pg_dist_node;
BEGIN
  SELECT * INTO target FROM pg_catalog.pg_dist_node n WHERE n.nodeid = node_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'node % not found', node_id USING ERRCODE = 'no_data_found';
  END IF;
  -- the locks of citus_update_node on a primary, nothing else; a secondary has no shards
  IF target.noderole = 'primary' THEN
    PERFORM citus_compat.lock_group_for_update(target.groupid, force, lock_cooldown);
  END IF;
END
$fn$;
COMMENT ON FUNCTION pg_catalog.citus_pause_node_within_txn(integer, boolean, integer)
  IS 'pauses node with given id which leads to add lock in tables and prevent any queries to be executed on that node';

-- Citus's ErrorIfNodeContainsNonRemovablePlacements (its message says "because" twice).
CREATE OR REPLACE FUNCTION citus_compat.error_if_node_has_placements(node pg_catalog.pg_dist_node)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  only_copy record;
BEGIN
  IF to_regclass('pg_catalog.pg_dist_placement') IS NULL THEN
    RETURN;
  END IF;
  SELECT x.shardid, d.logicalrelid INTO only_copy
    FROM pg_catalog.pg_dist_placement x JOIN pg_catalog.pg_dist_shard d USING (shardid)
   WHERE x.groupid = node.groupid
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_placement y
                      WHERE y.shardid = x.shardid AND y.groupid <> x.groupid AND y.shardstate = 1)
   ORDER BY x.shardid, x.placementid LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'cannot remove or disable the node %:% because because it contains the only shard placement for shard %',
      node.nodename, node.nodeport, only_copy.shardid
      USING ERRCODE = 'internal_error',
            DETAIL = format('One of the table(s) that prevents the operation complete successfully is %s',
                            citus_compat.qualified_relation_name(only_copy.logicalrelid)),
            HINT = 'To proceed, either drop the tables or use undistribute_table() function to convert them to local tables';
  END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION pg_catalog.citus_remove_node(nodename text, nodeport integer)
RETURNS void LANGUAGE plpgsql STRICT AS $fn$
DECLARE
  target pg_catalog.pg_dist_node;
BEGIN
  target := citus_compat.modifiable_node($1, $2);
  PERFORM citus_compat.ensure_transactional_sync_mode();
  IF target.noderole = 'primary' THEN
    PERFORM citus_compat.error_if_node_has_placements(target);
  END IF;
  PERFORM citus_compat.ensure_metadata_synced();
  DELETE FROM pg_catalog.pg_dist_node n WHERE n.nodeid = target.nodeid;
  PERFORM citus_compat.apply_on_metadata_workers(
    format('DELETE FROM pg_catalog.pg_dist_node WHERE nodeid = %s', target.nodeid));
END
$fn$;
COMMENT ON FUNCTION pg_catalog.citus_remove_node(text, integer) IS 'remove node from the cluster';

CREATE OR REPLACE FUNCTION pg_catalog.citus_set_node_property(
  nodename text, nodeport integer, property text, value boolean)
RETURNS void LANGUAGE plpgsql STRICT AS $fn$
DECLARE
  target pg_catalog.pg_dist_node;
BEGIN
  target := citus_compat.modifiable_node($1, $2);
  IF $3 <> 'shouldhaveshards' THEN
    RAISE EXCEPTION 'only the ''shouldhaveshards'' property can be set using this function'
      USING ERRCODE = 'internal_error';
  END IF;
  PERFORM citus_compat.ensure_metadata_synced();
  UPDATE pg_catalog.pg_dist_node n SET shouldhaveshards = $4 WHERE n.nodeid = target.nodeid;
  PERFORM citus_compat.apply_on_metadata_workers(format(
    'UPDATE pg_catalog.pg_dist_node SET shouldhaveshards = %L WHERE nodeid = %s', $4, target.nodeid));
END
$fn$;
COMMENT ON FUNCTION pg_catalog.citus_set_node_property(text, integer, text, boolean)
  IS 'set a property of a node in pg_dist_node';

CREATE OR REPLACE FUNCTION pg_catalog.citus_set_coordinator_host(
  host text, port integer DEFAULT current_setting('port')::int,
  node_role pg_catalog.noderole DEFAULT 'primary', node_cluster name DEFAULT 'default')
RETURNS void LANGUAGE plpgsql STRICT AS $fn$
DECLARE
  coordinator pg_catalog.pg_dist_node;
BEGIN
  SELECT * INTO coordinator FROM pg_catalog.pg_dist_node n
   WHERE n.groupid = 0 AND n.noderole = 'primary';
  IF NOT FOUND THEN
    PERFORM citus_compat.add_node_metadata(host, port, 0, node_role, node_cluster, false, true);
    RETURN;
  END IF;
  IF coordinator.nodename = host AND coordinator.nodeport = port THEN
    RETURN;
  END IF;
  -- Citus moves the existing coordinator row in place, without the shard locks of
  -- citus_update_node, and tells every metadata worker at once
  PERFORM citus_compat.lock_node_metadata();
  PERFORM citus_compat.ensure_metadata_synced();
  UPDATE pg_catalog.pg_dist_node n SET nodename = host, nodeport = port
   WHERE n.nodeid = coordinator.nodeid;
  PERFORM citus_compat.apply_on_metadata_workers(format(
    'UPDATE pg_catalog.pg_dist_node SET nodename = %L, nodeport = %s WHERE nodeid = %s',
    host, port, coordinator.nodeid));
END
$fn$;
COMMENT ON FUNCTION pg_catalog.citus_set_coordinator_host(text, integer, pg_catalog.noderole, name)
  IS 'set the host and port of the coordinator';

-- Citus commits or rolls back the prepared transactions its two-phase commits left on the
-- workers and returns how many. The stand-in never prepares a transaction anywhere (routed
-- writes commit on the worker in their own transaction), so after looking there is nothing
-- to recover: it returns 0.
CREATE OR REPLACE FUNCTION pg_catalog.recover_prepared_transactions()
RETURNS integer LANGUAGE sql AS $fn$
  SELECT 0
$fn$;
COMMENT ON FUNCTION pg_catalog.recover_prepared_transactions()
  IS 'recover prepared transactions coordinated by this node';

REVOKE ALL ON FUNCTION pg_catalog.citus_add_node(text, integer, integer, pg_catalog.noderole, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION pg_catalog.citus_add_secondary_node(text, integer, text, integer, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION pg_catalog.citus_update_node(integer, text, integer, boolean, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pg_catalog.citus_pause_node_within_txn(integer, boolean, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pg_catalog.citus_remove_node(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pg_catalog.citus_set_node_property(text, integer, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION pg_catalog.citus_set_coordinator_host(text, integer, pg_catalog.noderole, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION pg_catalog.recover_prepared_transactions() FROM PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- The metadata sync (Citus's maintenance daemon runs it; here scripts/standInSync.ts does).

-- Brings every unsynced metadata worker's copy of pg_dist_node in line with this server's and
-- returns how many metadata workers are still unsynced. A worker that cannot be reached (a
-- name that does not resolve included) is reported with a WARNING and left for the next round.
-- Nothing here waits on a lock: a node change in progress (which holds pg_dist_node) skips the
-- round as it does in Citus, and a row changed or locked since it was read stays unsynced.
CREATE OR REPLACE FUNCTION citus_compat.sync_metadata()
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
  w record;
  done_ids int[] := '{}';
  done_versions text[] := '{}';
BEGIN
  IF coalesce((SELECT max(groupid) FROM pg_catalog.pg_dist_local_group), 0) <> 0 THEN
    RETURN 0;  -- only the coordinator syncs
  END IF;

  FOR w IN SELECT m.nodeid, m.nodename, m.nodeport, m.groupid, n.xmin::text AS version
             FROM citus_compat.metadata_workers() m JOIN pg_catalog.pg_dist_node n USING (nodeid)
            WHERE NOT m.metadatasynced LOOP
    BEGIN
      PERFORM citus_compat.remote_exec(w.nodeid, w.nodename, w.nodeport,
                                       citus_compat.metadata_snapshot_command(w.groupid));
      done_ids := done_ids || w.nodeid;
      done_versions := done_versions || w.version;
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'failed to sync metadata to %:%', w.nodename, w.nodeport USING DETAIL = SQLERRM;
    END;
  END LOOP;

  IF cardinality(done_ids) > 0 THEN
    BEGIN
      LOCK TABLE pg_catalog.pg_dist_node IN ROW EXCLUSIVE MODE NOWAIT;
      -- only rows unchanged since their snapshot was sent: a citus_update_node committed in
      -- between has unset the flag again and must be synced anew
      UPDATE pg_catalog.pg_dist_node n SET metadatasynced = true
       WHERE n.nodeid IN (
         SELECT l.nodeid FROM pg_catalog.pg_dist_node l
           JOIN unnest(done_ids, done_versions) AS d(nodeid, version)
             ON d.nodeid = l.nodeid AND d.version = l.xmin::text
            FOR NO KEY UPDATE OF l SKIP LOCKED);
    EXCEPTION WHEN lock_not_available THEN
      NULL;  -- a node change is in progress; the next round marks them
    END;
  END IF;

  RETURN (SELECT count(*) FROM citus_compat.metadata_workers() m WHERE NOT m.metadatasynced);
END
$fn$;
COMMENT ON FUNCTION citus_compat.sync_metadata()
  IS 'sync pg_dist_node to unsynced metadata workers; returns how many are still unsynced';

-- ---------------------------------------------------------------------------------------------
-- Test helpers: "the application writing through the coordinator".

-- A write routed to a group's current primary. It first takes the group's shard lock in
-- shared mode, so it waits while an address change or pause holds it, and after that commits
-- it reads the new address. The statement runs on the worker in its own transaction (unlike
-- Citus, which would commit it together with the coordinator transaction). Returns the
-- affected rows.
CREATE OR REPLACE FUNCTION citus_compat.routed_write(group_id integer, statement text)
RETURNS bigint LANGUAGE plpgsql STRICT AS $fn$
DECLARE
  target record;
  status text;
BEGIN
  PERFORM pg_catalog.pg_advisory_xact_lock_shared(citus_compat.group_lock_key(), group_id);
  SELECT n.nodeid, n.nodename, n.nodeport INTO target FROM pg_catalog.pg_dist_node n
   WHERE n.groupid = group_id AND n.noderole = 'primary';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'node group % does not have a primary node', group_id
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  status := dblink_exec(citus_compat.node_conninfo(target.nodeid, target.nodename, target.nodeport),
                        statement, true);
  RETURN coalesce(substring(status FROM '(\d+)$')::bigint, 0);
END
$fn$;

-- A read routed to a group's current primary: takes no lock, so it never waits for an
-- address change and, until that commits, still goes to the old address. One JSON object a row.
CREATE OR REPLACE FUNCTION citus_compat.routed_read(group_id integer, query text)
RETURNS SETOF json LANGUAGE plpgsql STRICT AS $fn$
DECLARE
  target record;
BEGIN
  SELECT n.nodeid, n.nodename, n.nodeport INTO target FROM pg_catalog.pg_dist_node n
   WHERE n.groupid = group_id AND n.noderole = 'primary';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'node group % does not have a primary node', group_id
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  RETURN QUERY
    SELECT r.j::json FROM dblink(
      citus_compat.node_conninfo(target.nodeid, target.nodename, target.nodeport),
      'SELECT row_to_json(q)::text FROM (' || query || ') q', true) AS r(j text);
END
$fn$;

-- =============================================================================================
-- Distributed tables, shard placements, shard moves and the background rebalancer (Citus 13.2).
--
-- Hash-distributed tables on an integer or bigint column, with Citus's catalog tables, hash
-- ranges and round-robin placement; shards are plain tables <table>_<shardid> on the worker
-- primaries. A move copies the shard and its colocated shards while holding their shard locks
-- exclusively (block_writes semantics for every transfer mode: the stand-in has no logical
-- replication), switches pg_dist_placement on the coordinator and on every metadata worker's
-- copy, and records the source tables in pg_dist_cleanup; they are dropped later by the
-- cleanup (scripts/standInSync.ts runs it, as Citus's maintenance daemon does) or by the next
-- move. citus_rebalance_start plans with Citus's greedy algorithm and schedules one background
-- task per move; the task runner beside the server (scripts/standInSync.ts, as Citus's
-- background task queue monitor) runs them.

CREATE SCHEMA IF NOT EXISTS citus;

DO $install$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type
                 WHERE typname = 'shard_transfer_mode' AND typnamespace = 'citus'::regnamespace) THEN
    CREATE TYPE citus.shard_transfer_mode AS ENUM ('auto', 'force_logical', 'block_writes');
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type
                 WHERE typname = 'distribution_type' AND typnamespace = 'citus'::regnamespace) THEN
    CREATE TYPE citus.distribution_type AS ENUM ('hash', 'range', 'append');
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type
                 WHERE typname = 'citus_job_status' AND typnamespace = 'pg_catalog'::regnamespace) THEN
    CREATE TYPE pg_catalog.citus_job_status AS ENUM (
      'scheduled', 'running', 'finished', 'cancelling', 'cancelled', 'failing', 'failed');
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type
                 WHERE typname = 'citus_task_status' AND typnamespace = 'pg_catalog'::regnamespace) THEN
    CREATE TYPE pg_catalog.citus_task_status AS ENUM (
      'blocked', 'runnable', 'running', 'done', 'cancelling', 'error', 'unscheduled', 'cancelled');
  END IF;
END
$install$;

CREATE SEQUENCE IF NOT EXISTS pg_catalog.pg_dist_shardid_seq MINVALUE 102008 NO CYCLE;
CREATE SEQUENCE IF NOT EXISTS pg_catalog.pg_dist_placement_placementid_seq NO CYCLE;
CREATE SEQUENCE IF NOT EXISTS pg_catalog.pg_dist_colocationid_seq MINVALUE 1 MAXVALUE 4294967296;
CREATE SEQUENCE IF NOT EXISTS pg_catalog.pg_dist_operationid_seq;
CREATE SEQUENCE IF NOT EXISTS pg_catalog.pg_dist_cleanup_recordid_seq;

CREATE TABLE IF NOT EXISTS pg_catalog.pg_dist_colocation (
  colocationid int NOT NULL PRIMARY KEY,
  shardcount int NOT NULL,
  replicationfactor int NOT NULL,
  distributioncolumntype oid NOT NULL,
  distributioncolumncollation oid NOT NULL
);
CREATE INDEX IF NOT EXISTS pg_dist_colocation_configuration_index ON pg_catalog.pg_dist_colocation
  (distributioncolumntype, shardcount, replicationfactor, distributioncolumncollation);

CREATE TABLE IF NOT EXISTS pg_catalog.pg_dist_partition (
  logicalrelid regclass NOT NULL,
  partmethod "char" NOT NULL,
  partkey text,
  colocationid integer DEFAULT 0 NOT NULL,
  repmodel "char" DEFAULT 'c' NOT NULL,
  autoconverted boolean DEFAULT false
);
CREATE UNIQUE INDEX IF NOT EXISTS pg_dist_partition_logical_relid_index
  ON pg_catalog.pg_dist_partition (logicalrelid);
CREATE INDEX IF NOT EXISTS pg_dist_partition_colocationid_index ON pg_catalog.pg_dist_partition (colocationid);

CREATE TABLE IF NOT EXISTS pg_catalog.pg_dist_shard (
  logicalrelid regclass NOT NULL,
  shardid int8 NOT NULL,
  shardstorage "char" NOT NULL,
  shardminvalue text,
  shardmaxvalue text
);
CREATE UNIQUE INDEX IF NOT EXISTS pg_dist_shard_shardid_index ON pg_catalog.pg_dist_shard (shardid);
CREATE INDEX IF NOT EXISTS pg_dist_shard_logical_relid_index ON pg_catalog.pg_dist_shard (logicalrelid);

CREATE TABLE IF NOT EXISTS pg_catalog.pg_dist_placement (
  placementid bigint NOT NULL DEFAULT nextval('pg_catalog.pg_dist_placement_placementid_seq'),
  shardid bigint NOT NULL,
  shardstate int NOT NULL,
  shardlength bigint NOT NULL,
  groupid int NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS pg_dist_placement_placementid_index ON pg_catalog.pg_dist_placement (placementid);
CREATE INDEX IF NOT EXISTS pg_dist_placement_shardid_index ON pg_catalog.pg_dist_placement (shardid);
CREATE INDEX IF NOT EXISTS pg_dist_placement_groupid_index ON pg_catalog.pg_dist_placement (groupid);

CREATE TABLE IF NOT EXISTS pg_catalog.pg_dist_rebalance_strategy (
  name name NOT NULL UNIQUE,
  default_strategy boolean NOT NULL DEFAULT false,
  shard_cost_function regproc NOT NULL,
  node_capacity_function regproc NOT NULL,
  shard_allowed_on_node_function regproc NOT NULL,
  default_threshold float4 NOT NULL,
  minimum_threshold float4 NOT NULL DEFAULT 0,
  improvement_threshold float4 NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS pg_catalog.pg_dist_background_job (
  job_id bigserial NOT NULL,
  state pg_catalog.citus_job_status DEFAULT 'scheduled' NOT NULL,
  job_type name NOT NULL,
  description text NOT NULL,
  started_at timestamptz,
  finished_at timestamptz,
  CONSTRAINT pg_dist_background_job_pkey PRIMARY KEY (job_id)
);

CREATE TABLE IF NOT EXISTS pg_catalog.pg_dist_background_task (
  job_id bigint NOT NULL REFERENCES pg_catalog.pg_dist_background_job (job_id),
  task_id bigserial NOT NULL,
  owner regrole NOT NULL DEFAULT CURRENT_USER::regrole,
  pid integer,
  status pg_catalog.citus_task_status DEFAULT 'runnable' NOT NULL,
  command text NOT NULL,
  retry_count integer,
  not_before timestamptz,
  message text NOT NULL DEFAULT '',
  nodes_involved int[] DEFAULT NULL,
  CONSTRAINT pg_dist_background_task_pkey PRIMARY KEY (task_id),
  CONSTRAINT pg_dist_background_task_job_id_task_id UNIQUE (job_id, task_id)
);
CREATE INDEX IF NOT EXISTS pg_dist_background_task_status_task_id_index
  ON pg_catalog.pg_dist_background_task (status, task_id);

CREATE TABLE IF NOT EXISTS pg_catalog.pg_dist_background_task_depend (
  job_id bigint NOT NULL REFERENCES pg_catalog.pg_dist_background_job (job_id) ON DELETE CASCADE,
  task_id bigint NOT NULL,
  depends_on bigint NOT NULL,
  PRIMARY KEY (job_id, task_id, depends_on),
  FOREIGN KEY (job_id, task_id) REFERENCES pg_catalog.pg_dist_background_task (job_id, task_id) ON DELETE CASCADE,
  FOREIGN KEY (job_id, depends_on) REFERENCES pg_catalog.pg_dist_background_task (job_id, task_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS pg_dist_background_task_depend_task_id
  ON pg_catalog.pg_dist_background_task_depend (job_id, task_id);
CREATE INDEX IF NOT EXISTS pg_dist_background_task_depend_depends_on
  ON pg_catalog.pg_dist_background_task_depend (job_id, depends_on);

CREATE TABLE IF NOT EXISTS pg_catalog.pg_dist_cleanup (
  record_id bigint PRIMARY KEY,
  operation_id bigint NOT NULL,
  object_type int NOT NULL,
  object_name text NOT NULL,
  node_group_id int NOT NULL,
  policy_type int NOT NULL
);

GRANT SELECT ON pg_catalog.pg_dist_colocation, pg_catalog.pg_dist_partition, pg_catalog.pg_dist_shard,
  pg_catalog.pg_dist_placement, pg_catalog.pg_dist_rebalance_strategy, pg_catalog.pg_dist_background_job,
  pg_catalog.pg_dist_background_task, pg_catalog.pg_dist_background_task_depend, pg_catalog.pg_dist_cleanup
  TO PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- Internals of the distributed-table part.

-- Advisory lock keys standing in for Citus's lock tags (first key; the second is the object id).
CREATE OR REPLACE FUNCTION citus_compat.lock_key(what text)
RETURNS int LANGUAGE sql IMMUTABLE STRICT AS $fn$ SELECT pg_catalog.hashtext('citus_compat ' || what) $fn$;

-- A millisecond setting that plain PostgreSQL keeps as a placeholder ('5s', '500ms', '1min', '5000').
CREATE OR REPLACE FUNCTION citus_compat.setting_ms(setting text, default_ms bigint)
RETURNS bigint LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  raw text := nullif(btrim(current_setting(setting, true)), '');
  m text[];
BEGIN
  IF raw IS NULL THEN
    RETURN default_ms;
  END IF;
  m := regexp_match(raw, '^(-?\d+)\s*(ms|s|min|h|d)?$');
  IF m IS NULL THEN
    RETURN default_ms;
  END IF;
  RETURN m[1]::bigint * CASE coalesce(m[2], 'ms')
    WHEN 'ms' THEN 1 WHEN 's' THEN 1000 WHEN 'min' THEN 60000 WHEN 'h' THEN 3600000 ELSE 86400000 END;
END
$fn$;

-- Citus's EnsureCoordinator.
CREATE OR REPLACE FUNCTION citus_compat.ensure_coordinator()
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF coalesce((SELECT max(groupid) FROM pg_catalog.pg_dist_local_group), 0) <> 0 THEN
    RAISE EXCEPTION 'operation is not allowed on this node' USING ERRCODE = 'internal_error',
      HINT = 'Connect to the coordinator and run it again.';
  END IF;
END
$fn$;

-- The primary of a group, as routed writes resolve it.
CREATE OR REPLACE FUNCTION citus_compat.group_primary(group_id int)
RETURNS pg_catalog.pg_dist_node LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  found_node pg_catalog.pg_dist_node;
BEGIN
  SELECT * INTO found_node FROM pg_catalog.pg_dist_node n WHERE n.groupid = group_id AND n.noderole = 'primary';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'node group % does not have a primary node', group_id
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  RETURN found_node;
END
$fn$;

-- Runs a command on a group's primary in its own transaction (see remote_exec).
CREATE OR REPLACE FUNCTION citus_compat.group_exec(group_id int, command text)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  target pg_catalog.pg_dist_node := citus_compat.group_primary(group_id);
BEGIN
  PERFORM citus_compat.remote_exec(target.nodeid, target.nodename, target.nodeport, command);
END
$fn$;

-- A query on a node, one text value a row; fails as remote_exec does when the node is unreachable.
CREATE OR REPLACE FUNCTION citus_compat.remote_query(node_id int, node_name text, node_port int, query text)
RETURNS SETOF text LANGUAGE plpgsql AS $fn$
DECLARE
  reason text;
BEGIN
  RETURN QUERY SELECT r.v FROM dblink(citus_compat.node_conninfo(node_id, node_name, node_port), query, true)
    AS r(v text);
EXCEPTION WHEN sqlclient_unable_to_establish_sqlconnection THEN
  GET STACKED DIAGNOSTICS reason = PG_EXCEPTION_DETAIL;
  reason := regexp_replace(coalesce(reason, SQLERRM),
                           '^connection to server (at "[^"]*"( \([^)]*\))?, port \d+|on socket "[^"]*") failed: ', '');
  RAISE EXCEPTION 'connection to the remote node %@%:% failed with the following error: %',
    current_user, node_name, node_port, reason
    USING ERRCODE = 'connection_failure';
END
$fn$;

-- A command on this server in a new session that commits on its own, as Citus runs parts of
-- the rebalancer over a connection to itself (citus.local_hostname).
CREATE OR REPLACE FUNCTION citus_compat.loopback_exec(command text)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  self_host text := coalesce(nullif(current_setting('citus.local_hostname', true), ''), 'localhost');
BEGIN
  PERFORM citus_compat.remote_query(0, self_host, current_setting('port')::int,
                                    'SET application_name TO citus_rebalancer; ' || command);
END
$fn$;

-- The nodes Citus's FindWorkerNode knows: every row of the current cluster.
CREATE OR REPLACE FUNCTION citus_compat.find_worker_node(node_name text, node_port int)
RETURNS pg_catalog.pg_dist_node LANGUAGE sql STABLE AS $fn$
  SELECT * FROM pg_catalog.pg_dist_node n
   WHERE n.nodename = node_name AND n.nodeport = node_port
     AND n.nodecluster = coalesce(nullif(current_setting('citus.cluster_name', true), ''), 'default')
$fn$;

-- Citus's ActiveReadableNodeList, sorted as CompareWorkerNodes sorts (name, then port).
CREATE OR REPLACE FUNCTION citus_compat.active_primaries()
RETURNS SETOF pg_catalog.pg_dist_node LANGUAGE sql STABLE AS $fn$
  SELECT * FROM pg_catalog.pg_dist_node n
   WHERE n.isactive AND n.noderole = 'primary'
   ORDER BY n.nodename COLLATE "C", n.nodeport
$fn$;

-- "schema.table" for remote commands, always qualified.
CREATE OR REPLACE FUNCTION citus_compat.qualified_shard_name(relation regclass, shard_id bigint)
RETURNS text LANGUAGE sql STABLE STRICT AS $fn$
  SELECT format('%I.%I', n.nspname, c.relname || '_' || shard_id)
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = relation
$fn$;

CREATE OR REPLACE FUNCTION citus_compat.qualified_relation_name(relation regclass)
RETURNS text LANGUAGE sql STABLE STRICT AS $fn$
  SELECT format('%I.%I', n.nspname, c.relname)
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = relation
$fn$;

-- Citus's shard_name (13.1+): the shard's table name, schema-qualified unless the schema is
-- public and skip_qualify_public.
CREATE OR REPLACE FUNCTION pg_catalog.shard_name(
  object_name regclass, shard_id bigint, skip_qualify_public boolean DEFAULT true)
RETURNS text LANGUAGE plpgsql STABLE STRICT AS $fn$
DECLARE
  rel record;
BEGIN
  IF shard_id <= 0 THEN
    RAISE EXCEPTION 'Shard Id should be greater than 0' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT c.relname, n.nspname INTO rel
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = object_name;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'object_name does not reference a valid relation' USING ERRCODE = 'undefined_object';
  END IF;
  IF rel.nspname = 'public' AND skip_qualify_public THEN
    RETURN quote_ident(rel.relname || '_' || shard_id);
  END IF;
  RETURN format('%I.%I', rel.nspname, rel.relname || '_' || shard_id);
END
$fn$;
COMMENT ON FUNCTION pg_catalog.shard_name(regclass, bigint, boolean)
  IS 'returns schema-qualified, shard-extended identifier of object name';

-- The column list of a table for the tables created from it elsewhere: names, types, NOT NULL
-- and defaults that do not use a sequence (Citus creates shards without sequence defaults).
CREATE OR REPLACE FUNCTION citus_compat.column_definitions(relation regclass)
RETURNS text LANGUAGE sql STABLE STRICT AS $fn$
  SELECT string_agg(format('%I %s%s%s', a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
                           CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
                           CASE WHEN d.adbin IS NOT NULL AND a.attgenerated = ''
                                     AND pg_catalog.pg_get_expr(d.adbin, d.adrelid) !~ 'nextval\('
                                THEN ' DEFAULT ' || pg_catalog.pg_get_expr(d.adbin, d.adrelid) ELSE '' END),
                    ', ' ORDER BY a.attnum)
    FROM pg_catalog.pg_attribute a
    LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attrelid = relation AND a.attnum > 0 AND NOT a.attisdropped
$fn$;

-- The shell of a distributed table on a metadata worker (the table Citus's metadata refers to).
CREATE OR REPLACE FUNCTION citus_compat.shell_table_ddl(relation regclass)
RETURNS text LANGUAGE sql STABLE STRICT AS $fn$
  SELECT format('CREATE SCHEMA IF NOT EXISTS %I; CREATE TABLE IF NOT EXISTS %s (%s); ',
                n.nspname, citus_compat.qualified_relation_name(relation), citus_compat.column_definitions(relation))
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = relation
$fn$;

-- A shard table: the columns, the primary key, unique and check constraints (their names
-- extended with the shard id, as Citus names them) and the replica identity; recreated from
-- scratch, as Citus's RecreateTableDDLCommandList starts with a DROP.
CREATE OR REPLACE FUNCTION citus_compat.shard_table_ddl(relation regclass, shard_id bigint)
RETURNS text LANGUAGE sql STABLE STRICT AS $fn$
  SELECT format('CREATE SCHEMA IF NOT EXISTS %I; DROP TABLE IF EXISTS %s CASCADE; CREATE TABLE %2$s (%s%s); %s',
                n.nspname, citus_compat.qualified_shard_name(relation, shard_id),
                citus_compat.column_definitions(relation),
                coalesce((SELECT string_agg(format(', CONSTRAINT %I %s', left(k.conname, 50) || '_' || shard_id,
                                                   pg_catalog.pg_get_constraintdef(k.oid)), '' ORDER BY k.conname)
                            FROM pg_catalog.pg_constraint k
                           WHERE k.conrelid = relation AND k.contype IN ('p', 'u', 'c')), ''),
                CASE WHEN c.relreplident = 'f'
                     THEN format('ALTER TABLE %s REPLICA IDENTITY FULL;', citus_compat.qualified_shard_name(relation, shard_id))
                     ELSE '' END)
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = relation
$fn$;

-- Citus's RelationCanPublishAllModifications, for the checks of shard_transfer_mode 'auto'.
CREATE OR REPLACE FUNCTION citus_compat.ensure_replica_identity(relations regclass[])
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  rel regclass;
BEGIN
  FOREACH rel IN ARRAY relations LOOP
    CONTINUE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = rel AND c.relreplident = 'f')
               OR EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_index i ON i.indrelid = c.oid
                           WHERE c.oid = rel
                             AND (i.indisreplident OR (c.relreplident = 'd' AND i.indisprimary)));
    RAISE EXCEPTION 'cannot use logical replication to transfer shards of the relation % since it doesn''t have a REPLICA IDENTITY or PRIMARY KEY',
      (SELECT relname FROM pg_catalog.pg_class WHERE oid = rel)
      USING ERRCODE = 'feature_not_supported',
            DETAIL = 'UPDATE and DELETE commands on the shard will error out during logical replication unless there is a REPLICA IDENTITY or PRIMARY KEY.',
            HINT = 'If you wish to continue without a replica identity set the shard_transfer_mode to ''force_logical'' or ''block_writes''.';
  END LOOP;
END
$fn$;

-- The hash of a distribution key as Citus computes it (hashint4 / hashint8 of the value).
CREATE OR REPLACE FUNCTION citus_compat.hash_key(relation regclass, dist_key bigint)
RETURNS int LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  key_type oid;
BEGIN
  SELECT c.distributioncolumntype INTO key_type
    FROM pg_catalog.pg_dist_partition p JOIN pg_catalog.pg_dist_colocation c USING (colocationid)
   WHERE p.logicalrelid = relation;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'relation % is not distributed', relation USING ERRCODE = 'invalid_table_definition';
  END IF;
  IF key_type = 'int4'::regtype THEN
    RETURN pg_catalog.hashint4(dist_key::int4);
  END IF;
  RETURN pg_catalog.hashint8(dist_key);
END
$fn$;

-- The shard of a table holding a hash value.
CREATE OR REPLACE FUNCTION citus_compat.shard_for_hash(relation regclass, hash int)
RETURNS bigint LANGUAGE sql STABLE STRICT AS $fn$
  SELECT s.shardid FROM pg_catalog.pg_dist_shard s
   WHERE s.logicalrelid = relation AND hash BETWEEN s.shardminvalue::int AND s.shardmaxvalue::int
$fn$;

-- The shards colocated with a shard (its own included), by id: the same shard index in every
-- table of the colocation group, which for hash tables means the same range.
CREATE OR REPLACE FUNCTION citus_compat.colocated_shards(shard_id bigint)
RETURNS TABLE (shardid bigint, logicalrelid regclass) LANGUAGE sql STABLE STRICT AS $fn$
  SELECT o.shardid, o.logicalrelid
    FROM pg_catalog.pg_dist_shard s
    JOIN pg_catalog.pg_dist_partition p ON p.logicalrelid = s.logicalrelid
    JOIN pg_catalog.pg_dist_partition q ON q.colocationid = p.colocationid
    JOIN pg_catalog.pg_dist_shard o ON o.logicalrelid = q.logicalrelid AND o.shardminvalue = s.shardminvalue
   WHERE s.shardid = shard_id
   ORDER BY o.shardid
$fn$;

-- The distributed metadata a metadata worker's copy holds, as commands for that worker: the
-- shells of the distributed tables, then pg_dist_colocation, pg_dist_partition, pg_dist_shard
-- and pg_dist_placement replaced by this server's rows (relations by qualified name).
CREATE OR REPLACE FUNCTION citus_compat.distributed_metadata_commands()
RETURNS text LANGUAGE sql STABLE AS $fn$
  SELECT concat(
    'DELETE FROM pg_catalog.pg_dist_placement; DELETE FROM pg_catalog.pg_dist_shard; '
    'DELETE FROM pg_catalog.pg_dist_partition; DELETE FROM pg_catalog.pg_dist_colocation; ',
    (SELECT string_agg(citus_compat.shell_table_ddl(p.logicalrelid), '' ORDER BY p.logicalrelid::oid)
       FROM pg_catalog.pg_dist_partition p),
    format('INSERT INTO pg_catalog.pg_dist_colocation SELECT * FROM '
           'json_populate_recordset(NULL::pg_catalog.pg_dist_colocation, %L); ',
           coalesce((SELECT json_agg(c ORDER BY c.colocationid) FROM pg_catalog.pg_dist_colocation c), '[]')),
    format('INSERT INTO pg_catalog.pg_dist_partition SELECT * FROM '
           'json_populate_recordset(NULL::pg_catalog.pg_dist_partition, %L); ',
           coalesce((SELECT json_agg(json_build_object(
                       'logicalrelid', citus_compat.qualified_relation_name(p.logicalrelid),
                       'partmethod', p.partmethod, 'partkey', p.partkey, 'colocationid', p.colocationid,
                       'repmodel', p.repmodel, 'autoconverted', p.autoconverted))
                       FROM pg_catalog.pg_dist_partition p), '[]')),
    format('INSERT INTO pg_catalog.pg_dist_shard SELECT * FROM '
           'json_populate_recordset(NULL::pg_catalog.pg_dist_shard, %L); ',
           coalesce((SELECT json_agg(json_build_object(
                       'logicalrelid', citus_compat.qualified_relation_name(s.logicalrelid),
                       'shardid', s.shardid, 'shardstorage', s.shardstorage,
                       'shardminvalue', s.shardminvalue, 'shardmaxvalue', s.shardmaxvalue) ORDER BY s.shardid)
                       FROM pg_catalog.pg_dist_shard s), '[]')),
    format('INSERT INTO pg_catalog.pg_dist_placement SELECT * FROM '
           'json_populate_recordset(NULL::pg_catalog.pg_dist_placement, %L); ',
           coalesce((SELECT json_agg(x ORDER BY x.placementid) FROM pg_catalog.pg_dist_placement x), '[]')))
$fn$;

-- The metadata of one distributed table for the metadata workers (create_distributed_table).
CREATE OR REPLACE FUNCTION citus_compat.table_metadata_commands(relation regclass)
RETURNS text LANGUAGE sql STABLE STRICT AS $fn$
  SELECT concat(
    citus_compat.shell_table_ddl(relation),
    format('INSERT INTO pg_catalog.pg_dist_colocation SELECT * FROM '
           'json_populate_recordset(NULL::pg_catalog.pg_dist_colocation, %L) ON CONFLICT DO NOTHING; ',
           (SELECT json_agg(c) FROM pg_catalog.pg_dist_colocation c JOIN pg_catalog.pg_dist_partition p
                 USING (colocationid) WHERE p.logicalrelid = relation)),
    format('DELETE FROM pg_catalog.pg_dist_placement WHERE shardid IN '
           '(SELECT shardid FROM pg_catalog.pg_dist_shard WHERE logicalrelid = %1$L::regclass); '
           'DELETE FROM pg_catalog.pg_dist_shard WHERE logicalrelid = %1$L::regclass; '
           'DELETE FROM pg_catalog.pg_dist_partition WHERE logicalrelid = %1$L::regclass; ',
           citus_compat.qualified_relation_name(relation)),
    format('INSERT INTO pg_catalog.pg_dist_partition SELECT * FROM '
           'json_populate_recordset(NULL::pg_catalog.pg_dist_partition, %L); ',
           (SELECT json_agg(json_build_object(
                     'logicalrelid', citus_compat.qualified_relation_name(p.logicalrelid),
                     'partmethod', p.partmethod, 'partkey', p.partkey, 'colocationid', p.colocationid,
                     'repmodel', p.repmodel, 'autoconverted', p.autoconverted))
              FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = relation)),
    format('INSERT INTO pg_catalog.pg_dist_shard SELECT * FROM '
           'json_populate_recordset(NULL::pg_catalog.pg_dist_shard, %L); ',
           (SELECT json_agg(json_build_object(
                     'logicalrelid', citus_compat.qualified_relation_name(s.logicalrelid),
                     'shardid', s.shardid, 'shardstorage', s.shardstorage,
                     'shardminvalue', s.shardminvalue, 'shardmaxvalue', s.shardmaxvalue) ORDER BY s.shardid)
              FROM pg_catalog.pg_dist_shard s WHERE s.logicalrelid = relation)),
    format('INSERT INTO pg_catalog.pg_dist_placement SELECT * FROM '
           'json_populate_recordset(NULL::pg_catalog.pg_dist_placement, %L); ',
           (SELECT json_agg(x ORDER BY x.placementid) FROM pg_catalog.pg_dist_placement x
              JOIN pg_catalog.pg_dist_shard s USING (shardid) WHERE s.logicalrelid = relation)))
$fn$;

-- On a metadata worker: Citus's lock_shard_metadata, which a block-writes move sends to every
-- metadata worker first (here the locks end with the worker's own transaction).
CREATE OR REPLACE FUNCTION citus_compat.lock_shard_metadata(lock_mode int, shard_ids bigint[])
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_catalog.pg_advisory_xact_lock(citus_compat.lock_key('shard'), s::int)
     FROM unnest(shard_ids) AS s ORDER BY s;
END
$fn$;

-- ---------------------------------------------------------------------------------------------
-- create_distributed_table and the drop of a distributed table.

CREATE OR REPLACE FUNCTION pg_catalog.create_distributed_table(
  table_name regclass, distribution_column text, distribution_type citus.distribution_type DEFAULT 'hash',
  colocate_with text DEFAULT 'default', shard_count integer DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  rel text;
  rel_name text;
  wanted_count int;
  key_att record;
  colocation int;
  template regclass;
  template_type oid;
  workers pg_catalog.pg_dist_node[];
  increment bigint;
  shard_index int;
  min_hash bigint;
  max_hash bigint;
  new_shard bigint;
  placement_group int;
  ddl_by_group jsonb := '{}';
  created jsonb := '{}';
  g record;
BEGIN
  -- Citus returns without doing anything when one of these is NULL
  IF table_name IS NULL OR colocate_with IS NULL OR distribution_type IS NULL THEN
    RETURN;
  END IF;
  IF distribution_column IS NULL THEN
    RAISE EXCEPTION 'the Citus stand-in does not create single-shard tables (distribution_column => NULL)'
      USING ERRCODE = 'feature_not_supported';
  END IF;
  wanted_count := coalesce(nullif(current_setting('citus.shard_count', true), '')::int, 32);
  IF shard_count IS NOT NULL THEN
    IF lower(colocate_with) NOT IN ('default', 'none') THEN
      RAISE EXCEPTION 'Cannot use colocate_with with a table and shard_count at the same time'
        USING ERRCODE = 'internal_error';
    END IF;
    wanted_count := shard_count;
  END IF;
  IF wanted_count < 1 OR wanted_count > 64000 THEN
    RAISE EXCEPTION '% is outside the valid range for parameter "shard_count" (1 .. 64000)', wanted_count
      USING ERRCODE = 'internal_error';
  END IF;
  PERFORM citus_compat.ensure_coordinator();

  rel := citus_compat.qualified_relation_name(table_name);
  rel_name := (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = table_name);
  EXECUTE format('LOCK TABLE %s IN EXCLUSIVE MODE', rel);
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = table_name) THEN
    RAISE EXCEPTION 'table "%" is already distributed', rel_name USING ERRCODE = 'invalid_table_definition';
  END IF;
  IF distribution_type <> 'hash' THEN
    RAISE EXCEPTION 'the Citus stand-in distributes tables by hash only, not by %', distribution_type
      USING ERRCODE = 'feature_not_supported';
  END IF;
  SELECT a.attnum, a.attname, a.atttypid, a.attcollation INTO key_att FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = table_name AND a.attname = distribution_column AND a.attnum > 0 AND NOT a.attisdropped;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'column "%" of relation "%" does not exist', distribution_column, rel_name
      USING ERRCODE = 'undefined_column';
  END IF;
  IF key_att.atttypid NOT IN ('int4'::regtype, 'int8'::regtype) THEN
    RAISE EXCEPTION 'the Citus stand-in distributes tables only on an integer or bigint column; "%" is %',
      distribution_column, pg_catalog.format_type(key_att.atttypid, NULL)
      USING ERRCODE = 'feature_not_supported';
  END IF;

  -- colocation: an existing group of the same shape by default, a new one for 'none', the
  -- group of the named table otherwise
  IF lower(colocate_with) = 'default' THEN
    SELECT c.colocationid INTO colocation FROM pg_catalog.pg_dist_colocation c
     WHERE c.shardcount = wanted_count AND c.replicationfactor = 1
       AND c.distributioncolumntype = key_att.atttypid AND c.distributioncolumncollation = 0
     ORDER BY c.colocationid LIMIT 1;
  ELSIF lower(colocate_with) <> 'none' THEN
    SELECT p.colocationid, c.distributioncolumntype INTO colocation, template_type
      FROM pg_catalog.pg_dist_partition p JOIN pg_catalog.pg_dist_colocation c USING (colocationid)
     WHERE p.logicalrelid = colocate_with::regclass AND p.partmethod = 'h';
    IF NOT FOUND THEN
      RAISE EXCEPTION 'relation % should be a hash distributed table', colocate_with
        USING ERRCODE = 'invalid_table_definition';
    END IF;
    IF template_type <> key_att.atttypid THEN
      RAISE EXCEPTION 'cannot colocate tables % and %', colocate_with, rel_name
        USING ERRCODE = 'invalid_table_definition',
              DETAIL = format('Distribution column types don''t match for %s and %s.', colocate_with, rel_name);
    END IF;
  END IF;
  IF colocation IS NOT NULL THEN
    SELECT p.logicalrelid INTO template FROM pg_catalog.pg_dist_partition p
     WHERE p.colocationid = colocation ORDER BY p.logicalrelid::oid LIMIT 1;
    SELECT c.shardcount INTO wanted_count FROM pg_catalog.pg_dist_colocation c WHERE c.colocationid = colocation;
  ELSE
    colocation := nextval('pg_catalog.pg_dist_colocationid_seq');
    INSERT INTO pg_catalog.pg_dist_colocation VALUES (colocation, wanted_count, 1, key_att.atttypid, 0);
  END IF;

  workers := ARRAY(SELECT n FROM citus_compat.active_primaries() n WHERE n.shouldhaveshards);
  IF template IS NULL AND cardinality(workers) = 0 THEN
    RAISE EXCEPTION 'replication_factor (1) exceeds number of worker nodes (0)'
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Add more worker nodes or try again with a lower replication factor.';
  END IF;

  INSERT INTO pg_catalog.pg_dist_partition (logicalrelid, partmethod, partkey, colocationid, repmodel, autoconverted)
  VALUES (table_name, 'h',
          format('{VAR :varno 1 :varattno %s :vartype %s :vartypmod -1 :varcollid %s :varlevelsup 0 '
                 ':varnosyn 1 :varattnosyn %1$s :location -1}', key_att.attnum, key_att.atttypid, key_att.attcollation),
          colocation, 's', false);

  -- hash ranges as Citus splits the int32 space, placements round-robin over the sorted
  -- primaries that should have shards, or where the colocated table's shards are
  increment := 4294967296 / wanted_count;
  FOR shard_index IN 0 .. wanted_count - 1 LOOP
    min_hash := -2147483648 + shard_index * increment;
    max_hash := CASE WHEN shard_index = wanted_count - 1 THEN 2147483647 ELSE min_hash + increment - 1 END;
    new_shard := nextval('pg_catalog.pg_dist_shardid_seq');
    INSERT INTO pg_catalog.pg_dist_shard VALUES (table_name, new_shard, 't', min_hash::text, max_hash::text);
    IF template IS NOT NULL THEN
      SELECT x.groupid INTO placement_group FROM pg_catalog.pg_dist_shard t
        JOIN pg_catalog.pg_dist_placement x USING (shardid)
       WHERE t.logicalrelid = template AND t.shardminvalue = min_hash::text;
    ELSE
      placement_group := (workers[(shard_index % cardinality(workers)) + 1]).groupid;
    END IF;
    INSERT INTO pg_catalog.pg_dist_placement (shardid, shardstate, shardlength, groupid)
    VALUES (new_shard, 1, 0, placement_group);
    ddl_by_group := jsonb_set(ddl_by_group, ARRAY[placement_group::text],
                              to_jsonb(coalesce(ddl_by_group ->> placement_group::text, '')
                                       || citus_compat.shard_table_ddl(table_name, new_shard)));
  END LOOP;

  -- Checked before any connection, as Citus does before sending metadata commands.
  PERFORM citus_compat.ensure_metadata_synced();
  BEGIN
    FOR g IN SELECT key::int AS groupid, value AS ddl FROM jsonb_each_text(ddl_by_group) ORDER BY 1 LOOP
      PERFORM citus_compat.group_exec(g.groupid, g.ddl);
      created := created || jsonb_build_object(g.groupid::text, true);
    END LOOP;
  EXCEPTION WHEN query_canceled OR OTHERS THEN
    PERFORM citus_compat.drop_created_shards(table_name, created);
    RAISE;
  END;
  PERFORM citus_compat.copy_local_rows(table_name, key_att.attname, key_att.atttypid, created);
  BEGIN
    PERFORM citus_compat.apply_on_metadata_workers(citus_compat.table_metadata_commands(table_name));
  EXCEPTION WHEN query_canceled OR OTHERS THEN
    PERFORM citus_compat.drop_created_shards(table_name, created);
    RAISE;
  END;
END
$fn$;
COMMENT ON FUNCTION pg_catalog.create_distributed_table(regclass, text, citus.distribution_type, text, integer)
  IS 'creates a distributed table';

-- Drops the shards create_distributed_table made before it failed (best effort).
CREATE OR REPLACE FUNCTION citus_compat.drop_created_shards(relation regclass, created jsonb)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  g record;
BEGIN
  FOR g IN SELECT x.groupid, string_agg(format('DROP TABLE IF EXISTS %s CASCADE; ',
                                               citus_compat.qualified_shard_name(relation, s.shardid)), '') AS ddl
             FROM pg_catalog.pg_dist_shard s JOIN pg_catalog.pg_dist_placement x USING (shardid)
            WHERE s.logicalrelid = relation AND created ? x.groupid::text
            GROUP BY x.groupid LOOP
    BEGIN
      PERFORM citus_compat.group_exec(g.groupid, g.ddl);
    EXCEPTION WHEN OTHERS THEN
      RAISE LOG 'citus_compat: could not drop the shards of % on group %: %', relation, g.groupid, SQLERRM;
    END;
  END LOOP;
END
$fn$;

-- Moves the rows of a table that was just distributed into its shards (Citus copies them and
-- leaves the local rows invisible; the stand-in deletes them).
CREATE OR REPLACE FUNCTION citus_compat.copy_local_rows(relation regclass, key_column name, key_type oid, created jsonb)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  rel text := citus_compat.qualified_relation_name(relation);
  has_rows boolean;
  s record;
  rows_json json;
BEGIN
  EXECUTE format('SELECT EXISTS (SELECT 1 FROM ONLY %s)', rel) INTO has_rows;
  IF NOT has_rows THEN
    RETURN;
  END IF;
  RAISE NOTICE 'Copying data from local table...';
  BEGIN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM ONLY %s WHERE %I IS NULL)', rel, key_column) INTO has_rows;
    IF has_rows THEN
      RAISE EXCEPTION 'the partition column of table % cannot be NULL',
        quote_literal((SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = relation))
        USING ERRCODE = 'not_null_violation';
    END IF;
    FOR s IN SELECT d.shardid, d.shardminvalue::int AS lo, d.shardmaxvalue::int AS hi, x.groupid
               FROM pg_catalog.pg_dist_shard d JOIN pg_catalog.pg_dist_placement x USING (shardid)
              WHERE d.logicalrelid = relation ORDER BY d.shardid LOOP
      EXECUTE format('SELECT json_agg(t) FROM ONLY %s t WHERE pg_catalog.%s(t.%I) BETWEEN %s AND %s',
                     rel, CASE WHEN key_type = 'int4'::regtype THEN 'hashint4' ELSE 'hashint8' END,
                     key_column, s.lo, s.hi) INTO rows_json;
      CONTINUE WHEN rows_json IS NULL;
      PERFORM citus_compat.group_exec(s.groupid, format(
        'INSERT INTO %1$s SELECT * FROM json_populate_recordset(NULL::%1$s, %2$L)',
        citus_compat.qualified_shard_name(relation, s.shardid), rows_json));
    END LOOP;
  EXCEPTION WHEN query_canceled OR OTHERS THEN
    PERFORM citus_compat.drop_created_shards(relation, created);
    RAISE;
  END;
  EXECUTE format('DELETE FROM ONLY %s', rel);
  RAISE NOTICE 'copying the data has completed'
    USING DETAIL = 'The local data in the table is no longer visible, but is still on disk.',
          HINT = format('To remove the local data, run: SELECT truncate_local_data_after_distributing_table($$%s$$)', rel);
END
$fn$;

-- The local rows of a distributed table are already gone in the stand-in; this truncates
-- whatever is left, as Citus's function does.
CREATE OR REPLACE FUNCTION pg_catalog.truncate_local_data_after_distributing_table(function_name regclass)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = function_name) THEN
    RAISE EXCEPTION 'supplied parameter is not a distributed relation' USING ERRCODE = 'invalid_parameter_value',
      DETAIL = 'This UDF only truncates local records of distributed tables.';
  END IF;
  EXECUTE format('DELETE FROM ONLY %s', citus_compat.qualified_relation_name(function_name));
END
$fn$;

-- Citus's drop trigger: dropping a distributed table on the coordinator drops its shards and
-- its metadata, here and on every metadata worker; on a worker only the local copy goes.
CREATE OR REPLACE FUNCTION pg_catalog.citus_drop_trigger()
RETURNS event_trigger LANGUAGE plpgsql AS $fn$
DECLARE
  obj record;
  g record;
  colocation int;
  shard_ids bigint[];
  on_coordinator boolean := coalesce((SELECT max(groupid) FROM pg_catalog.pg_dist_local_group), 0) = 0;
BEGIN
  FOR obj IN SELECT d.objid, d.schema_name, d.object_name FROM pg_catalog.pg_event_trigger_dropped_objects() d
              WHERE d.object_type IN ('table', 'foreign table')
                AND EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid::oid = d.objid) LOOP
    SELECT p.colocationid INTO colocation FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid::oid = obj.objid;
    shard_ids := ARRAY(SELECT s.shardid FROM pg_catalog.pg_dist_shard s WHERE s.logicalrelid::oid = obj.objid);
    IF on_coordinator THEN
      PERFORM citus_compat.ensure_metadata_synced();
      FOR g IN SELECT x.groupid, string_agg(format('DROP TABLE IF EXISTS %I.%I CASCADE; ', obj.schema_name,
                                                   obj.object_name || '_' || x.shardid), '') AS ddl
                 FROM pg_catalog.pg_dist_placement x WHERE x.shardid = ANY (shard_ids)
                GROUP BY x.groupid ORDER BY x.groupid LOOP
        PERFORM citus_compat.group_exec(g.groupid, g.ddl);
      END LOOP;
      PERFORM citus_compat.apply_on_metadata_workers(format(
        'DELETE FROM pg_catalog.pg_dist_placement WHERE shardid = ANY (%1$L::bigint[]); '
        'DELETE FROM pg_catalog.pg_dist_shard WHERE shardid = ANY (%1$L::bigint[]); '
        'DELETE FROM pg_catalog.pg_dist_partition WHERE logicalrelid = to_regclass(%2$L); '
        'DROP TABLE IF EXISTS %3$s CASCADE; '
        'DELETE FROM pg_catalog.pg_dist_colocation c WHERE c.colocationid = %4$s '
        'AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p WHERE p.colocationid = %4$s)',
        shard_ids, format('%I.%I', obj.schema_name, obj.object_name),
        format('%I.%I', obj.schema_name, obj.object_name), colocation));
    END IF;
    DELETE FROM pg_catalog.pg_dist_placement x WHERE x.shardid = ANY (shard_ids);
    DELETE FROM pg_catalog.pg_dist_shard s WHERE s.shardid = ANY (shard_ids);
    DELETE FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid::oid = obj.objid;
    DELETE FROM pg_catalog.pg_dist_colocation c WHERE c.colocationid = colocation
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p WHERE p.colocationid = colocation);
  END LOOP;
END
$fn$;

DO $install$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtname = 'citus_cascade_to_partition') THEN
    CREATE EVENT TRIGGER citus_cascade_to_partition ON sql_drop EXECUTE FUNCTION pg_catalog.citus_drop_trigger();
  END IF;
END
$install$;

-- ---------------------------------------------------------------------------------------------
-- Deferred cleanup (pg_dist_cleanup), as Citus's shard cleaner.

-- Drops what finished operations left to clean on the groups' primaries and returns how many
-- records it removed; a record of an operation still in progress (its lock held) is skipped.
CREATE OR REPLACE FUNCTION citus_compat.cleanup_orphaned_resources()
RETURNS int LANGUAGE plpgsql AS $fn$
DECLARE
  rec pg_catalog.pg_dist_cleanup;
  target pg_catalog.pg_dist_node;
  removed int := 0;
  failed int := 0;
  total int := 0;
BEGIN
  IF coalesce((SELECT max(groupid) FROM pg_catalog.pg_dist_local_group), 0) <> 0 THEN
    RETURN 0;
  END IF;
  FOR rec IN SELECT * FROM pg_catalog.pg_dist_cleanup c ORDER BY c.object_type, c.record_id LOOP
    total := total + 1;
    SELECT * INTO target FROM pg_catalog.pg_dist_node n
     WHERE n.groupid = rec.node_group_id AND n.noderole = 'primary';
    CONTINUE WHEN NOT FOUND OR rec.object_type <> 1;
    CONTINUE WHEN NOT pg_catalog.pg_try_advisory_xact_lock(citus_compat.lock_key('operation'), rec.operation_id::int);
    CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_cleanup c WHERE c.record_id = rec.record_id);
    BEGIN
      PERFORM citus_compat.remote_exec(target.nodeid, target.nodename, target.nodeport,
        format('SET LOCAL lock_timeout TO ''1s''; DROP TABLE IF EXISTS %s CASCADE', rec.object_name));
      IF rec.policy_type = 2 THEN
        RAISE LOG 'deferred drop of orphaned resource % on %:% completed', rec.object_name, target.nodename, target.nodeport;
      ELSE
        RAISE LOG 'cleaned up orphaned resource % on %:% which was left behind after a failed operation',
          rec.object_name, target.nodename, target.nodeport;
      END IF;
      DELETE FROM pg_catalog.pg_dist_cleanup c WHERE c.record_id = rec.record_id;
      removed := removed + 1;
    EXCEPTION WHEN OTHERS THEN
      failed := failed + 1;
    END;
  END LOOP;
  IF failed > 0 THEN
    RAISE WARNING 'failed to clean up % orphaned resources out of %', failed, total;
  END IF;
  RETURN removed;
END
$fn$;

CREATE OR REPLACE PROCEDURE pg_catalog.citus_cleanup_orphaned_resources()
LANGUAGE plpgsql AS $fn$
DECLARE
  dropped int;
BEGIN
  PERFORM citus_compat.ensure_coordinator();
  dropped := citus_compat.cleanup_orphaned_resources();
  IF dropped > 0 THEN
    RAISE NOTICE 'cleaned up % orphaned resources', dropped;
  END IF;
END
$fn$;
COMMENT ON PROCEDURE pg_catalog.citus_cleanup_orphaned_resources() IS 'cleanup orphaned resources';

-- ---------------------------------------------------------------------------------------------
-- Shard moves.

-- Citus's TransferShards for a move, in block_writes fashion whatever the mode.
CREATE OR REPLACE FUNCTION citus_compat.move_shard(
  shard_id bigint, source_name text, source_port int, target_name text, target_port int,
  transfer_mode citus.shard_transfer_mode)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  the_shard pg_catalog.pg_dist_shard;
  colocation int;
  source_node pg_catalog.pg_dist_node;
  target_node pg_catalog.pg_dist_node;
  shard_ids bigint[];
  relations regclass[];
  rel regclass;
  s record;
  qualified text;
  operation bigint;
  created text[] := '{}';
  rows_json json;
BEGIN
  PERFORM citus_compat.ensure_coordinator();
  IF source_name = target_name AND source_port = target_port THEN
    RAISE EXCEPTION 'cannot move shard to the same node' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT * INTO the_shard FROM pg_catalog.pg_dist_shard d WHERE d.shardid = shard_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'could not find valid entry for shard %', shard_id USING ERRCODE = 'internal_error';
  END IF;
  SELECT p.colocationid INTO colocation FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = the_shard.logicalrelid;

  -- ErrorIfTargetNodeIsNotSafeForTransfer
  target_node := citus_compat.find_worker_node(target_name, target_port);
  IF target_node.nodeid IS NULL THEN
    RAISE EXCEPTION 'Moving shards to a non-existing node is not supported' USING ERRCODE = 'feature_not_supported',
      HINT = format('Add the target node via SELECT citus_add_node(''%s'', %s);', target_name, target_port);
  ELSIF NOT target_node.isactive THEN
    RAISE EXCEPTION 'Moving shards to a non-active node is not supported' USING ERRCODE = 'feature_not_supported',
      HINT = format('Activate the target node via SELECT citus_activate_node(''%s'', %s);', target_name, target_port);
  ELSIF NOT target_node.shouldhaveshards THEN
    RAISE EXCEPTION 'Moving shards to a node that shouldn''t have a shard is not supported'
      USING ERRCODE = 'feature_not_supported',
            HINT = format('Allow shards on the target node via SELECT * FROM citus_set_node_property(''%s'', %s, ''shouldhaveshards'', true);',
                          target_name, target_port);
  ELSIF target_node.noderole <> 'primary' THEN
    RAISE EXCEPTION 'Moving shards to a secondary (e.g., replica) node is not supported'
      USING ERRCODE = 'feature_not_supported';
  END IF;

  -- AcquirePlacementColocationLock: a concurrent move in the colocation group fails at once
  IF NOT pg_catalog.pg_try_advisory_xact_lock(citus_compat.lock_key('placement colocation'), colocation) THEN
    RAISE EXCEPTION 'could not acquire the lock required to move %',
      citus_compat.qualified_relation_name(the_shard.logicalrelid)
      USING ERRCODE = 'internal_error',
            DETAIL = 'It means that either a concurrent shard move or colocated distributed table creation is happening.',
            HINT = 'Make sure that the concurrent operation has finished and re-run the command';
  END IF;
  SELECT array_agg(c.shardid ORDER BY c.shardid), array_agg(DISTINCT c.logicalrelid)
    INTO shard_ids, relations FROM citus_compat.colocated_shards(shard_id) c;
  FOREACH rel IN ARRAY relations LOOP
    EXECUTE format('LOCK TABLE %s IN SHARE UPDATE EXCLUSIVE MODE', citus_compat.qualified_relation_name(rel));
  END LOOP;

  -- TransferAlreadyCompleted
  source_node := citus_compat.find_worker_node(source_name, source_port);
  IF source_node.nodeid IS NULL THEN
    RAISE EXCEPTION 'Moving shards to a non-existing node is not supported' USING ERRCODE = 'feature_not_supported';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM unnest(shard_ids) i WHERE NOT EXISTS (
                   SELECT 1 FROM pg_catalog.pg_dist_placement x WHERE x.shardid = i AND x.groupid = target_node.groupid))
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_placement x
                      WHERE x.shardid = ANY (shard_ids) AND x.groupid = source_node.groupid) THEN
    RAISE WARNING 'shard is already present on node %:%', target_name, target_port
      USING DETAIL = 'Move may have already completed.';
    RETURN;
  END IF;

  -- EnsureAllShardsCanBeCopied
  FOR s IN SELECT i AS shardid FROM unnest(shard_ids) i ORDER BY i LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_placement x JOIN pg_catalog.pg_dist_node n USING (groupid)
                    WHERE x.shardid = s.shardid AND n.nodename = source_name AND n.nodeport = source_port) THEN
      RAISE EXCEPTION 'could not find placement matching "%:%"', source_name, source_port
        USING ERRCODE = 'data_exception', HINT = 'Confirm the placement still exists and try again.';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_dist_placement x JOIN pg_catalog.pg_dist_node n USING (groupid)
                WHERE x.shardid = s.shardid AND n.nodename = target_name AND n.nodeport = target_port) THEN
      RAISE EXCEPTION 'shard % already exists in the target node', s.shardid USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  IF transfer_mode = 'auto' THEN
    PERFORM citus_compat.ensure_replica_identity(relations);
  END IF;

  -- BlockWritesToShardList: the shards' locks here, then on every metadata worker
  PERFORM pg_catalog.pg_advisory_xact_lock(citus_compat.lock_key('shard'), i::int) FROM unnest(shard_ids) i ORDER BY i;
  PERFORM citus_compat.ensure_metadata_synced();
  PERFORM citus_compat.apply_on_metadata_workers(
    format('DO $lock$BEGIN PERFORM citus_compat.lock_shard_metadata(7, %L::bigint[]); END$lock$', shard_ids));

  -- DropOrphanedResourcesInSeparateTransaction, then ErrorIfCleanupRecordForShardExists
  PERFORM citus_compat.cleanup_orphaned_resources();
  FOR s IN SELECT c.object_name FROM pg_catalog.pg_dist_cleanup c
            WHERE c.object_type = 1
              AND c.object_name IN (SELECT citus_compat.qualified_shard_name(d.logicalrelid, d.shardid)
                                      FROM pg_catalog.pg_dist_shard d WHERE d.shardid = ANY (shard_ids))
            ORDER BY c.record_id LIMIT 1 LOOP
    RAISE EXCEPTION 'shard move failed as the orphaned shard % leftover from the previous move could not be cleaned up',
      s.object_name USING ERRCODE = 'internal_error';
  END LOOP;

  operation := nextval('pg_catalog.pg_dist_operationid_seq');
  PERFORM pg_catalog.pg_advisory_xact_lock(citus_compat.lock_key('operation'), operation::int);
  BEGIN
    -- CopyShardTablesViaBlockWrites: each shard recreated on the target, then its rows copied
    FOR s IN SELECT d.shardid, d.logicalrelid FROM pg_catalog.pg_dist_shard d
              WHERE d.shardid = ANY (shard_ids) ORDER BY d.shardid LOOP
      qualified := citus_compat.qualified_shard_name(s.logicalrelid, s.shardid);
      PERFORM citus_compat.remote_exec(target_node.nodeid, target_node.nodename, target_node.nodeport,
                                       citus_compat.shard_table_ddl(s.logicalrelid, s.shardid));
      created := created || qualified;
      SELECT json_agg(r::json) INTO rows_json
        FROM citus_compat.remote_query(source_node.nodeid, source_node.nodename, source_node.nodeport,
                                       format('SELECT row_to_json(t)::text FROM %s t', qualified)) AS r;
      IF rows_json IS NOT NULL THEN
        PERFORM citus_compat.remote_exec(target_node.nodeid, target_node.nodename, target_node.nodeport, format(
          'INSERT INTO %1$s SELECT * FROM json_populate_recordset(NULL::%1$s, %2$L)', qualified, rows_json));
      END IF;
    END LOOP;

    -- the source tables are dropped later (CLEANUP_DEFERRED_ON_SUCCESS), once this commits
    INSERT INTO pg_catalog.pg_dist_cleanup (record_id, operation_id, object_type, object_name, node_group_id, policy_type)
    SELECT nextval('pg_catalog.pg_dist_cleanup_recordid_seq'), operation, 1,
           citus_compat.qualified_shard_name(d.logicalrelid, d.shardid), source_node.groupid, 2
      FROM pg_catalog.pg_dist_shard d WHERE d.shardid = ANY (shard_ids) ORDER BY d.shardid;

    INSERT INTO pg_catalog.pg_dist_placement (shardid, shardstate, shardlength, groupid)
    SELECT i, 1, 0, target_node.groupid FROM unnest(shard_ids) i ORDER BY i;
    DELETE FROM pg_catalog.pg_dist_placement x WHERE x.shardid = ANY (shard_ids) AND x.groupid = source_node.groupid;

    -- UpdateColocatedShardPlacementMetadataOnWorkers (Citus sends
    -- citus_internal.update_placement_metadata, an update of the same rows)
    PERFORM citus_compat.ensure_metadata_synced();
    PERFORM citus_compat.apply_on_metadata_workers(string_agg(
              format('UPDATE pg_catalog.pg_dist_placement SET groupid = %s WHERE shardid = %s AND groupid = %s',
                     target_node.groupid, i, source_node.groupid), '; ' ORDER BY i))
       FROM unnest(shard_ids) i;
  EXCEPTION WHEN query_canceled OR OTHERS THEN
    -- what was created on the target goes (Citus records it as CLEANUP_ON_FAILURE)
    IF cardinality(created) > 0 THEN
      BEGIN
        PERFORM citus_compat.remote_exec(target_node.nodeid, target_node.nodename, target_node.nodeport,
          (SELECT string_agg(format('DROP TABLE IF EXISTS %s CASCADE', q), '; ') FROM unnest(created) q));
      EXCEPTION WHEN OTHERS THEN
        RAISE LOG 'citus_compat: could not drop % on %:%: %', created, target_node.nodename, target_node.nodeport, SQLERRM;
      END;
    END IF;
    RAISE;
  END;
END
$fn$;

CREATE OR REPLACE FUNCTION pg_catalog.citus_move_shard_placement(
  shard_id bigint, source_node_name text, source_node_port integer, target_node_name text,
  target_node_port integer, shard_transfer_mode citus.shard_transfer_mode DEFAULT 'auto')
RETURNS void LANGUAGE plpgsql STRICT AS $fn$
BEGIN
  PERFORM citus_compat.move_shard($1, $2, $3, $4, $5, $6);
END
$fn$;
COMMENT ON FUNCTION pg_catalog.citus_move_shard_placement(bigint, text, integer, text, integer, citus.shard_transfer_mode)
  IS 'move a shard from a the source node to the destination node';

CREATE OR REPLACE FUNCTION pg_catalog.citus_move_shard_placement(
  shard_id bigint, source_node_id integer, target_node_id integer,
  transfer_mode citus.shard_transfer_mode DEFAULT 'auto')
RETURNS void LANGUAGE plpgsql STRICT AS $fn$
DECLARE
  source_node pg_catalog.pg_dist_node;
  target_node pg_catalog.pg_dist_node;
BEGIN
  PERFORM citus_compat.ensure_coordinator();
  SELECT * INTO source_node FROM citus_compat.active_primaries() n WHERE n.nodeid = source_node_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'node with node id % could not be found', source_node_id USING ERRCODE = 'internal_error';
  END IF;
  SELECT * INTO target_node FROM citus_compat.active_primaries() n WHERE n.nodeid = target_node_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'node with node id % could not be found', target_node_id USING ERRCODE = 'internal_error';
  END IF;
  PERFORM citus_compat.move_shard($1, source_node.nodename, source_node.nodeport,
                                  target_node.nodename, target_node.nodeport, $4);
END
$fn$;
COMMENT ON FUNCTION pg_catalog.citus_move_shard_placement(bigint, integer, integer, citus.shard_transfer_mode)
  IS 'move a shard from the source node to the destination node';

-- ---------------------------------------------------------------------------------------------
-- Rebalance strategies and the planner (Citus's RebalancePlacementUpdates, greedy by cost).

CREATE OR REPLACE FUNCTION pg_catalog.citus_shard_cost_1(bigint)
RETURNS float4 LANGUAGE sql IMMUTABLE STRICT AS $fn$ SELECT 1.0::float4 $fn$;
COMMENT ON FUNCTION pg_catalog.citus_shard_cost_1(bigint)
  IS 'a shard cost function for use by the rebalance algorithm that always returns 1';

CREATE OR REPLACE FUNCTION pg_catalog.citus_node_capacity_1(int)
RETURNS float4 LANGUAGE sql IMMUTABLE STRICT AS $fn$ SELECT 1.0::float4 $fn$;
COMMENT ON FUNCTION pg_catalog.citus_node_capacity_1(int)
  IS 'a node capacity function for use by the rebalance algorithm that always returns 1';

CREATE OR REPLACE FUNCTION pg_catalog.citus_shard_allowed_on_node_true(bigint, int)
RETURNS boolean LANGUAGE sql IMMUTABLE STRICT AS $fn$ SELECT true $fn$;
COMMENT ON FUNCTION pg_catalog.citus_shard_allowed_on_node_true(bigint, int)
  IS 'a shard_allowed_on_node_function for use by the rebalance algorithm that always returns true';

-- The size of the shard's colocated shard group where its first placement is, plus
-- citus.rebalancer_by_disk_size_base_cost (100MB), as Citus 12+ computes it.
CREATE OR REPLACE FUNCTION pg_catalog.citus_shard_cost_by_disk_size(bigint)
RETURNS float4 LANGUAGE plpgsql STRICT AS $fn$
DECLARE
  holder pg_catalog.pg_dist_node;
  bytes bigint;
BEGIN
  SELECT n.* INTO holder FROM pg_catalog.pg_dist_placement x
    JOIN pg_catalog.pg_dist_node n ON n.groupid = x.groupid AND n.noderole = 'primary'
   WHERE x.shardid = $1 AND x.shardstate = 1 ORDER BY x.placementid LIMIT 1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'could not find any healthy placement for shard %', $1 USING ERRCODE = 'internal_error';
  END IF;
  SELECT r::bigint INTO bytes FROM citus_compat.remote_query(holder.nodeid, holder.nodename, holder.nodeport,
    (SELECT format('SELECT coalesce(sum(pg_catalog.pg_total_relation_size(to_regclass(n))), 0)::bigint::text '
                   'FROM unnest(%L::text[]) n',
                   array_agg(citus_compat.qualified_shard_name(c.logicalrelid, c.shardid)))
       FROM citus_compat.colocated_shards($1) c)) AS r;
  bytes := bytes + coalesce(nullif(current_setting('citus.rebalancer_by_disk_size_base_cost', true), '')::bigint,
                            104857600);
  IF bytes <= 0 THEN
    RETURN 1;
  END IF;
  RETURN bytes::float4;
END
$fn$;
COMMENT ON FUNCTION pg_catalog.citus_shard_cost_by_disk_size(bigint)
  IS 'a shard cost function for use by the rebalance algorithm that returns the disk size in bytes for the specified shard and the shards that are colocated with it';

-- Citus 12.0 made by_disk_size the default strategy.
INSERT INTO pg_catalog.pg_dist_rebalance_strategy AS s
  (name, default_strategy, shard_cost_function, node_capacity_function, shard_allowed_on_node_function,
   default_threshold, minimum_threshold, improvement_threshold)
VALUES
  ('by_shard_count', false, 'citus_shard_cost_1', 'citus_node_capacity_1', 'citus_shard_allowed_on_node_true', 0, 0, 0),
  ('by_disk_size', true, 'citus_shard_cost_by_disk_size', 'citus_node_capacity_1', 'citus_shard_allowed_on_node_true',
   0.1, 0.01, 0.5)
ON CONFLICT (name) DO NOTHING;

-- Citus's GetRebalanceStrategy.
CREATE OR REPLACE FUNCTION citus_compat.rebalance_strategy(strategy_name name)
RETURNS pg_catalog.pg_dist_rebalance_strategy LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  found_strategy pg_catalog.pg_dist_rebalance_strategy;
BEGIN
  IF strategy_name IS NULL THEN
    SELECT * INTO found_strategy FROM pg_catalog.pg_dist_rebalance_strategy s WHERE s.default_strategy LIMIT 1;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'no rebalance_strategy was provided, but there is also no default strategy set'
        USING ERRCODE = 'internal_error';
    END IF;
  ELSE
    SELECT * INTO found_strategy FROM pg_catalog.pg_dist_rebalance_strategy s WHERE s.name = strategy_name;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'could not find rebalance strategy with name %', strategy_name USING ERRCODE = 'internal_error';
    END IF;
  END IF;
  RETURN found_strategy;
END
$fn$;

-- Citus's NonColocatedDistRelationIdList: one distributed table per colocation group.
CREATE OR REPLACE FUNCTION citus_compat.rebalance_relations()
RETURNS regclass[] LANGUAGE sql STABLE AS $fn$
  SELECT coalesce(array_agg(r ORDER BY r::oid), '{}')
    FROM (SELECT min(p.logicalrelid::oid)::regclass AS r FROM pg_catalog.pg_dist_partition p
           WHERE p.partmethod = 'h' GROUP BY p.colocationid) g
$fn$;

-- Citus's ErrorOnConcurrentRebalance: the colocation groups' rebalance locks (failing at once),
-- then any rebalance job that has not ended.
CREATE OR REPLACE FUNCTION citus_compat.error_on_concurrent_rebalance(relations regclass[], operation text)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  rel regclass;
  job bigint;
BEGIN
  FOREACH rel IN ARRAY relations LOOP
    IF NOT pg_catalog.pg_try_advisory_xact_lock(citus_compat.lock_key('rebalance colocation'),
         (SELECT p.colocationid FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = rel)) THEN
      RAISE EXCEPTION 'could not acquire the lock required to % %', operation, citus_compat.qualified_relation_name(rel)
        USING ERRCODE = 'internal_error',
              DETAIL = 'It means that either a concurrent shard move or shard copy is happening.',
              HINT = 'Make sure that the concurrent operation has finished and re-run the command';
    END IF;
  END LOOP;
  job := citus_compat.non_terminal_job('rebalance');
  IF job IS NOT NULL THEN
    RAISE EXCEPTION 'A rebalance is already running as job %', job
      USING ERRCODE = 'internal_error',
            DETAIL = 'A rebalance was already scheduled as background job',
            HINT = 'To monitor progress, run: SELECT * FROM citus_rebalance_status();';
  END IF;
END
$fn$;

-- Citus's HasNonTerminalJobOfType.
CREATE OR REPLACE FUNCTION citus_compat.non_terminal_job(type name)
RETURNS bigint LANGUAGE sql STABLE AS $fn$
  SELECT j.job_id FROM pg_catalog.pg_dist_background_job j
   WHERE j.job_type = type AND j.state IN ('running', 'cancelling', 'failing', 'scheduled')
   ORDER BY array_position(ARRAY['running', 'cancelling', 'failing', 'scheduled']::pg_catalog.citus_job_status[], j.state),
            j.job_id
   LIMIT 1
$fn$;

-- Whether a strategy allows a shard on a node (never on one that should not have shards).
CREATE OR REPLACE FUNCTION citus_compat.rebalance_allowed(
  strategy pg_catalog.pg_dist_rebalance_strategy, shard_id bigint, node_id int, should boolean)
RETURNS boolean LANGUAGE plpgsql AS $fn$
DECLARE
  allowed boolean;
BEGIN
  IF NOT should THEN
    RETURN false;
  END IF;
  IF strategy.shard_allowed_on_node_function = 'pg_catalog.citus_shard_allowed_on_node_true'::regproc THEN
    RETURN true;
  END IF;
  EXECUTE format('SELECT %s($1, $2)', strategy.shard_allowed_on_node_function) INTO allowed USING shard_id, node_id;
  RETURN allowed;
END
$fn$;

-- The planner's state lives in temporary tables of the session: per list (colocation group),
-- the fill state of every node and the placements with their cost; the moves found so far.
CREATE OR REPLACE FUNCTION citus_compat.rebalance_state_reset()
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF to_regclass('pg_temp.citus_compat_rb_node') IS NULL THEN
    CREATE TEMP TABLE citus_compat_rb_node (
      list_no int, nodeid int, nodename text, nodeport int, should boolean, capacity real, total real, util real);
    CREATE TEMP TABLE citus_compat_rb_place (list_no int, shardid bigint, nodeid int, cost real, disallowed boolean);
    CREATE TEMP TABLE citus_compat_rb_move (move_no int, shardid bigint, source int, target int);
    CREATE TEMP TABLE citus_compat_rb_ignored (list_no int, ignored int);
  END IF;
  TRUNCATE citus_compat_rb_node, citus_compat_rb_place, citus_compat_rb_move, citus_compat_rb_ignored;
END
$fn$;

-- Citus's MoveShardCost.
CREATE OR REPLACE FUNCTION citus_compat.rebalance_move(list int, shard_id bigint, from_node int, to_node int, shard_cost real)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO citus_compat_rb_move (move_no, shardid, source, target)
  SELECT count(*) + 1, shard_id, from_node, to_node FROM citus_compat_rb_move;
  UPDATE citus_compat_rb_place p SET nodeid = to_node, disallowed = false
   WHERE p.list_no = list AND p.shardid = shard_id AND p.nodeid = from_node;
  UPDATE citus_compat_rb_node n
     SET total = n.total - shard_cost,
         util = CASE WHEN n.capacity <= 0 THEN 'Infinity'::real ELSE (n.total - shard_cost) / n.capacity END
   WHERE n.list_no = list AND n.nodeid = from_node;
  UPDATE citus_compat_rb_node n
     SET total = n.total + shard_cost,
         util = CASE WHEN n.capacity <= 0 THEN 'Infinity'::real ELSE (n.total + shard_cost) / n.capacity END
   WHERE n.list_no = list AND n.nodeid = to_node;
END
$fn$;

-- Citus's FindAndMoveShardCost: one move from the fullest node to the emptiest that improves
-- the balance; false when there is none.
CREATE OR REPLACE FUNCTION citus_compat.rebalance_find_move(
  strategy pg_catalog.pg_dist_rebalance_strategy, list int, lower_bound real, upper_bound real, improvement real)
RETURNS boolean LANGUAGE plpgsql AS $fn$
DECLARE
  src record;
  tgt record;
  sc record;
  new_target real;
  new_source real;
  gain real;
  added real;
  ignored int;
  max_logged int := coalesce(nullif(current_setting('citus.max_rebalancer_logged_ignored_moves', true), '')::int, 5);
BEGIN
  FOR src IN SELECT * FROM citus_compat_rb_node n WHERE n.list_no = list
              ORDER BY n.util DESC, n.capacity ASC, n.nodeid DESC LOOP
    IF src.util <= lower_bound THEN
      RETURN false;
    END IF;
    FOR tgt IN SELECT * FROM citus_compat_rb_node n WHERE n.list_no = list
                ORDER BY n.util ASC, n.capacity DESC, n.nodeid ASC LOOP
      EXIT WHEN tgt.util >= upper_bound;
      EXIT WHEN tgt.util >= lower_bound AND src.util <= upper_bound;
      FOR sc IN SELECT p.shardid, p.cost FROM citus_compat_rb_place p
                 WHERE p.list_no = list AND p.nodeid = src.nodeid ORDER BY p.cost DESC, p.shardid ASC LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM citus_compat_rb_place p
                               WHERE p.list_no = list AND p.shardid = sc.shardid AND p.nodeid = tgt.nodeid);
        CONTINUE WHEN NOT citus_compat.rebalance_allowed(strategy, sc.shardid, tgt.nodeid, tgt.should);
        new_target := CASE WHEN tgt.capacity <= 0 THEN 'Infinity'::real ELSE (tgt.total + sc.cost) / tgt.capacity END;
        new_source := CASE WHEN src.capacity <= 0 THEN 'Infinity'::real ELSE (src.total - sc.cost) / src.capacity END;
        IF new_target <= new_source THEN
          PERFORM citus_compat.rebalance_move(list, sc.shardid, src.nodeid, tgt.nodeid, sc.cost);
          RETURN true;
        END IF;
        CONTINUE WHEN new_target > src.util;
        CONTINUE WHEN new_target = src.util AND new_source <= tgt.util;
        gain := greatest(src.util - new_target, new_source - tgt.util);
        added := least(new_target - tgt.util, src.util - new_source);
        IF gain / added < improvement THEN
          UPDATE citus_compat_rb_ignored i SET ignored = i.ignored + 1 WHERE i.list_no = list RETURNING i.ignored INTO ignored;
          IF max_logged = -1 OR ignored <= max_logged THEN
            RAISE NOTICE 'Ignoring move of shard % from %:% to %:%, because the move only brings a small improvement relative to the shard its size',
              sc.shardid, src.nodename, src.nodeport, tgt.nodename, tgt.nodeport
              USING DETAIL = format('The balance improvement of %s is lower than the improvement_threshold of %s',
                                    gain / added, improvement);
          END IF;
          CONTINUE;
        END IF;
        PERFORM citus_compat.rebalance_move(list, sc.shardid, src.nodeid, tgt.nodeid, sc.cost);
        RETURN true;
      END LOOP;
    END LOOP;
  END LOOP;
  RETURN false;
END
$fn$;

-- Citus's GetRebalanceSteps: the moves that balance every colocation group (or, drain_only,
-- that take shards off nodes that should not have them; with drain_node, only that node's).
CREATE OR REPLACE FUNCTION citus_compat.rebalance_plan(
  strategy pg_catalog.pg_dist_rebalance_strategy, drain_only boolean, drain_node int DEFAULT NULL,
  max_shard_moves int DEFAULT 10000000)
RETURNS TABLE (move_no int, shard_id bigint, source_node int, target_node int) LANGUAGE plpgsql AS $fn$
DECLARE
  allowed_count int;
  replication_factor int := coalesce(nullif(current_setting('citus.shard_replication_factor', true), '')::int, 1);
  rel regclass;
  list int := 0;
  placements int;
  p record;
  target record;
  total_cost real;
  total_capacity real;
  lower_bound real;
  upper_bound real;
  more boolean;
  ignored bigint;
  max_logged int := coalesce(nullif(current_setting('citus.max_rebalancer_logged_ignored_moves', true), '')::int, 5);
BEGIN
  PERFORM citus_compat.rebalance_state_reset();
  SELECT count(*) FILTER (WHERE n.shouldhaveshards) INTO allowed_count FROM citus_compat.active_primaries() n;
  IF allowed_count < replication_factor THEN
    RAISE EXCEPTION 'Shard replication factor (%) cannot be greater than number of nodes with should_have_shards=true (%).',
      replication_factor, allowed_count USING ERRCODE = 'internal_error';
  END IF;

  -- one list per colocation group with at least as many shard groups as allowed nodes; the
  -- smaller groups are balanced together as one list, the last
  FOREACH rel IN ARRAY citus_compat.rebalance_relations() LOOP
    SELECT count(*) INTO placements FROM pg_catalog.pg_dist_shard d
      JOIN pg_catalog.pg_dist_placement x USING (shardid)
      JOIN citus_compat.active_primaries() n ON n.groupid = x.groupid
     WHERE d.logicalrelid = rel AND x.shardstate = 1 AND (drain_node IS NULL OR n.nodeid = drain_node);
    IF placements >= allowed_count THEN
      list := list + 1;
    END IF;
    INSERT INTO citus_compat_rb_place (list_no, shardid, nodeid, cost, disallowed)
    SELECT CASE WHEN placements >= allowed_count THEN list ELSE -1 END, d.shardid, n.nodeid, NULL, false
      FROM pg_catalog.pg_dist_shard d
      JOIN pg_catalog.pg_dist_placement x USING (shardid)
      JOIN citus_compat.active_primaries() n ON n.groupid = x.groupid
     WHERE d.logicalrelid = rel AND x.shardstate = 1 AND (drain_node IS NULL OR n.nodeid = drain_node);
  END LOOP;
  IF EXISTS (SELECT 1 FROM citus_compat_rb_place r WHERE r.list_no = -1) THEN
    list := list + 1;
    UPDATE citus_compat_rb_place r SET list_no = list WHERE r.list_no = -1;
  END IF;

  -- InitRebalanceState: every node's capacity, every placement's cost
  INSERT INTO citus_compat_rb_node
  SELECT l, n.nodeid, n.nodename, n.nodeport, n.shouldhaveshards, 0, 0, 0
    FROM generate_series(1, list) l CROSS JOIN citus_compat.active_primaries() n;
  FOR p IN SELECT n.list_no, n.nodeid, n.should FROM citus_compat_rb_node n LOOP
    IF p.should THEN
      EXECUTE format('SELECT %s($1)::real', strategy.node_capacity_function) INTO total_capacity USING p.nodeid;
    ELSE
      total_capacity := 0;
    END IF;
    UPDATE citus_compat_rb_node n SET capacity = total_capacity WHERE n.list_no = p.list_no AND n.nodeid = p.nodeid;
  END LOOP;
  FOR p IN SELECT r.list_no, r.shardid, r.nodeid FROM citus_compat_rb_place r LOOP
    IF strategy.shard_cost_function = 'pg_catalog.citus_shard_cost_1'::regproc THEN
      total_cost := 1;
    ELSE
      EXECUTE format('SELECT %s($1)::real', strategy.shard_cost_function) INTO total_cost USING p.shardid;
    END IF;
    UPDATE citus_compat_rb_place r SET cost = total_cost,
           disallowed = NOT citus_compat.rebalance_allowed(strategy, p.shardid, p.nodeid,
                                                           (SELECT n.should FROM citus_compat_rb_node n
                                                             WHERE n.list_no = p.list_no AND n.nodeid = p.nodeid))
     WHERE r.list_no = p.list_no AND r.shardid = p.shardid AND r.nodeid = p.nodeid;
  END LOOP;
  UPDATE citus_compat_rb_node n
     SET total = coalesce((SELECT sum(r.cost) FROM citus_compat_rb_place r
                            WHERE r.list_no = n.list_no AND r.nodeid = n.nodeid), 0);
  UPDATE citus_compat_rb_node n
     SET util = CASE WHEN n.capacity <= 0 THEN 'Infinity'::real ELSE n.total / n.capacity END;
  INSERT INTO citus_compat_rb_ignored SELECT l, 0 FROM generate_series(1, list) l;

  -- MoveShardsAwayFromDisallowedNodes, list by list
  FOR l IN 1 .. list LOOP
    FOR p IN SELECT r.shardid, r.nodeid, r.cost FROM citus_compat_rb_place r
              WHERE r.list_no = l AND r.disallowed ORDER BY r.cost DESC, r.shardid ASC LOOP
      target := NULL;
      SELECT n.* INTO target FROM citus_compat_rb_node n
       WHERE n.list_no = l
         AND NOT EXISTS (SELECT 1 FROM citus_compat_rb_place r
                          WHERE r.list_no = l AND r.shardid = p.shardid AND r.nodeid = n.nodeid)
         AND citus_compat.rebalance_allowed(strategy, p.shardid, n.nodeid, n.should)
       ORDER BY n.util ASC, n.capacity DESC, n.nodeid ASC LIMIT 1;
      IF target.nodeid IS NULL THEN
        RAISE WARNING 'Not allowed to move shard % anywhere from %:%', p.shardid,
          (SELECT n.nodename FROM citus_compat_rb_node n WHERE n.list_no = l AND n.nodeid = p.nodeid),
          (SELECT n.nodeport FROM citus_compat_rb_node n WHERE n.list_no = l AND n.nodeid = p.nodeid);
        CONTINUE;
      END IF;
      PERFORM citus_compat.rebalance_move(l, p.shardid, p.nodeid, target.nodeid, p.cost);
    END LOOP;
  END LOOP;

  IF NOT drain_only THEN
    FOR l IN 1 .. list LOOP
      SELECT sum(n.total), sum(n.capacity) INTO total_cost, total_capacity
        FROM (SELECT n.total, n.capacity FROM citus_compat_rb_node n WHERE n.list_no = l) n;
      total_cost := (SELECT sum(r.cost) FROM citus_compat_rb_place r WHERE r.list_no = l);
      lower_bound := ((1.0 - strategy.default_threshold::float8) * (total_cost / total_capacity)::float8)::real;
      upper_bound := ((1.0 + strategy.default_threshold::float8) * (total_cost / total_capacity)::float8)::real;
      more := true;
      WHILE more AND (SELECT count(*) FROM citus_compat_rb_move) < max_shard_moves LOOP
        more := citus_compat.rebalance_find_move(strategy, l, lower_bound, upper_bound, strategy.improvement_threshold);
      END LOOP;
      IF more THEN
        RAISE NOTICE 'Stopped searching before we were out of moves. Please rerun the rebalancer after it''s finished for a more optimal placement.';
        EXIT;
      END IF;
    END LOOP;
  END IF;

  SELECT sum(i.ignored) INTO ignored FROM citus_compat_rb_ignored i;
  IF ignored > 0 THEN
    IF max_logged = -1 OR ignored <= max_logged THEN
      RAISE NOTICE 'Ignored % moves, all of which are shown in notices above', ignored
        USING HINT = format('If you do want these moves to happen, try changing improvement_threshold to a lower value than what it is now (%s).',
                            strategy.improvement_threshold);
    ELSE
      RAISE NOTICE 'Ignored % moves, % of which are shown in notices above', ignored, max_logged
        USING HINT = format('If you do want these moves to happen, try changing improvement_threshold to a lower value than what it is now (%s).',
                            strategy.improvement_threshold);
    END IF;
  END IF;

  RETURN QUERY SELECT m.move_no, m.shardid, m.source, m.target FROM citus_compat_rb_move m ORDER BY m.move_no;
END
$fn$;

-- ---------------------------------------------------------------------------------------------
-- Background jobs and tasks (Citus's background_jobs.c and metadata_utility.c).

-- Citus's UpdateBackgroundJob: the job's state follows its tasks' states.
CREATE OR REPLACE FUNCTION citus_compat.update_background_job(job bigint)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  c record;
  new_state pg_catalog.citus_job_status;
BEGIN
  SELECT count(*) FILTER (WHERE t.status = 'blocked') AS blocked,
         count(*) FILTER (WHERE t.status = 'runnable') AS runnable,
         count(*) FILTER (WHERE t.status = 'running') AS running,
         count(*) FILTER (WHERE t.status = 'error') AS error,
         count(*) FILTER (WHERE t.status = 'unscheduled') AS unscheduled,
         count(*) FILTER (WHERE t.status = 'cancelled') AS cancelled,
         count(*) FILTER (WHERE t.status = 'cancelling') AS cancelling
    INTO c FROM pg_catalog.pg_dist_background_task t WHERE t.job_id = job;
  IF c.cancelling > 0 THEN
    new_state := 'cancelling';
  ELSIF c.cancelled > 0 THEN
    new_state := 'cancelled';
  ELSIF c.blocked + c.runnable + c.running + c.error + c.unscheduled = 0 THEN
    new_state := 'finished';
  ELSIF c.error + c.unscheduled > 0 THEN
    new_state := CASE WHEN c.blocked + c.runnable + c.running > 0 THEN 'failing' ELSE 'failed' END;
  ELSE
    new_state := 'running';
  END IF;
  UPDATE pg_catalog.pg_dist_background_job j
     SET state = new_state,
         started_at = CASE WHEN new_state = 'running' AND j.started_at IS NULL THEN clock_timestamp() ELSE j.started_at END,
         finished_at = CASE WHEN new_state IN ('finished', 'cancelled', 'failed') AND j.finished_at IS NULL
                            THEN clock_timestamp() ELSE j.finished_at END
   WHERE j.job_id = job;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'could not find background jobs entry for job_id: %', job USING ERRCODE = 'internal_error';
  END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION pg_catalog.citus_job_cancel(jobid bigint)
RETURNS void LANGUAGE plpgsql STRICT AS $fn$
DECLARE
  t record;
  pids int[] := '{}';
  signalled_pid int;
BEGIN
  PERFORM citus_compat.ensure_coordinator();
  LOCK TABLE pg_catalog.pg_dist_background_task IN EXCLUSIVE MODE;
  FOR t IN SELECT x.task_id, x.status, x.pid FROM pg_catalog.pg_dist_background_task x
            WHERE x.job_id = jobid AND x.status NOT IN ('cancelled', 'done', 'error', 'unscheduled')
            ORDER BY x.task_id LOOP
    IF t.status = 'running' AND t.pid IS NOT NULL THEN
      pids := pids || t.pid;
      UPDATE pg_catalog.pg_dist_background_task x SET status = 'cancelling' WHERE x.task_id = t.task_id;
    ELSE
      UPDATE pg_catalog.pg_dist_background_task x SET status = 'cancelled' WHERE x.task_id = t.task_id;
    END IF;
  END LOOP;
  FOREACH signalled_pid IN ARRAY pids LOOP
    IF NOT pg_catalog.pg_cancel_backend(signalled_pid) THEN
      RAISE WARNING 'could not send signal to process %', signalled_pid;
    END IF;
  END LOOP;
  PERFORM citus_compat.update_background_job(jobid);
END
$fn$;
COMMENT ON FUNCTION pg_catalog.citus_job_cancel(bigint)
  IS 'cancel a scheduled or running job and all of its tasks that didn''t finish yet';

-- Polls once a second, as Citus does.
CREATE OR REPLACE FUNCTION pg_catalog.citus_job_wait(jobid bigint, desired_status pg_catalog.citus_job_status DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  current_state pg_catalog.citus_job_status;
BEGIN
  PERFORM citus_compat.ensure_coordinator();
  LOOP
    SELECT j.state INTO current_state FROM pg_catalog.pg_dist_background_job j WHERE j.job_id = jobid;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'no job found for job with jobid: %', jobid USING ERRCODE = 'internal_error';
    END IF;
    EXIT WHEN desired_status IS NOT NULL AND current_state = desired_status;
    IF current_state IN ('cancelled', 'failed', 'finished') THEN
      IF desired_status IS NOT NULL THEN
        RAISE EXCEPTION 'Job reached terminal state "%" instead of desired state "%"', current_state, desired_status
          USING ERRCODE = 'internal_error';
      END IF;
      EXIT;
    END IF;
    PERFORM pg_catalog.pg_sleep(1);
  END LOOP;
END
$fn$;
COMMENT ON FUNCTION pg_catalog.citus_job_wait(bigint, pg_catalog.citus_job_status)
  IS 'blocks till the job identified by jobid is at the specified status, or reached a terminal status. Only waits for terminal status when no desired_status was specified. The return value indicates if the desired status was reached or not. When no desired status was specified it will assume any terminal status was desired';

-- The moves of running rebalance tasks (Citus reads them from shared memory; the stand-in from
-- the tasks' commands): one row per colocated shard, with the sizes on source and target.
CREATE OR REPLACE FUNCTION pg_catalog.get_rebalance_progress()
RETURNS TABLE (sessionid integer, table_name regclass, shardid bigint, shard_size bigint, sourcename text,
               sourceport int, targetname text, targetport int, progress bigint, source_shard_size bigint,
               target_shard_size bigint, operation_type text, source_lsn pg_lsn, target_lsn pg_lsn, status text)
LANGUAGE plpgsql STRICT AS $fn$
DECLARE
  t record;
  m text[];
  c record;
  src pg_catalog.pg_dist_node;
  dst pg_catalog.pg_dist_node;
  names text[];
  src_sizes jsonb;
  dst_sizes jsonb;
BEGIN
  FOR t IN SELECT x.pid, x.command FROM pg_catalog.pg_dist_background_task x
            WHERE x.status = 'running' AND x.pid IS NOT NULL ORDER BY x.task_id LOOP
    m := regexp_match(t.command, 'citus_move_shard_placement\((\d+),(\d+),(\d+),');
    CONTINUE WHEN m IS NULL;
    SELECT * INTO src FROM pg_catalog.pg_dist_node n WHERE n.nodeid = m[2]::int;
    SELECT * INTO dst FROM pg_catalog.pg_dist_node n WHERE n.nodeid = m[3]::int;
    names := ARRAY(SELECT citus_compat.qualified_shard_name(o.logicalrelid, o.shardid)
                     FROM citus_compat.colocated_shards(m[1]::bigint) o);
    src_sizes := citus_compat.remote_relation_sizes(src, names);
    dst_sizes := citus_compat.remote_relation_sizes(dst, names);
    FOR c IN SELECT o.shardid AS id, o.logicalrelid AS rel, citus_compat.qualified_shard_name(o.logicalrelid, o.shardid) AS name
               FROM citus_compat.colocated_shards(m[1]::bigint) o LOOP
      sessionid := t.pid;
      table_name := c.rel;
      shardid := c.id;
      sourcename := src.nodename;
      sourceport := src.nodeport;
      targetname := dst.nodename;
      targetport := dst.nodeport;
      progress := 1;
      source_shard_size := (src_sizes ->> c.name)::bigint;
      target_shard_size := (dst_sizes ->> c.name)::bigint;
      shard_size := source_shard_size;
      operation_type := 'move';
      source_lsn := NULL;
      target_lsn := NULL;
      status := 'Copying Data';
      RETURN NEXT;
    END LOOP;
  END LOOP;
END
$fn$;
COMMENT ON FUNCTION pg_catalog.get_rebalance_progress()
  IS 'provides progress information about the ongoing rebalance operations';

-- The sizes of relations on a node as {name: bytes}; empty when the node does not answer
-- within a second (a status query must not hang on a dead node).
CREATE OR REPLACE FUNCTION citus_compat.remote_relation_sizes(node pg_catalog.pg_dist_node, relations text[])
RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  sizes jsonb;
BEGIN
  SELECT r.v::jsonb INTO sizes FROM dblink(
    citus_compat.node_conninfo(node.nodeid, node.nodename, node.nodeport) || ' connect_timeout=1',
    format('SELECT coalesce(jsonb_object_agg(n, coalesce(pg_catalog.pg_total_relation_size(to_regclass(n)), 0)), ''{}'')::text '
           'FROM unnest(%L::text[]) n', relations), true) AS r(v text);
  RETURN coalesce(sizes, '{}');
EXCEPTION WHEN OTHERS THEN
  RETURN '{}';
END
$fn$;

-- Citus's citus_job_status (13.x), with min() where Citus uses any_value() (PostgreSQL 16+).
CREATE OR REPLACE FUNCTION pg_catalog.citus_job_status(job_id bigint, raw boolean DEFAULT false)
RETURNS TABLE (job_id bigint, state pg_catalog.citus_job_status, job_type name, description text,
               started_at timestamptz, finished_at timestamptz, details jsonb)
LANGUAGE sql STRICT AS $fn$
  WITH rp AS MATERIALIZED (
    SELECT sessionid,
           sum(source_shard_size) AS source_shard_size,
           sum(target_shard_size) AS target_shard_size,
           min(status) AS status,
           min(sourcename) AS sourcename,
           min(sourceport) AS sourceport,
           min(targetname) AS targetname,
           min(targetport) AS targetport,
           max(source_lsn) AS source_lsn,
           min(target_lsn) AS target_lsn
      FROM pg_catalog.get_rebalance_progress()
     GROUP BY sessionid
  ),
  task_state_occurence_counts AS (
    SELECT t.status, count(task_id)
      FROM pg_catalog.pg_dist_background_job j
      JOIN pg_catalog.pg_dist_background_task t ON t.job_id = j.job_id
     WHERE j.job_id = $1
     GROUP BY t.status
  ),
  running_task_details AS (
    SELECT jsonb_agg(jsonb_build_object(
             'state', t.status,
             'retried', coalesce(t.retry_count, 0),
             'phase', rp.status,
             'size', jsonb_build_object('source', rp.source_shard_size, 'target', rp.target_shard_size),
             'hosts', jsonb_build_object('source', rp.sourcename || ':' || rp.sourceport,
                                         'target', rp.targetname || ':' || rp.targetport),
             'message', t.message,
             'command', t.command,
             'task_id', t.task_id) ||
           CASE WHEN ($2) THEN jsonb_build_object(
                  'size', jsonb_build_object('source', rp.source_shard_size, 'target', rp.target_shard_size),
                  'LSN', jsonb_build_object('source', rp.source_lsn, 'target', rp.target_lsn,
                                            'lag', rp.source_lsn - rp.target_lsn))
                ELSE jsonb_build_object(
                  'size', jsonb_build_object('source', pg_size_pretty(rp.source_shard_size),
                                             'target', pg_size_pretty(rp.target_shard_size)),
                  'LSN', jsonb_build_object('source', rp.source_lsn, 'target', rp.target_lsn,
                                            'lag', pg_size_pretty(rp.source_lsn - rp.target_lsn)))
           END) AS tasks
      FROM rp JOIN pg_catalog.pg_dist_background_task t ON rp.sessionid = t.pid
      JOIN pg_catalog.pg_dist_background_job j ON t.job_id = j.job_id
     WHERE j.job_id = $1 AND t.status = 'running'
  ),
  errored_or_retried_task_details AS (
    SELECT jsonb_agg(jsonb_build_object(
             'state', t.status,
             'retried', coalesce(t.retry_count, 0),
             'message', t.message,
             'command', t.command,
             'task_id', t.task_id)) AS tasks
      FROM pg_catalog.pg_dist_background_task t JOIN pg_catalog.pg_dist_background_job j ON t.job_id = j.job_id
     WHERE j.job_id = $1
       AND NOT EXISTS (SELECT 1 FROM rp WHERE rp.sessionid = t.pid)
       AND (t.status = 'error' OR (t.status = 'runnable' AND t.retry_count > 0))
  )
  SELECT job_id, state, job_type, description, started_at, finished_at,
         jsonb_build_object(
           'task_state_counts', (SELECT jsonb_object_agg(status, count) FROM task_state_occurence_counts),
           'tasks', (coalesce((SELECT tasks FROM running_task_details), '[]'::jsonb) ||
                     coalesce((SELECT tasks FROM errored_or_retried_task_details), '[]'::jsonb))) AS details
    FROM pg_catalog.pg_dist_background_job j
   WHERE j.job_id = $1
$fn$;

CREATE OR REPLACE FUNCTION pg_catalog.citus_rebalance_status(raw boolean DEFAULT false)
RETURNS TABLE (job_id bigint, state pg_catalog.citus_job_status, job_type name, description text,
               started_at timestamptz, finished_at timestamptz, details jsonb)
LANGUAGE sql STRICT AS $fn$
  SELECT job_status.*
    FROM pg_catalog.pg_dist_background_job j, pg_catalog.citus_job_status(j.job_id, $1) job_status
   WHERE j.job_id IN (SELECT job_id FROM pg_catalog.pg_dist_background_job
                       WHERE job_type = 'rebalance' ORDER BY job_id DESC LIMIT 1);
$fn$;

-- ---------------------------------------------------------------------------------------------
-- The rebalancer's API.

-- The plan a rebalance or drain works from, in a temporary table of the session.
CREATE OR REPLACE FUNCTION citus_compat.rebalance_plan_reset()
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  IF to_regclass('pg_temp.citus_compat_rb_plan') IS NULL THEN
    CREATE TEMP TABLE citus_compat_rb_plan (move_no int, shard_id bigint, source_node int, target_node int);
  END IF;
  TRUNCATE citus_compat_rb_plan;
END
$fn$;

CREATE OR REPLACE FUNCTION pg_catalog.citus_rebalance_start(
  rebalance_strategy name DEFAULT NULL, drain_only boolean DEFAULT false,
  shard_transfer_mode citus.shard_transfer_mode DEFAULT 'auto',
  parallel_transfer_reference_tables boolean DEFAULT false,
  parallel_transfer_colocated_shards boolean DEFAULT false)
RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  relations regclass[] := citus_compat.rebalance_relations();
  strategy pg_catalog.pg_dist_rebalance_strategy;
  moved regclass[];
  mv record;
  job bigint;
  task bigint;
  depends bigint[];
  last_in_colocation jsonb := '{}';
  from_source jsonb := '{}';
  scheduled int := 0;
BEGIN
  strategy := citus_compat.rebalance_strategy(rebalance_strategy);
  IF drain_only IS NULL THEN
    RAISE EXCEPTION 'drain_only cannot be NULL' USING ERRCODE = 'internal_error';
  END IF;
  IF shard_transfer_mode IS NULL THEN
    RAISE EXCEPTION 'shard_transfer_mode cannot be NULL' USING ERRCODE = 'internal_error';
  END IF;
  IF parallel_transfer_reference_tables IS NULL THEN
    RAISE EXCEPTION 'parallel_transfer_reference_tables cannot be NULL' USING ERRCODE = 'internal_error';
  END IF;
  IF parallel_transfer_colocated_shards IS NULL THEN
    RAISE EXCEPTION 'parallel_transfer_colocated_shards cannot be NULL' USING ERRCODE = 'internal_error';
  END IF;
  IF cardinality(relations) = 0 THEN
    RAISE NOTICE 'No tables to rebalance';
    RETURN NULL;
  END IF;
  PERFORM citus_compat.error_on_concurrent_rebalance(relations, CASE WHEN drain_only THEN 'move' ELSE 'rebalance' END);

  PERFORM citus_compat.rebalance_plan_reset();
  INSERT INTO citus_compat_rb_plan SELECT * FROM citus_compat.rebalance_plan(strategy, drain_only);
  IF NOT EXISTS (SELECT 1 FROM citus_compat_rb_plan) THEN
    RAISE NOTICE 'No moves available for rebalancing';
    RETURN NULL;
  END IF;
  IF shard_transfer_mode = 'auto' THEN
    SELECT array_agg(DISTINCT q.logicalrelid) INTO moved
      FROM citus_compat_rb_plan p
      JOIN pg_catalog.pg_dist_shard d ON d.shardid = p.shard_id
      JOIN pg_catalog.pg_dist_partition o ON o.logicalrelid = d.logicalrelid
      JOIN pg_catalog.pg_dist_partition q ON q.colocationid = o.colocationid;
    PERFORM citus_compat.ensure_replica_identity(moved);
  END IF;
  PERFORM citus_compat.cleanup_orphaned_resources();

  -- ScheduleBackgroundTask holds these until the end of the transaction
  LOCK TABLE pg_catalog.pg_dist_background_job, pg_catalog.pg_dist_background_task IN EXCLUSIVE MODE;
  INSERT INTO pg_catalog.pg_dist_background_job (job_type, description)
  VALUES ('rebalance', 'Rebalance all colocation groups') RETURNING pg_dist_background_job.job_id INTO job;

  -- a move waits for the previous move of its colocation group and for every earlier move
  -- away from its target node
  FOR mv IN SELECT p.*, o.colocationid FROM citus_compat_rb_plan p
              JOIN pg_catalog.pg_dist_shard d ON d.shardid = p.shard_id
              JOIN pg_catalog.pg_dist_partition o ON o.logicalrelid = d.logicalrelid
             ORDER BY p.move_no LOOP
    depends := ARRAY(SELECT DISTINCT x FROM unnest(
                 CASE WHEN parallel_transfer_colocated_shards THEN '{}'::bigint[]
                      ELSE ARRAY(SELECT (last_in_colocation ->> mv.colocationid::text)::bigint) END
                 || ARRAY(SELECT jsonb_array_elements_text(coalesce(from_source -> mv.target_node::text, '[]'))::bigint))
                 AS x WHERE x IS NOT NULL ORDER BY x);
    INSERT INTO pg_catalog.pg_dist_background_task (job_id, owner, status, command, nodes_involved)
    VALUES (job, current_user::regrole,
            CASE WHEN cardinality(depends) = 0 THEN 'runnable' ELSE 'blocked' END::pg_catalog.citus_task_status,
            format('SELECT pg_catalog.citus_move_shard_placement(%s,%s,%s,%L)',
                   mv.shard_id, mv.source_node, mv.target_node, shard_transfer_mode),
            ARRAY[mv.source_node, mv.target_node])
    RETURNING pg_dist_background_task.task_id INTO task;
    INSERT INTO pg_catalog.pg_dist_background_task_depend (job_id, task_id, depends_on)
    SELECT job, task, d FROM unnest(depends) d;
    last_in_colocation := last_in_colocation || jsonb_build_object(mv.colocationid::text, task);
    from_source := jsonb_set(from_source, ARRAY[mv.source_node::text],
                             coalesce(from_source -> mv.source_node::text, '[]') || to_jsonb(task));
    scheduled := scheduled + 1;
  END LOOP;

  RAISE NOTICE 'Scheduled % moves as job %', scheduled, job
    USING DETAIL = 'Rebalance scheduled as background job',
          HINT = 'To monitor progress, run: SELECT * FROM citus_rebalance_status();';
  RETURN job;
END
$fn$;
COMMENT ON FUNCTION pg_catalog.citus_rebalance_start(name, boolean, citus.shard_transfer_mode, boolean, boolean)
  IS 'rebalance the shards in the cluster in the background';

CREATE OR REPLACE FUNCTION pg_catalog.citus_rebalance_stop()
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  job bigint := citus_compat.non_terminal_job('rebalance');
BEGIN
  IF job IS NULL THEN
    RAISE EXCEPTION 'no ongoing rebalance that can be stopped' USING ERRCODE = 'internal_error';
  END IF;
  PERFORM pg_catalog.citus_job_cancel(job);
END
$fn$;
COMMENT ON FUNCTION pg_catalog.citus_rebalance_stop() IS 'stop a rebalance that is running in the background';

CREATE OR REPLACE FUNCTION pg_catalog.citus_rebalance_wait()
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  job bigint := citus_compat.non_terminal_job('rebalance');
BEGIN
  IF job IS NULL THEN
    RAISE WARNING 'no ongoing rebalance that can be waited on';
    RETURN;
  END IF;
  PERFORM pg_catalog.citus_job_wait(job);
END
$fn$;
COMMENT ON FUNCTION pg_catalog.citus_rebalance_wait() IS 'wait on a running rebalance in the background';

-- Synchronous: shouldhaveshards goes false in a session of its own, then the node's shards
-- move one by one, each in a session of its own, as Citus runs them.
CREATE OR REPLACE FUNCTION pg_catalog.citus_drain_node(
  nodename text, nodeport integer, shard_transfer_mode citus.shard_transfer_mode DEFAULT 'auto',
  rebalance_strategy name DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  strategy pg_catalog.pg_dist_rebalance_strategy;
  relations regclass[];
  drained pg_catalog.pg_dist_node;
  moved regclass[];
  mv record;
  responsive int[];
  n pg_catalog.pg_dist_node;
BEGIN
  IF $1 IS NULL THEN
    RAISE EXCEPTION 'nodename cannot be NULL' USING ERRCODE = 'internal_error';
  END IF;
  IF $2 IS NULL THEN
    RAISE EXCEPTION 'nodeport cannot be NULL' USING ERRCODE = 'internal_error';
  END IF;
  IF $3 IS NULL THEN
    RAISE EXCEPTION 'shard_transfer_mode cannot be NULL' USING ERRCODE = 'internal_error';
  END IF;
  strategy := citus_compat.rebalance_strategy($4);
  relations := citus_compat.rebalance_relations();
  drained := citus_compat.find_worker_node($1, $2);
  IF drained.nodeid IS NULL THEN
    RAISE EXCEPTION 'node %:% not found', $1, $2 USING ERRCODE = 'no_data_found';
  END IF;
  PERFORM citus_compat.loopback_exec(format(
    'SELECT pg_catalog.citus_set_node_property(%L, %s, ''shouldhaveshards'', false)', $1, $2));

  IF cardinality(relations) = 0 THEN
    RETURN;
  END IF;
  PERFORM citus_compat.error_on_concurrent_rebalance(relations, 'move');
  PERFORM citus_compat.rebalance_plan_reset();
  INSERT INTO citus_compat_rb_plan SELECT * FROM citus_compat.rebalance_plan(strategy, true, drained.nodeid);
  IF $3 = 'auto' THEN
    SELECT array_agg(DISTINCT q.logicalrelid) INTO moved
      FROM citus_compat_rb_plan p
      JOIN pg_catalog.pg_dist_shard d ON d.shardid = p.shard_id
      JOIN pg_catalog.pg_dist_partition o ON o.logicalrelid = d.logicalrelid
      JOIN pg_catalog.pg_dist_partition q ON q.colocationid = o.colocationid;
    IF moved IS NOT NULL THEN
      PERFORM citus_compat.ensure_replica_identity(moved);
    END IF;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM citus_compat_rb_plan) THEN
    RETURN;
  END IF;

  -- GetResponsiveWorkerList
  FOR n IN SELECT * FROM citus_compat.active_primaries() LOOP
    BEGIN
      PERFORM citus_compat.remote_query(n.nodeid, n.nodename, n.nodeport, 'SELECT 1');
      responsive := responsive || n.nodeid;
    EXCEPTION WHEN OTHERS THEN
      NULL;
    END;
  END LOOP;
  PERFORM citus_compat.loopback_exec('CALL pg_catalog.citus_cleanup_orphaned_resources()');
  FOR mv IN SELECT p.*, s.nodename AS source_name, s.nodeport AS source_port,
                   t.nodename AS target_name, t.nodeport AS target_port
              FROM citus_compat_rb_plan p
              JOIN pg_catalog.pg_dist_node s ON s.nodeid = p.source_node
              JOIN pg_catalog.pg_dist_node t ON t.nodeid = p.target_node
             ORDER BY p.move_no LOOP
    RAISE NOTICE 'Moving shard % from %:% to %:% ...', mv.shard_id, mv.source_name, mv.source_port,
      mv.target_name, mv.target_port;
    IF NOT mv.target_node = ANY (coalesce(responsive, '{}')) THEN
      RAISE EXCEPTION 'target node %:% is not responsive', mv.target_name, mv.target_port USING ERRCODE = 'internal_error';
    END IF;
    IF NOT mv.source_node = ANY (coalesce(responsive, '{}')) THEN
      RAISE EXCEPTION 'source node %:% is not responsive', mv.source_name, mv.source_port USING ERRCODE = 'internal_error';
    END IF;
    PERFORM citus_compat.loopback_exec(format('SELECT pg_catalog.citus_move_shard_placement(%s,%s,%s,%L)',
                                              mv.shard_id, mv.source_node, mv.target_node, $3));
  END LOOP;
END
$fn$;
COMMENT ON FUNCTION pg_catalog.citus_drain_node(text, integer, citus.shard_transfer_mode, name)
  IS 'mark a node to be drained of data and actually drain it as well';

-- ---------------------------------------------------------------------------------------------
-- The background task queue monitor's steps (run by scripts/standInSync.ts on the coordinator
-- primary, as Citus's maintenance daemon starts its monitor there).

-- At the monitor's start: tasks left running (by a monitor that died, or by the server this
-- one was promoted from) become runnable again; an executor still holding a task's lock is
-- terminated first.
CREATE OR REPLACE FUNCTION citus_compat.reset_running_background_tasks()
RETURNS int LANGUAGE plpgsql AS $fn$
DECLARE
  t record;
  reset int := 0;
BEGIN
  LOCK TABLE pg_catalog.pg_dist_background_task IN EXCLUSIVE MODE;
  FOR t IN SELECT x.task_id, x.pid FROM pg_catalog.pg_dist_background_task x
            WHERE x.status = 'running' ORDER BY x.task_id LOOP
    IF t.pid IS NOT NULL
       AND NOT pg_catalog.pg_try_advisory_xact_lock(citus_compat.lock_key('background task'), t.task_id::int) THEN
      PERFORM pg_catalog.pg_terminate_backend(t.pid);
      RAISE LOG 'waiting till all tasks release their lock before continuing with the background task monitor';
      PERFORM pg_catalog.pg_advisory_xact_lock(citus_compat.lock_key('background task'), t.task_id::int);
    END IF;
    UPDATE pg_catalog.pg_dist_background_task x SET status = 'runnable', pid = NULL WHERE x.task_id = t.task_id;
    reset := reset + 1;
  END LOOP;
  RETURN reset;
END
$fn$;

-- Claims the first runnable task (its not_before passed, every task it depends on done) and
-- marks it running in this backend; nothing while another session holds the task table
-- (a rebalance being scheduled) or when this server is not the coordinator primary.
CREATE OR REPLACE FUNCTION citus_compat.claim_background_task()
RETURNS TABLE (task_id bigint, job_id bigint, command text) LANGUAGE plpgsql AS $fn$
DECLARE
  t record;
BEGIN
  IF pg_catalog.pg_is_in_recovery() OR coalesce((SELECT max(groupid) FROM pg_catalog.pg_dist_local_group), 0) <> 0 THEN
    RETURN;
  END IF;
  BEGIN
    LOCK TABLE pg_catalog.pg_dist_background_task IN EXCLUSIVE MODE NOWAIT;
  EXCEPTION WHEN lock_not_available THEN
    RETURN;
  END;
  SELECT x.task_id, x.job_id, x.command INTO t FROM pg_catalog.pg_dist_background_task x
   WHERE x.status = 'runnable' AND (x.not_before IS NULL OR x.not_before <= clock_timestamp())
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_background_task_depend d
                       JOIN pg_catalog.pg_dist_background_task o ON o.task_id = d.depends_on
                      WHERE d.job_id = x.job_id AND d.task_id = x.task_id AND o.status <> 'done')
   ORDER BY x.task_id LIMIT 1
   FOR UPDATE OF x SKIP LOCKED;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  UPDATE pg_catalog.pg_dist_background_task x SET status = 'running', pid = pg_catalog.pg_backend_pid()
   WHERE x.task_id = t.task_id;
  PERFORM citus_compat.update_background_job(t.job_id);
  RAISE LOG 'task jobid/taskid started: %/%', t.job_id, t.task_id;
  task_id := t.task_id;
  job_id := t.job_id;
  command := t.command;
  RETURN NEXT;
END
$fn$;

-- Citus's retry schedule: 5 s, 20 s, then a minute, for 32 tries in all; -1 ends them.
CREATE OR REPLACE FUNCTION citus_compat.background_task_backoff_ms(retry_count int)
RETURNS bigint LANGUAGE sql IMMUTABLE STRICT AS $fn$
  SELECT CASE WHEN retry_count = 1 THEN 5000 WHEN retry_count = 2 THEN 20000
              WHEN retry_count <= 32 THEN 60000 ELSE -1 END
$fn$;

-- Runs a task this backend claimed, in this transaction, and records how it ended: done
-- (its dependants become runnable), cancelled (citus_job_cancel marked it cancelling), or an
-- error, retried after the backoff or, past the last try, error (its dependants unscheduled).
CREATE OR REPLACE FUNCTION citus_compat.run_background_task(task bigint)
RETURNS pg_catalog.citus_task_status LANGUAGE plpgsql AS $fn$
DECLARE
  t pg_catalog.pg_dist_background_task;
  failed boolean := false;
  affected bigint;
  task_message text;
  err_message text;
  err_detail text;
  err_hint text;
  retries int;
  delay bigint;
  outcome pg_catalog.citus_task_status;
BEGIN
  SELECT * INTO t FROM pg_catalog.pg_dist_background_task x WHERE x.task_id = task;
  IF NOT FOUND OR t.status <> 'running' OR t.pid IS DISTINCT FROM pg_catalog.pg_backend_pid() THEN
    RETURN NULL;
  END IF;
  IF NOT pg_catalog.pg_try_advisory_xact_lock(citus_compat.lock_key('background task'), task::int) THEN
    RAISE EXCEPTION 'unable to acquire background task lock for taskId: %', task USING ERRCODE = 'internal_error',
      DETAIL = 'this indicates that an other backend is already executing this task';
  END IF;
  BEGIN
    EXECUTE t.command;
    GET DIAGNOSTICS affected = ROW_COUNT;
    task_message := format(E'SELECT %s\n', affected);
  EXCEPTION WHEN query_canceled OR OTHERS THEN
    failed := true;
    GET STACKED DIAGNOSTICS err_message = MESSAGE_TEXT, err_detail = PG_EXCEPTION_DETAIL, err_hint = PG_EXCEPTION_HINT;
    task_message := concat('ERROR: ', err_message,
                      E'\nDETAIL: ' || nullif(err_detail, ''), E'\nHINT: ' || nullif(err_hint, ''),
                      format(E'\nCONTEXT: Citus Background Task Queue Executor: %s/%s for (%s/%s)',
                             current_database(), t.owner, t.job_id, t.task_id), E'\n');
  END;

  -- a concurrent citus_job_cancel may have marked it (its lock makes this wait for its commit)
  SELECT * INTO t FROM pg_catalog.pg_dist_background_task x WHERE x.task_id = task FOR UPDATE;
  IF t.status = 'cancelling' THEN
    outcome := 'cancelled';
    RAISE LOG 'task jobid/taskid is cancelled: %/%', t.job_id, t.task_id;
  ELSIF NOT failed THEN
    outcome := 'done';
    RAISE LOG 'task jobid/taskid succeeded: %/%', t.job_id, t.task_id;
  ELSE
    RAISE LOG 'task jobid/taskid failed: %/%', t.job_id, t.task_id;
    retries := coalesce(t.retry_count, 0) + 1;
    delay := citus_compat.background_task_backoff_ms(retries);
    outcome := CASE WHEN delay < 0 THEN 'error' ELSE 'runnable' END;
  END IF;
  UPDATE pg_catalog.pg_dist_background_task x
     SET status = outcome, pid = NULL, message = coalesce(task_message, ''),
         retry_count = coalesce(retries, x.retry_count),
         not_before = CASE WHEN outcome = 'runnable' THEN clock_timestamp() + delay * interval '1 millisecond'
                           WHEN outcome = 'error' THEN NULL ELSE x.not_before END
   WHERE x.task_id = task;

  IF outcome = 'done' THEN
    UPDATE pg_catalog.pg_dist_background_task o SET status = 'runnable'
     WHERE o.job_id = t.job_id AND o.status = 'blocked'
       AND o.task_id IN (SELECT d.task_id FROM pg_catalog.pg_dist_background_task_depend d
                          WHERE d.job_id = t.job_id AND d.depends_on = task)
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_background_task_depend d
                         JOIN pg_catalog.pg_dist_background_task x ON x.task_id = d.depends_on
                        WHERE d.job_id = o.job_id AND d.task_id = o.task_id AND x.status <> 'done');
  ELSIF outcome = 'error' THEN
    WITH RECURSIVE dependants (task_id) AS (
      SELECT d.task_id FROM pg_catalog.pg_dist_background_task_depend d
       WHERE d.job_id = t.job_id AND d.depends_on = task
      UNION
      SELECT d.task_id FROM pg_catalog.pg_dist_background_task_depend d
        JOIN dependants p ON d.depends_on = p.task_id
       WHERE d.job_id = t.job_id)
    UPDATE pg_catalog.pg_dist_background_task o SET status = 'unscheduled'
     WHERE o.task_id IN (SELECT dependants.task_id FROM dependants);
  END IF;
  PERFORM citus_compat.update_background_job(t.job_id);
  RETURN outcome;
END
$fn$;

-- ---------------------------------------------------------------------------------------------
-- Test helpers: "the application writing through the coordinator" to a distributed table.

-- A write of one distribution key, routed to its shard's placement. It takes the shard's lock
-- in shared mode first (so it waits while a move of that shard holds it, then reads where the
-- placement is now), then the group's lock shared as routed_write does (so pauses fence it).
-- The statement is a format() string whose %s becomes the shard's table name; returns the
-- affected rows.
CREATE OR REPLACE FUNCTION citus_compat.dist_exec(relation regclass, dist_key bigint, statement text)
RETURNS bigint LANGUAGE plpgsql STRICT AS $fn$
DECLARE
  shard bigint := citus_compat.shard_for_hash(relation, citus_compat.hash_key(relation, dist_key));
  group_id int;
  target pg_catalog.pg_dist_node;
  status text;
BEGIN
  IF shard IS NULL THEN
    RAISE EXCEPTION 'could not find shard for partition column value' USING ERRCODE = 'internal_error';
  END IF;
  PERFORM pg_catalog.pg_advisory_xact_lock_shared(citus_compat.lock_key('shard'), shard::int);
  SELECT x.groupid INTO group_id FROM pg_catalog.pg_dist_placement x WHERE x.shardid = shard AND x.shardstate = 1
   ORDER BY x.placementid LIMIT 1;
  PERFORM pg_catalog.pg_advisory_xact_lock_shared(citus_compat.group_lock_key(), group_id);
  target := citus_compat.group_primary(group_id);
  status := dblink_exec(citus_compat.node_conninfo(target.nodeid, target.nodename, target.nodeport),
                        format(statement, pg_catalog.shard_name(relation, shard)), true);
  RETURN coalesce(substring(status FROM '(\d+)$')::bigint, 0);
END
$fn$;

-- A read of every shard where its placement is now, without locks (reads never wait): the
-- format() query (its %s the shard's table name) on each placement, one JSON object a row.
CREATE OR REPLACE FUNCTION citus_compat.dist_query(relation regclass, query text)
RETURNS SETOF json LANGUAGE plpgsql STRICT AS $fn$
DECLARE
  g record;
  target pg_catalog.pg_dist_node;
BEGIN
  FOR g IN SELECT x.groupid,
                  string_agg(format('SELECT row_to_json(q)::text FROM (%s) q',
                                    format(query, pg_catalog.shard_name(relation, d.shardid))),
                             ' UNION ALL ' ORDER BY d.shardid) AS sql
             FROM pg_catalog.pg_dist_shard d JOIN pg_catalog.pg_dist_placement x USING (shardid)
            WHERE d.logicalrelid = relation AND x.shardstate = 1
            GROUP BY x.groupid ORDER BY x.groupid LOOP
    target := citus_compat.group_primary(g.groupid);
    RETURN QUERY SELECT r.j::json FROM dblink(
      citus_compat.node_conninfo(target.nodeid, target.nodename, target.nodeport), g.sql, true) AS r(j text);
  END LOOP;
END
$fn$;

REVOKE ALL ON FUNCTION pg_catalog.citus_drain_node(text, integer, citus.shard_transfer_mode, name) FROM PUBLIC;

-- Functions that call dblink resolve it wherever the extension lives (it may predate us).
DO $install$
DECLARE
  dblink_schema text;
  fn text;
BEGIN
  SELECT n.nspname INTO dblink_schema FROM pg_catalog.pg_extension e
    JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
   WHERE e.extname = 'dblink';
  FOREACH fn IN ARRAY ARRAY[
    'citus_compat.start_lock_helper(int)', 'citus_compat.stop_lock_helper(text)',
    'citus_compat.remote_exec(int, text, int, text)',
    'citus_compat.routed_write(integer, text)', 'citus_compat.routed_read(integer, text)',
    'citus_compat.remote_query(int, text, int, text)', 'citus_compat.dist_exec(regclass, bigint, text)',
    'citus_compat.dist_query(regclass, text)',
    'citus_compat.remote_relation_sizes(pg_catalog.pg_dist_node, text[])'] LOOP
    EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, %I', fn, dblink_schema);
  END LOOP;
END
$install$;

COMMIT;
