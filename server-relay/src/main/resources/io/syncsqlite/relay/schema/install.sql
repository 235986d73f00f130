-- The relay's objects in PostgreSQL (docs/DESIGN.md, "PostgreSQL side"). Idempotent: SchemaInstaller
-- runs this on every start, inside one transaction that holds an advisory lock, so relays starting at
-- the same time do not race on CREATE ... IF NOT EXISTS. Per-table triggers are created by
-- SchemaInstaller itself, because they need each table's primary key columns.

CREATE SCHEMA IF NOT EXISTS syncsqlite;

-- This script runs at every relay start and whenever a relay's watcher sees the schema change, while
-- clients and applications write. So once the objects exist it must take no lock on them: ALTER TABLE ...
-- ADD COLUMN IF NOT EXISTS locks the table ACCESS EXCLUSIVE and CREATE INDEX IF NOT EXISTS locks it SHARE even
-- when there is nothing to do, and such an install waited behind every long reader (a snapshot, a history
-- read) and open writer, while every writer of every synced table waited behind it (SchemaInstallTest).
-- Columns and indexes added since a table was first created go through these two, which look first.
CREATE OR REPLACE FUNCTION syncsqlite.add_column(tbl regclass, col name, coltype text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                   WHERE a.attrelid = tbl AND a.attname = col AND NOT a.attisdropped) THEN
        EXECUTE format('ALTER TABLE %s ADD COLUMN %I %s', tbl, col, coltype);
    END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION syncsqlite.add_index(idx text, definition text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    IF to_regclass('syncsqlite.' || quote_ident(idx)) IS NULL THEN
        EXECUTE format('CREATE INDEX %I ON %s', idx, definition);
    END IF;
END
$fn$;
-- The install's own helpers: writers of synced tables (who have USAGE on the schema) have no use for them.
REVOKE ALL ON FUNCTION syncsqlite.add_column(regclass, name, text), syncsqlite.add_index(text, text) FROM PUBLIC;

-- Merge clocks: the existence clock of a row and an [hlc, node] per column written since the row was
-- created; a column without one has the existence clock (a new row stores cols = '{}').
-- pk is the text of the key's jsonb object, numeric key values trimmed of trailing zeros (clock_key below,
-- Sql.clockKey): every relay transaction and every direct write looks keys up here, and a byte comparison
-- of text costs about a quarter less per lookup than comparing jsonb (docs/BENCHMARKS.md). Earlier
-- versions stored jsonb; the block after clock_key converts such a table.
CREATE TABLE IF NOT EXISTS syncsqlite.row_clock (
    tbl        text    NOT NULL,
    pk         text    COLLATE "C" NOT NULL,
    alive      boolean NOT NULL,
    alive_hlc  bigint  NOT NULL,
    alive_node text    NOT NULL,
    cols       jsonb   NOT NULL DEFAULT '{}',
    PRIMARY KEY (tbl, pk)
);

-- Full row images written by the capture trigger (and by the relay for rows its merge left unchanged).
CREATE TABLE IF NOT EXISTS syncsqlite.change (
    id    bigserial PRIMARY KEY,
    xid   xid8      NOT NULL DEFAULT pg_current_xact_id(),
    tbl   text      NOT NULL,
    kind  char(1)   NOT NULL CHECK (kind IN ('U', 'D')),
    pk    jsonb     NOT NULL,
    "row" jsonb,
    hlc   bigint    NOT NULL
);
SELECT syncsqlite.add_index('change_xid_idx', 'syncsqlite.change (xid)');
-- The previous values of a row's scoped columns (see scoped_column): for a 'D' all of them, for a 'U'
-- of an existing row those that changed ('{}' if none); NULL for a new row or a table with none. A 'D'
-- with '{}' is logged by the relay for a key that had no row (TableStatements.logCurrent).
SELECT syncsqlite.add_column('syncsqlite.change', 'old', 'jsonb');

