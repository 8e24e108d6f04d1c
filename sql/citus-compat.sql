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
-- One difference: a remote apply runs in the worker's own transaction (dblink cannot join a
-- two-phase commit), so a coordinator ROLLBACK after a successful remote apply leaves that
-- worker's copy ahead of the coordinator until its next sync (the next citus_update_node).

BEGIN;

-- Two installers racing in one database would otherwise collide on CREATE TYPE and friends.
SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('shardherd citus-compat install'));

-- Creating relations in pg_catalog is refused unless this is on (superuser only, this txn only).
SET LOCAL allow_system_table_mods = on;

CREATE SCHEMA IF NOT EXISTS citus_compat;
COMMENT ON SCHEMA citus_compat IS 'Shardherd stand-in for Citus: test helpers (routed writes)';
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
RETURNS text LANGUAGE sql IMMUTABLE AS $fn$ SELECT '1.0' $fn$;
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
-- its local group, as Citus's metadata sync and node activation do.
CREATE OR REPLACE FUNCTION citus_compat.metadata_snapshot_command(group_id int)
RETURNS text LANGUAGE sql STABLE AS $fn$
  SELECT format(
    'DELETE FROM pg_catalog.pg_dist_node; '
    'INSERT INTO pg_catalog.pg_dist_node '
    'SELECT * FROM json_populate_recordset(NULL::pg_catalog.pg_dist_node, %L); '
    'UPDATE pg_catalog.pg_dist_local_group SET groupid = %s',
    coalesce((SELECT json_agg(n ORDER BY n.nodeid) FROM pg_catalog.pg_dist_node n), '[]'::json),
    group_id)
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

CREATE OR REPLACE FUNCTION pg_catalog.citus_remove_node(nodename text, nodeport integer)
RETURNS void LANGUAGE plpgsql STRICT AS $fn$
DECLARE
  target pg_catalog.pg_dist_node;
BEGIN
  target := citus_compat.modifiable_node($1, $2);
  PERFORM citus_compat.ensure_transactional_sync_mode();
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
    'citus_compat.routed_write(integer, text)', 'citus_compat.routed_read(integer, text)'] LOOP
    EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, %I', fn, dblink_schema);
  END LOOP;
END
$install$;

COMMIT;