-- For a deleted row, the previous values of its scoped columns (as change.old logs them): under a
-- per-user scope a tombstone stops only the inserts of users who could see the deleted row, so a user
-- cannot cancel another user's inserts of a key by creating and deleting it first. NULL when the table
-- has no scoped columns (the tombstone then stops every older insert).
SELECT syncsqlite.add_column('syncsqlite.row_clock', 'dead_old', 'jsonb');
-- For a row deleted since this column exists, its last image (NULL while the row is alive). A child that
-- arrives for a deleted parent restores the parent from it (Compensation): finding the image in the change
-- log instead meant scanning the whole log, which has no index by key (0.36 s per restore at 1.1M change
-- rows, under the transaction's locks), and found nothing once retention had pruned it.
SELECT syncsqlite.add_column('syncsqlite.row_clock', 'dead_row', 'jsonb');
-- When and by whom a live row was created: the transaction (and node) that took the key from absent to
-- present, kept while the row lives (an insert onto it, an update, a lost write leave it). A client's
-- delete leaves the rows below the deleted one that were created after the position its writer had seen
-- (CascadeGuard); commit_log maps the transaction to that position. NULL for rows from before the column.
SELECT syncsqlite.add_column('syncsqlite.row_clock', 'born', 'xid8');
SELECT syncsqlite.add_column('syncsqlite.row_clock', 'born_node', 'text');
-- When and by whom a live row moved under another parent, per foreign key column: {"col": ["xid", "node"]}
-- for each column of a foreign key that acts on delete that an update set to another value (not NULL), the
-- latest move of each. CascadeGuard counts a row moved under the deleted parent after the deleting writer's
-- position, through that key's columns, as unseen, as it does a row created there. Cleared when the row is
-- created again. NULL for a row never moved.
SELECT syncsqlite.add_column('syncsqlite.row_clock', 'moved', 'jsonb');
-- Whether a tombstone's row went with another row in a client's transaction (ON DELETE CASCADE, a trigger,
-- or CascadeGuard acting for its parent's delete) rather than by a delete of its own: a concurrent update
-- that moves such a row under another parent brings it back (TxRun), as it would have taken it away first
-- in the other order. NULL for direct deletes, which cannot tell (a trigger fired by a cascade runs at the
-- same depth as one fired by the statement): for those the relay looks, when such an update comes, for the
-- parent's delete in the transaction that deleted the row (dead_xid, through the change log's xid index).
SELECT syncsqlite.add_column('syncsqlite.row_clock', 'cascaded', 'boolean');
-- The transaction that deleted the row last (written by every delete; stale while the row is alive).
SELECT syncsqlite.add_column('syncsqlite.row_clock', 'dead_xid', 'xid8');

-- Columns that per-user scopes of some relay depend on (a relay with --scopes registers them). The feed
-- needs their previous values to remove a row from the clients whose scope it leaves.
CREATE TABLE IF NOT EXISTS syncsqlite.scoped_column (
    tbl text NOT NULL,
    col text NOT NULL,
    PRIMARY KEY (tbl, col)
);

-- Commits retention took out of commit_log whose change rows are still being deleted, in batches
-- (Retention): readers reach change rows only through commit_log, so the rows are gone for them already.
CREATE TABLE IF NOT EXISTS syncsqlite.pruned (
    xid xid8 PRIMARY KEY
);

-- One row per committed transaction that touched a synced table, numbered in commit order.
CREATE TABLE IF NOT EXISTS syncsqlite.commit_log (
    seq          bigint      PRIMARY KEY,
    xid          xid8        NOT NULL UNIQUE,
    committed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- The twenty-third session's version wrote a row here per truncating transaction, for the commit-mark trigger it
-- had on each synced table; that trigger is now on syncsqlite.change (SchemaInstaller.createCommit), which a
-- truncate's logged deletes reach like any other capture.
DROP TABLE IF EXISTS syncsqlite.truncation;

-- Idempotent apply: the last client transaction applied per node and its feed position.
CREATE TABLE IF NOT EXISTS syncsqlite.client (
    node        text   PRIMARY KEY,
    applied_tx  bigint NOT NULL DEFAULT 0,
    applied_seq bigint NOT NULL DEFAULT 0
);
-- With per-user scopes: the digest of the scope the client last fully holds (Scope.digest()).
SELECT syncsqlite.add_column('syncsqlite.client', 'scope_digest', 'text');
-- The feed position of the snapshot through which the client holds that scope: a hello with an older cursor (a
-- restored file, or a client that lies) is resynced, since catching up from there replayed commits filtered by
-- today's scope, versions of rows from before the user could see them among them. NULL for digests stored before.
SELECT syncsqlite.add_column('syncsqlite.client', 'scope_from', 'bigint');
-- With authentication: the token subject that first used the node id; no other user may use it (their
-- pushes could make the owner's transaction ids look applied, and their scope would replace the owner's).
SELECT syncsqlite.add_column('syncsqlite.client', 'subject', 'text');
-- The clock of every transaction applied (or rejected) for a node, by id, for the last 100,000 ids: a
-- transaction at or below applied_tx is a resend only with the clock it was applied with; another comes
-- from a copy of the node's file (NodeCopies, ClockHistory). clocks_from is the first id from which every
-- applied transaction has its clock here (a relay from before this table moves applied_tx without one).
CREATE TABLE IF NOT EXISTS syncsqlite.client_tx (
    node text   NOT NULL,
    tx   bigint NOT NULL,
    hlc  bigint NOT NULL,
    PRIMARY KEY (node, tx)
);
SELECT syncsqlite.add_column('syncsqlite.client', 'clocks_from', 'bigint');

CREATE SEQUENCE IF NOT EXISTS syncsqlite.commit_seq;

-- Tables whose capture was just installed: the rows they already held still have to reach the feed
-- (SchemaInstaller.backfillPending).
-- Rejections of client transactions, repeated in the welcome: one whose answer was lost with the
-- connection would otherwise be settled by the client as accepted, its application never told.
CREATE TABLE IF NOT EXISTS syncsqlite.rejection (
    node      text        NOT NULL,
    tx        bigint      NOT NULL,
    sql_state text        NOT NULL,
    reason    text        NOT NULL,
    "current" jsonb       NOT NULL,
    at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (node, tx)
);

CREATE TABLE IF NOT EXISTS syncsqlite.backfill (
    tbl   text        PRIMARY KEY,
    since timestamptz NOT NULL DEFAULT now()
);

-- Whether a type is numeric or a domain over it (at any depth): the one rule for which key columns are
-- trimmed (capture_rows, SchemaIntrospector for Sql.clockKey), so both sides make the same text.
CREATE OR REPLACE FUNCTION syncsqlite.numeric_based(t oid) RETURNS boolean
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $fn$
    WITH RECURSIVE d(oid, typtype, typbasetype) AS (
        SELECT p.oid, p.typtype, p.typbasetype FROM pg_catalog.pg_type AS p WHERE p.oid = t
        UNION ALL
        SELECT p.oid, p.typtype, p.typbasetype FROM pg_catalog.pg_type AS p JOIN d ON p.oid = d.typbasetype
        WHERE d.typtype = 'd')
    SELECT coalesce(bool_or(d.oid = 'pg_catalog.numeric'::pg_catalog.regtype), false) FROM d
$fn$;

-- A key's text in row_clock, from its jsonb object: every number trimmed of trailing zeros, as jsonb had
-- 1.5 and 1.50 equal. The capture trigger calls it only for tables with a numeric-based key column (a SQL
-- function with a subquery costs microseconds per call); other keys are the object's text as it is. It
-- trims every top-level number, which for any key is what the per-column rule gives: only numeric
-- values can carry trailing zeros (integers have no fraction, float8 text is the shortest that reads back).
CREATE OR REPLACE FUNCTION syncsqlite.clock_key(k jsonb) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
    SELECT jsonb_object_agg(e.key, CASE WHEN jsonb_typeof(e.value) = 'number'
                                        THEN to_jsonb(trim_scale(e.value::numeric)) ELSE e.value END)::text
    FROM jsonb_each(k) AS e
$fn$;

-- Earlier versions kept row_clock.pk as jsonb. Converted under the install lock, in the install's
-- transaction: the rewrite holds row_clock exclusively until the relay has replaced the capture triggers
-- too (SchemaInstaller), so no writer sees half of it. Keys equal as jsonb stay equal as text (clock_key),
-- so the primary key rebuilds without conflicts.
DO $do$
BEGIN
    IF (SELECT a.atttypid FROM pg_attribute AS a
        WHERE a.attrelid = 'syncsqlite.row_clock'::regclass AND a.attname = 'pk') = 'jsonb'::regtype THEN
        ALTER TABLE syncsqlite.row_clock ALTER COLUMN pk TYPE text COLLATE "C"
            USING CASE WHEN strpos(pk::text, '.') > 0 THEN syncsqlite.clock_key(pk) ELSE pk::text END;
    END IF;
END
$do$;

-- The newest timestamp among a row's clocks, for reading by hand. The relay's own statements do not call
-- it: a SQL function with a subquery is not inlined, and with jsonb_each it cost 2-5 us per row (two
-- thirds of a snapshot's database time). They look up each of the table's columns in cols instead
-- (Sql.rowHlc; capture_rows() likewise with unnest), 0.2-0.6 us; an entry of a dropped column no longer counts,
-- which nothing needs: it clocks a value that no longer exists.
CREATE OR REPLACE FUNCTION syncsqlite.row_hlc(p_alive_hlc bigint, p_cols jsonb) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT greatest(p_alive_hlc, (SELECT max((e.value ->> 0)::bigint) FROM jsonb_each(p_cols) AS e))
$fn$;

-- Earlier versions' capture looked a direct write's clock up with this; it is now decided in the
-- clock upserts of capture_rows() (see there).
DROP FUNCTION IF EXISTS syncsqlite.direct_hlc(text, jsonb);

-- Draws the next feed position for the current transaction, once per transaction.
-- The advisory lock is held until the transaction has committed and become visible (PostgreSQL
-- releases locks after that), so seq S+1 can only be drawn once the holder of S is visible: a reader of
-- "seq > cursor ORDER BY seq" never skips a commit that becomes visible later.
CREATE OR REPLACE FUNCTION syncsqlite.commit_mark() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    done text := current_setting('syncsqlite.seq', true);
    s    bigint;
BEGIN
    IF done IS NOT NULL AND done <> '' THEN
        RETURN done::bigint;
    END IF;
    PERFORM pg_advisory_xact_lock(8320803159961332737); -- 0x7379_6E63_7371_6C01: "syncsql" 1
    s := nextval('syncsqlite.commit_seq');
    INSERT INTO syncsqlite.commit_log (seq, xid, committed_at) VALUES (s, pg_current_xact_id(), clock_timestamp());
    PERFORM set_config('syncsqlite.seq', s::text, true);
    PERFORM pg_notify('syncsqlite_feed', s::text);
    RETURN s;
END
$fn$;

-- Deferred constraint trigger body: marks the commit of any transaction that wrote a synced table.
-- The trigger's WHEN clause (SchemaInstaller) queues it for the first written row of a transaction only,
-- so it normally runs once; it still checks the mark, because a relay transaction (or SET CONSTRAINTS
-- ... IMMEDIATE followed by more writes) may have drawn it already.
CREATE OR REPLACE FUNCTION syncsqlite.commit_mark_trigger() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF coalesce(current_setting('syncsqlite.seq', true), '') = '' THEN
        PERFORM syncsqlite.commit_mark();
    END IF;
    RETURN NULL;
END
$fn$;

-- The keys among p_keys (key objects, as capture makes them) that a row of rel has now, or NULL. Dynamic, as the
-- capture's static queries cannot name the table; by the key columns, so the key's index answers.
CREATE OR REPLACE FUNCTION syncsqlite.keys_present(rel regclass, pkcols text[], p_keys jsonb[]) RETURNS jsonb[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    found jsonb[];
BEGIN
    -- Each key column compared with its value cast from the key object's text, not through a record of the whole
    -- table (jsonb_populate_record), which put NULL through every other column's type: a NOT NULL domain refused it,
    -- and with it the application's statement (TodayFourthReviewTest).
    EXECUTE format('SELECT array_agg(k.pk) FROM unnest($1) AS k(pk) WHERE EXISTS (SELECT FROM ONLY %s AS t WHERE %s)', rel,
                   (SELECT string_agg(format('t.%1$I = (k.pk ->> %2$L)::%3$s', a.attname, a.attname::text,
                                             format_type(a.atttypid, a.atttypmod)), ' AND ')
                    FROM pg_attribute AS a
                    WHERE a.attrelid = rel AND a.attname::text = ANY (pkcols) AND a.attnum > 0 AND NOT a.attisdropped))
    INTO found USING p_keys;
    RETURN found;
END
$fn$;

-- Capture, set-based: one call per statement and event (AFTER INSERT / UPDATE / DELETE ... FOR EACH
-- STATEMENT with transition tables syncsqlite_new / syncsqlite_old). Trigger arguments: the table's
-- primary key column names.
-- Every written row is logged into change: 'U' with the full new image, 'D' for a key that is gone. An
-- UPDATE pairs old and new rows by key: an old key no new row has is a 'D' (logged before the 'U's), a
-- new row is a 'U'; so a key change is a 'D' of the old key plus a 'U' of the new one.
-- Relay mode (the relay did SET LOCAL syncsqlite.hlc/node): rows are logged with the client's HLC; only
-- deletes are stamped here (that covers ON DELETE CASCADE children), the relay stamps the columns it
-- writes itself. Direct mode: the clocks of what changed are stamped with node '~pg' and the HLC
-- greatest(now, the row's newest clock + 1), per row: INSERT stamps existence (which every column then
-- has, cols '{}'), UPDATE
-- the columns whose value changed (a new key: existence and every column), DELETE existence (dead).
-- It runs in time zone UTC, as the relay's connections do: a timestamptz becomes text in the writer's zone,
-- so a key written from psql in another zone would otherwise get another key text (a second clock row, a
-- second row on clients) than the same key written through the relay.
-- PL/pgSQL plans each statement below once per session, for the size its transition table had then (the queries
-- have no parameters to re-plan for), and uses that plan for every later statement of the session, whatever its
-- size. Two settings keep that plan fit for any size:
-- - enable_nestloop = off: a plan made for a one-row statement joined the transition tables' rows by nested loops,
--   so a 10,000-row UPDATE later on the same connection (a pool's, psql's) took 20 s instead of 0.3 s;
-- - jit = off: a plan made for a 10,000-row statement is estimated costly enough to be JIT-compiled on every
--   execution, 0.5 s for each one-row statement after it (and 1 s of the big one's own), where the queries run in
--   1-3 ms. Measured in BENCHMARKS.md, "Direct PostgreSQL writes: plans for any size".
CREATE OR REPLACE FUNCTION syncsqlite.capture_rows() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC'
SET enable_nestloop = off SET jit = off AS $fn$
DECLARE
    -- TG_TABLE_NAME is of type name: compared with row_clock.tbl (text) it would cost the primary key
    -- index and turn every clock lookup into a sequential scan.
    tname      text    := TG_TABLE_NAME;
    relay_hlc  text    := current_setting('syncsqlite.hlc', true);
    relay_mode boolean := relay_hlc IS NOT NULL AND relay_hlc <> '';
    h          bigint;
    node       text;
    now_hlc    bigint;
    -- The key of a row image is the image minus every other column (one operator per row).
    nonpk      text[];
    -- Every column: a row's newest clock is the newest of their entries in its clocks (see row_hlc),
    -- looked up one by one in a narrow table; a wide one walks the clocks instead, as hundreds of lookups
    -- per row cost more than one jsonb_each.
    allcols    text[];
    wide       boolean;
    -- Columns whose previous values are logged (syncsqlite.scoped_column); NULL when none.
    scols      text[];
    -- Whether a key column is numeric or a domain over it: its clock key is then normalised (clock_key),
    -- else it is the text of the key object, as Sql.clockKey makes it.
    numkey     boolean;
    -- UPDATE only: the columns of the table's foreign keys that act on delete (cascade, set null, set
    -- default); NULL when none. A row whose value in one changes moves under another parent (row_clock.moved).
    fkcols     text[];
    mkey       text;
    mmoved     jsonb;
    -- UPDATE only: whether a foreign key of the table to itself acts on update (see there).
    twice      boolean;
    -- DELETE and UPDATE, direct writes only: keys this statement frees that a row has again (see there); NULL when none.
    retaken    jsonb[];
    -- TRUNCATE only: a key column's sequence, and its value before a RESTART IDENTITY (see there).
    seq        text;
    seqfloor   bigint;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        -- INSERT ... ON CONFLICT DO UPDATE fires the statement's UPDATE triggers too, also when it updated
        -- nothing (every relay insert): nothing to log, and nothing to read the catalog for.
        IF NOT EXISTS (SELECT FROM syncsqlite_new) AND NOT EXISTS (SELECT FROM syncsqlite_old) THEN
            RETURN NULL;
        END IF;
    END IF;
    SELECT coalesce(array_agg(a.attname::text) FILTER (WHERE a.attname::text <> ALL (TG_ARGV)), '{}'),
           array_agg(a.attname::text),
           coalesce(bool_or(a.attname::text = ANY (TG_ARGV) AND (a.atttypid = 'numeric'::regtype
                            OR (ty.typtype = 'd' AND syncsqlite.numeric_based(a.atttypid)))), false)
    INTO nonpk, allcols, numkey FROM pg_attribute AS a JOIN pg_type AS ty ON ty.oid = a.atttypid
    WHERE a.attrelid = TG_RELID AND a.attnum > 0 AND NOT a.attisdropped;
    wide := cardinality(allcols) > 64;
    IF TG_OP <> 'INSERT' THEN
        SELECT array_agg(sc.col) INTO scols FROM syncsqlite.scoped_column AS sc WHERE sc.tbl = tname;
    END IF;
    IF relay_mode THEN
        h := relay_hlc::bigint;
        node := current_setting('syncsqlite.node', true);
    ELSE
        now_hlc := floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint << 16;
    END IF;

    IF TG_OP = 'INSERT' THEN
        IF relay_mode THEN
            INSERT INTO syncsqlite.change (tbl, kind, pk, "row", hlc)
            SELECT tname, 'U', n.img - nonpk, n.img, h FROM (SELECT to_jsonb(r.*) AS img FROM syncsqlite_new AS r) AS n;
            RETURN NULL;
        END IF;
        -- A new row: every column has the existence clock, so no column needs an entry of its own. The
        -- clock is decided in the upsert itself (a key with a clock row, e.g. a tombstone, orders after
        -- it) and logged from its RETURNING: a separate lookup per key before it cost a fifth of a direct
        -- insert.
        WITH n AS MATERIALIZED (
            SELECT k.img, k.pk, CASE WHEN numkey THEN syncsqlite.clock_key(k.pk) ELSE k.pk::text END AS ck, k.ord
            FROM (SELECT i.img, i.img - nonpk AS pk, i.ord
                  FROM (SELECT to_jsonb(r.*) AS img, row_number() OVER () AS ord FROM syncsqlite_new AS r) AS i) AS k),
        clock AS (
            INSERT INTO syncsqlite.row_clock AS rc (tbl, pk, alive, alive_hlc, alive_node, cols, born, born_node)
            SELECT tname, n.ck, true, now_hlc, '~pg', '{}', pg_current_xact_id(), '~pg' FROM n
            ON CONFLICT (tbl, pk) DO UPDATE
                SET born = CASE WHEN rc.alive THEN rc.born ELSE excluded.born END,
                    born_node = CASE WHEN rc.alive THEN rc.born_node ELSE excluded.born_node END,
                    alive = true,
                    alive_hlc = greatest(excluded.alive_hlc, 1 + CASE
                        WHEN rc.cols = '{}' THEN rc.alive_hlc
                        WHEN wide THEN greatest(rc.alive_hlc, (SELECT max((c.value ->> 0)::bigint) FROM jsonb_each(rc.cols) AS c
                                                               WHERE c.key = ANY (allcols)))
                        ELSE greatest(rc.alive_hlc, (SELECT max((rc.cols -> k ->> 0)::bigint) FROM unnest(allcols) AS k)) END),
                    alive_node = excluded.alive_node, cols = '{}', dead_row = NULL,
                    moved = CASE WHEN rc.alive THEN rc.moved END
            RETURNING rc.pk, rc.alive_hlc)
        INSERT INTO syncsqlite.change (tbl, kind, pk, "row", hlc)
        SELECT tname, 'U', n.pk, n.img, clock.alive_hlc FROM n JOIN clock ON clock.pk = n.ck ORDER BY n.ord;
        RETURN NULL;
    END IF;

    IF TG_OP = 'TRUNCATE' AND TG_WHEN = 'AFTER' THEN
        -- TRUNCATE ... RESTART IDENTITY rewinds the key's sequence, from which the relay grants client keys
        -- (KeyAllocator): later direct inserts would take keys devices hold (TodayFourthReviewTest). Its value from
        -- before (the BEFORE trigger's, below) is put back.
        FOR seq IN SELECT pg_get_serial_sequence(TG_RELID::regclass::text, k) FROM unnest(TG_ARGV) AS k LOOP
            seqfloor := nullif(current_setting('syncsqlite.floor_' || seq::regclass::oid, true), '')::bigint;
            IF seqfloor > 0 AND coalesce(pg_sequence_last_value(seq::regclass), 0) < seqfloor THEN
                PERFORM setval(seq::regclass, seqfloor);
            END IF;
        END LOOP;
        RETURN NULL;
    END IF;

    IF TG_OP = 'TRUNCATE' THEN
        FOR seq IN SELECT pg_get_serial_sequence(TG_RELID::regclass::text, k) FROM unnest(TG_ARGV) AS k LOOP
            IF seq IS NOT NULL THEN
                PERFORM set_config('syncsqlite.floor_' || seq::regclass::oid,
                                   coalesce(pg_sequence_last_value(seq::regclass), 0)::text, true);
            END IF;
        END LOOP;
        -- Under REPEATABLE READ or SERIALIZABLE the query below reads the transaction's snapshot, while TRUNCATE also
        -- removes rows committed after it: those would stay on every client for good (TodayFourthReviewTest).
        -- Under READ COMMITTED it reads after TRUNCATE's lock, which no writer gets past.
        IF current_setting('transaction_isolation') <> 'read committed' THEN
            RAISE EXCEPTION 'TRUNCATE of synced table % needs READ COMMITTED isolation', TG_TABLE_NAME
                USING ERRCODE = '0A000',
                      HINT = 'Under ' || upper(current_setting('transaction_isolation')) || ' its capture cannot see rows'
                          || ' committed after the transaction''s snapshot, which TRUNCATE removes too: use DELETE, or'
                          || ' TRUNCATE in a READ COMMITTED transaction.';
        END IF;
        -- A BEFORE TRUNCATE trigger: the rows are still there, and each is logged as a direct DELETE of it would be
        -- (below). Without it a TRUNCATE in psql left every client with the rows for good. Dynamic, because its
        -- source is the table, not a transition table; only here, because planning it again each time cost a
        -- one-row DELETE 0.34 ms more (0.49 against 0.83 ms). The relay never truncates: no relay mode. A
        -- partitioned table holds no rows itself: its partitions' are read through it, and TRUNCATE ONLY of one is
        -- an error anyway.
        EXECUTE format($q$
        WITH o AS MATERIALIZED (
            SELECT y.pk, CASE WHEN $2 THEN syncsqlite.clock_key(y.pk) ELSE y.pk::text END AS ck, y.ord, y.img,
                   CASE WHEN $4 IS NOT NULL THEN (SELECT jsonb_object_agg(k, y.img -> k) FROM unnest($4) AS k) END AS old
            FROM (SELECT to_jsonb(r.*) AS img, to_jsonb(r.*) - $3 AS pk, row_number() OVER () AS ord FROM %s AS r) AS y),
        clock AS (
            INSERT INTO syncsqlite.row_clock AS rc (tbl, pk, alive, alive_hlc, alive_node, cols, dead_old, dead_row, dead_xid)
            SELECT $1, o.ck, false, $5, '~pg', '{}', o.old, o.img, pg_current_xact_id() FROM o
            ON CONFLICT (tbl, pk) DO UPDATE
                SET alive = false,
                    alive_hlc = greatest(excluded.alive_hlc, 1 + CASE
                        WHEN rc.cols = '{}' THEN rc.alive_hlc
                        ELSE greatest(rc.alive_hlc, (SELECT max((c.value ->> 0)::bigint) FROM jsonb_each(rc.cols) AS c
                                                     WHERE c.key = ANY ($6))) END),
                    alive_node = excluded.alive_node, dead_old = excluded.dead_old, dead_row = excluded.dead_row,
                    cascaded = NULL, dead_xid = excluded.dead_xid
            RETURNING rc.pk, rc.alive_hlc)
        INSERT INTO syncsqlite.change (tbl, kind, pk, "row", hlc, old)
        SELECT $1, 'D', o.pk, NULL, clock.alive_hlc, o.old FROM o JOIN clock ON clock.pk = o.ck ORDER BY o.ord
        $q$, CASE WHEN (SELECT relkind FROM pg_class WHERE oid = TG_RELID) = 'p' THEN '' ELSE 'ONLY ' END
             || TG_RELID::regclass::text)
        USING tname, numkey, nonpk, scols, now_hlc, allcols;
        RETURN NULL;
    END IF;

    -- A key a statement frees can be taken again before its AFTER trigger runs: by the INSERT of a writable CTE
    -- whose DELETE or UPDATE nobody reads (PostgreSQL runs that one last, and fires its trigger last), or, on a
    -- deferrable key, by an earlier statement of the transaction (two rows held it for a while). Logged as gone,
    -- the key's row would be deleted on every client and its clock marked dead while PostgreSQL has it
    -- (PgWriteShapesReviewTest). Such a key had a 'U' logged earlier in this transaction, which is cheap to rule
    -- out (the change log's index on xid; nothing at all for a statement that is its transaction); only then is the
    -- table itself asked, with a dynamic query (keys_present). The relay never frees and retakes a key so.
    -- An UPDATE's kept keys are left out first: an insert then an update of the row in one transaction is common.
    IF NOT relay_mode AND EXISTS (SELECT FROM syncsqlite.change AS ch WHERE ch.xid = pg_current_xact_id() AND ch.tbl = tname) THEN
        IF TG_OP = 'DELETE' THEN
            SELECT array_agg(DISTINCT g.pk) INTO retaken
            FROM (SELECT to_jsonb(r.*) - nonpk AS pk FROM syncsqlite_old AS r) AS g
            WHERE EXISTS (SELECT FROM syncsqlite.change AS ch
                          WHERE ch.xid = pg_current_xact_id() AND ch.tbl = tname AND ch.kind = 'U' AND ch.pk = g.pk);
        ELSE
            SELECT array_agg(DISTINCT g.pk) INTO retaken
            FROM (SELECT to_jsonb(r.*) - nonpk AS pk FROM syncsqlite_old AS r) AS g
            WHERE NOT EXISTS (SELECT FROM syncsqlite_new AS r WHERE to_jsonb(r.*) - nonpk = g.pk)
              AND EXISTS (SELECT FROM syncsqlite.change AS ch
                          WHERE ch.xid = pg_current_xact_id() AND ch.tbl = tname AND ch.kind = 'U' AND ch.pk = g.pk);
        END IF;
        IF retaken IS NOT NULL THEN
            retaken := syncsqlite.keys_present(TG_RELID, TG_ARGV, retaken);
        END IF;
    END IF;

    IF TG_OP = 'DELETE' THEN
        -- As for INSERT, a direct delete's clock (later than every clock of the row) is decided in the upsert.
        WITH o AS MATERIALIZED (
            SELECT y.pk, CASE WHEN numkey THEN syncsqlite.clock_key(y.pk) ELSE y.pk::text END AS ck, y.ord, y.old, y.img
            FROM (SELECT x.img, x.img - nonpk AS pk, x.ord,
                         CASE WHEN scols IS NOT NULL THEN (SELECT jsonb_object_agg(k, x.img -> k) FROM unnest(scols) AS k) END AS old
                  FROM (SELECT to_jsonb(r.*) AS img, row_number() OVER () AS ord FROM syncsqlite_old AS r) AS x) AS y
            WHERE retaken IS NULL OR y.pk <> ALL (retaken)),
        clock AS (
            INSERT INTO syncsqlite.row_clock AS rc (tbl, pk, alive, alive_hlc, alive_node, cols, dead_old, dead_row, cascaded,
                                                    dead_xid)
            SELECT tname, o.ck, false, CASE WHEN relay_mode THEN h ELSE now_hlc END,
                   CASE WHEN relay_mode THEN node ELSE '~pg' END, '{}', o.old, o.img,
                   -- In relay mode, every row the relay does not name in a delete went with another row: it
                   -- sets its own deletes' false afterwards. A direct delete cannot tell (NULL: the relay
                   -- looks for the parent's delete in dead_xid's transaction when it needs to know).
                   CASE WHEN relay_mode THEN true END, pg_current_xact_id() FROM o
            ON CONFLICT (tbl, pk) DO UPDATE
                SET alive = false,
                    alive_hlc = CASE WHEN relay_mode THEN excluded.alive_hlc
                                     ELSE greatest(excluded.alive_hlc, 1 + CASE
                                        WHEN rc.cols = '{}' THEN rc.alive_hlc
                                        WHEN wide THEN greatest(rc.alive_hlc, (SELECT max((c.value ->> 0)::bigint) FROM jsonb_each(rc.cols) AS c
                                                                               WHERE c.key = ANY (allcols)))
                                        ELSE greatest(rc.alive_hlc, (SELECT max((rc.cols -> k ->> 0)::bigint) FROM unnest(allcols) AS k)) END) END,
                    alive_node = excluded.alive_node, dead_old = excluded.dead_old, dead_row = excluded.dead_row,
                    cascaded = excluded.cascaded, dead_xid = excluded.dead_xid
            RETURNING rc.pk, rc.alive_hlc)
        INSERT INTO syncsqlite.change (tbl, kind, pk, "row", hlc, old)
        SELECT tname, 'D', o.pk, NULL, clock.alive_hlc, o.old FROM o JOIN clock ON clock.pk = o.ck ORDER BY o.ord;
        RETURN NULL;
    END IF;

    -- UPDATE. Keys are unique among the old rows and among the new rows (once the versions a cascade made of rows
    -- the statement had already changed are left out, below), so the three groups (gone, kept, new) have distinct
    -- keys and one upsert can stamp them all. A foreign key of the table to itself that acts on update (twice)
    -- changes rows the statement changed: UPDATE emp SET id = id + 10 with boss REFERENCES emp ON UPDATE CASCADE
    -- moves 2 to 12, then the cascade sets 12's boss, and the transition tables hold both versions of 12. The upsert
    -- below then met key 12 twice and failed the application's statement (PgSideReviewTest).
    -- A query of its own, for updates only: folded into the one above (as a join or a filter) it cost more.
    SELECT array_agg(DISTINCT a.attname::text) FILTER (WHERE con.confdeltype IN ('c', 'n', 'd')),
           coalesce(bool_or(con.confrelid = TG_RELID AND con.confupdtype IN ('c', 'n', 'd')), false)
    INTO fkcols, twice FROM pg_constraint AS con
    JOIN pg_attribute AS a ON a.attrelid = con.conrelid AND a.attnum = ANY (con.conkey)
    WHERE con.conrelid = TG_RELID AND con.contype = 'f';
    IF relay_mode AND fkcols IS NOT NULL THEN
        -- The relay writes the clocks of the rows it changes after this statement, keeping moved. Apart from
        -- the statement below, one key at a time (moves are few): as a part of it, joined with row_clock, it was
        -- planned as a scan of all of row_clock (10 ms per 100-row relay insert at 50,000 rows), and as an
        -- array of keys it was planned again on every direct update (three times their cost).
        FOR mkey, mmoved IN
            SELECT m.ck, m.moved FROM (
                SELECT CASE WHEN numkey THEN syncsqlite.clock_key(n.pk) ELSE n.pk::text END AS ck,
                       (SELECT jsonb_object_agg(k, jsonb_build_array(pg_current_xact_id()::text, node))
                        FROM unnest(fkcols) AS k WHERE n.img -> k IS DISTINCT FROM o.img -> k AND n.img -> k <> 'null') AS moved
                FROM (SELECT i.img, i.img - nonpk AS pk FROM (SELECT to_jsonb(r.*) AS img FROM syncsqlite_new AS r) AS i) AS n
                JOIN (SELECT i.img, i.img - nonpk AS pk FROM (SELECT to_jsonb(r.*) AS img FROM syncsqlite_old AS r) AS i) AS o
                  ON o.pk = n.pk) AS m
            WHERE m.moved IS NOT NULL
        LOOP
            UPDATE syncsqlite.row_clock SET moved = coalesce(moved, '{}') || mmoved WHERE tbl = tname AND pk = mkey AND alive;
        END LOOP;
    END IF;
    WITH oa AS MATERIALIZED (
        SELECT i.img, i.img - nonpk AS pk, i.ord
        FROM (SELECT to_jsonb(r.*) AS img, row_number() OVER () AS ord FROM syncsqlite_old AS r) AS i),
    na AS MATERIALIZED (
        SELECT i.img, i.img - nonpk AS pk, i.ord
        FROM (SELECT to_jsonb(r.*) AS img, row_number() OVER () AS ord FROM syncsqlite_new AS r) AS i),
    -- With twice, the cascade's updates of rows the statement already changed are in the transition tables too,
    -- after the statement's own (old and new side by side, one pair per row update): an old version is left out
    -- when an earlier update of the statement made it (the same whole image: by key alone, a swap of two keys on
    -- a deferrable key lost key 2's real old version to the new version key 1 became, and key 2 was taken for a
    -- new row, every column stamped anew; PgWriteShapesReviewTest), and a row's new image is its last version.
    -- Joined on grouped first and last versions (empty without twice) rather than looked up per row with NOT
    -- EXISTS and an inequality, which no plan can hash: that was quadratic in the statement's rows.
    nfi AS MATERIALIZED (
        SELECT na.img, min(na.ord) AS first FROM na WHERE twice GROUP BY na.img),
    nl AS MATERIALIZED (
        SELECT na.pk, max(na.ord) AS last FROM na WHERE twice GROUP BY na.pk),
    o AS MATERIALIZED (
        SELECT oa.img, oa.pk FROM oa LEFT JOIN nfi ON nfi.img = oa.img WHERE nfi.first IS NULL OR nfi.first >= oa.ord),
    n AS MATERIALIZED (
        SELECT na.img, na.pk FROM na LEFT JOIN nl ON nl.pk = na.pk WHERE nl.last IS NULL OR nl.last = na.ord),
    ev AS MATERIALIZED (
        SELECT e.ord, e.kind, e.pk, e.ck, e.img, e.old, e.gone,
               -- The foreign key columns through which a kept key moved under another parent (set to another
               -- value, not NULL), with this transaction and node; NULL when none.
               CASE WHEN fkcols IS NOT NULL AND e.old IS NOT NULL THEN (
                   SELECT jsonb_object_agg(k, jsonb_build_array(pg_current_xact_id()::text,
                                                                CASE WHEN relay_mode THEN node ELSE '~pg' END))
                   FROM unnest(fkcols) AS k WHERE e.img -> k IS DISTINCT FROM e.old -> k AND e.img -> k <> 'null') END AS moved,
               CASE WHEN relay_mode THEN h ELSE greatest(now_hlc, coalesce((
                   SELECT 1 + CASE
                       WHEN rc.cols = '{}' THEN rc.alive_hlc
                       WHEN wide THEN greatest(rc.alive_hlc, (SELECT max((c.value ->> 0)::bigint) FROM jsonb_each(rc.cols) AS c
                                                              WHERE c.key = ANY (allcols)))
                       ELSE greatest(rc.alive_hlc, (SELECT max((rc.cols -> k ->> 0)::bigint) FROM unnest(allcols) AS k)) END
                   FROM syncsqlite.row_clock AS rc
                   WHERE rc.tbl = tname AND rc.pk = e.ck), 0)) END AS h
        FROM (SELECT d.*, CASE WHEN numkey THEN syncsqlite.clock_key(d.pk) ELSE d.pk::text END AS ck FROM (
              SELECT 0 AS ord, 'D' AS kind, o.pk, NULL::jsonb AS img, NULL::jsonb AS old, o.img AS gone
              FROM o WHERE NOT EXISTS (SELECT FROM n WHERE n.pk = o.pk) AND (retaken IS NULL OR o.pk <> ALL (retaken))
              UNION ALL
              SELECT 1, 'U', n.pk, n.img, o.img, NULL FROM n LEFT JOIN o ON o.pk = n.pk) AS d) AS e),
    logged AS (
        INSERT INTO syncsqlite.change (tbl, kind, pk, "row", hlc, old)
        SELECT tname, ev.kind, ev.pk, ev.img, ev.h,
               CASE WHEN scols IS NULL THEN NULL
                    WHEN ev.kind = 'D' THEN (SELECT jsonb_object_agg(k, ev.gone -> k) FROM unnest(scols) AS k)
                    -- '{}' when none changed: an update, as distinct from a new row (NULL).
                    WHEN ev.old IS NOT NULL THEN coalesce((SELECT jsonb_object_agg(k, ev.old -> k) FROM unnest(scols) AS k
                                                  WHERE ev.old -> k IS DISTINCT FROM ev.img -> k), '{}') END
        FROM ev ORDER BY ev.ord)
    -- alive with alive_node '' marks a kept key: its existence clock stays (a row that existed before syncsqlite
    -- was installed gets alive_hlc 0, no existence clock); only its changed columns are stamped.
    INSERT INTO syncsqlite.row_clock AS rc (tbl, pk, alive, alive_hlc, alive_node, cols, dead_old, dead_row,
                                            born, born_node, moved)
    SELECT tname, ev.ck, ev.kind = 'U',
           CASE WHEN ev.kind = 'U' AND ev.old IS NOT NULL THEN 0 ELSE ev.h END,
           CASE WHEN ev.kind = 'U' AND ev.old IS NOT NULL THEN '' WHEN relay_mode THEN node ELSE '~pg' END,
           CASE WHEN ev.kind = 'D' THEN '{}'::jsonb
                WHEN ev.old IS NULL THEN (SELECT coalesce(jsonb_object_agg(k, jsonb_build_array(ev.h, '~pg')), '{}')
                                          FROM unnest(nonpk) AS k)
                ELSE (SELECT coalesce(jsonb_object_agg(c.key, jsonb_build_array(ev.h, '~pg')), '{}')
                      FROM jsonb_each(ev.img) AS c
                      WHERE c.key = ANY (nonpk) AND c.value IS DISTINCT FROM ev.old -> c.key) END,
           CASE WHEN ev.kind = 'D' AND scols IS NOT NULL THEN (SELECT jsonb_object_agg(k, ev.gone -> k)
                                                               FROM unnest(scols) AS k) END,
           ev.gone,
           CASE WHEN ev.kind = 'U' AND ev.old IS NULL THEN pg_current_xact_id() END,
           CASE WHEN ev.kind = 'U' AND ev.old IS NULL THEN '~pg' END,
           ev.moved
    FROM ev
    WHERE NOT relay_mode OR ev.kind = 'D'
    ON CONFLICT (tbl, pk) DO UPDATE
        SET born = CASE WHEN excluded.born IS NOT NULL AND NOT rc.alive THEN excluded.born ELSE rc.born END,
            born_node = CASE WHEN excluded.born IS NOT NULL AND NOT rc.alive THEN excluded.born_node ELSE rc.born_node END,
            moved = CASE WHEN excluded.moved IS NOT NULL THEN coalesce(rc.moved, '{}') || excluded.moved
                         WHEN excluded.born IS NOT NULL AND NOT rc.alive THEN NULL ELSE rc.moved END,
            alive = CASE WHEN excluded.alive AND excluded.alive_node = '' THEN rc.alive ELSE excluded.alive END,
            alive_hlc = CASE WHEN excluded.alive AND excluded.alive_node = '' THEN rc.alive_hlc ELSE excluded.alive_hlc END,
            alive_node = CASE WHEN excluded.alive AND excluded.alive_node = '' THEN rc.alive_node ELSE excluded.alive_node END,
            cols = rc.cols || excluded.cols,
            dead_old = CASE WHEN excluded.alive THEN rc.dead_old ELSE excluded.dead_old END,
            dead_row = CASE WHEN excluded.alive THEN NULL ELSE excluded.dead_row END;
    RETURN NULL;
END
$fn$;
