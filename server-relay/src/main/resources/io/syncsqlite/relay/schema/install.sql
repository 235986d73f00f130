-- The relay's objects in PostgreSQL (docs/DESIGN.md, "PostgreSQL side"). Idempotent: SchemaInstaller
-- runs this on every start, inside one transaction that holds an advisory lock, so relays starting at
-- the same time do not race on CREATE ... IF NOT EXISTS. Per-table triggers are created by
-- SchemaInstaller itself, because they need each table's primary key columns.

CREATE SCHEMA IF NOT EXISTS syncsqlite;

-- Merge clocks: the existence clock of a row and one [hlc, node] per column.
CREATE TABLE IF NOT EXISTS syncsqlite.row_clock (
    tbl        text    NOT NULL,
    pk         jsonb   NOT NULL,
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
CREATE INDEX IF NOT EXISTS change_xid_idx ON syncsqlite.change (xid);

-- One row per committed transaction that touched a synced table, numbered in commit order.
CREATE TABLE IF NOT EXISTS syncsqlite.commit_log (
    seq          bigint      PRIMARY KEY,
    xid          xid8        NOT NULL UNIQUE,
    committed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Idempotent apply: the last client transaction applied per node and its feed position.
CREATE TABLE IF NOT EXISTS syncsqlite.client (
    node        text   PRIMARY KEY,
    applied_tx  bigint NOT NULL DEFAULT 0,
    applied_seq bigint NOT NULL DEFAULT 0
);

CREATE SEQUENCE IF NOT EXISTS syncsqlite.commit_seq;

-- The newest timestamp among a row's clocks.
CREATE OR REPLACE FUNCTION syncsqlite.row_hlc(p_alive_hlc bigint, p_cols jsonb) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
    SELECT greatest(p_alive_hlc, (SELECT max((e.value ->> 0)::bigint) FROM jsonb_each(p_cols) AS e))
$fn$;

-- The HLC of a direct (non-relay) write: now in HLC format, but later than every clock the row already
-- has, so that a direct write always orders after what it overwrote even if a client clock runs ahead.
CREATE OR REPLACE FUNCTION syncsqlite.direct_hlc(p_tbl text, p_pk jsonb) RETURNS bigint
LANGUAGE sql VOLATILE AS $fn$
    SELECT greatest(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint << 16,
                    coalesce((SELECT syncsqlite.row_hlc(rc.alive_hlc, rc.cols) + 1
                              FROM syncsqlite.row_clock AS rc
                              WHERE rc.tbl = p_tbl AND rc.pk = p_pk), 0))
$fn$;

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
-- It fires once per written row at commit; all but the first only find the mark already made, which is
-- checked here so they skip the call (and the SECURITY DEFINER switch) altogether.
CREATE OR REPLACE FUNCTION syncsqlite.commit_mark_trigger() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    IF coalesce(current_setting('syncsqlite.seq', true), '') = '' THEN
        PERFORM syncsqlite.commit_mark();
    END IF;
    RETURN NULL;
END
$fn$;

-- Row capture. Trigger arguments: the table's primary key column names.
-- Relay mode (the relay did SET LOCAL syncsqlite.hlc/node): log the row image with the client's HLC;
-- only deletes are stamped here (that covers ON DELETE CASCADE children), the relay stamps the columns
-- it writes itself. Direct mode: stamp the clocks of what changed with direct_hlc and node '~pg'.
CREATE OR REPLACE FUNCTION syncsqlite.capture() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    -- TG_TABLE_NAME is of type name: compared with row_clock.tbl (text) after inlining, it would
    -- cost the primary key index and turn every stamp into a sequential scan.
    tname      text    := TG_TABLE_NAME;
    relay_hlc  text    := current_setting('syncsqlite.hlc', true);
    relay_mode boolean := relay_hlc IS NOT NULL AND relay_hlc <> '';
    new_row    jsonb;
    old_row    jsonb;
    new_pk     jsonb;
    old_pk     jsonb;
    h          bigint;
    node       text;
    stamped    jsonb;
BEGIN
    -- A one-column key (the common case) is built without a query: this runs for every row.
    IF TG_OP <> 'DELETE' THEN
        new_row := to_jsonb(NEW);
        IF TG_NARGS = 1 THEN
            new_pk := jsonb_build_object(TG_ARGV[0], new_row -> TG_ARGV[0]);
        ELSE
            SELECT jsonb_object_agg(k, new_row -> k) INTO new_pk FROM unnest(TG_ARGV) AS k;
        END IF;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        old_row := to_jsonb(OLD);
        IF TG_NARGS = 1 THEN
            old_pk := jsonb_build_object(TG_ARGV[0], old_row -> TG_ARGV[0]);
        ELSE
            SELECT jsonb_object_agg(k, old_row -> k) INTO old_pk FROM unnest(TG_ARGV) AS k;
        END IF;
    END IF;
    IF relay_mode THEN
        h := relay_hlc::bigint;
        node := current_setting('syncsqlite.node', true);
    END IF;

    -- The old key is gone: a delete, or an update that moved the row to another key.
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND old_pk IS DISTINCT FROM new_pk) THEN
        IF NOT relay_mode THEN
            h := syncsqlite.direct_hlc(tname, old_pk);
            node := '~pg';
        END IF;
        INSERT INTO syncsqlite.change (tbl, kind, pk, "row", hlc) VALUES (tname, 'D', old_pk, NULL, h);
        INSERT INTO syncsqlite.row_clock AS rc (tbl, pk, alive, alive_hlc, alive_node, cols)
        VALUES (tname, old_pk, false, h, node, '{}')
        ON CONFLICT (tbl, pk) DO UPDATE
            SET alive = false, alive_hlc = excluded.alive_hlc, alive_node = excluded.alive_node;
        IF TG_OP = 'DELETE' THEN
            RETURN NULL;
        END IF;
    END IF;

    IF NOT relay_mode THEN
        h := syncsqlite.direct_hlc(tname, new_pk);
        IF TG_OP = 'UPDATE' AND old_pk = new_pk THEN
            SELECT coalesce(jsonb_object_agg(n.key, jsonb_build_array(h, '~pg')), '{}') INTO stamped
            FROM jsonb_each(new_row) AS n
            WHERE n.key <> ALL (TG_ARGV) AND n.value IS DISTINCT FROM old_row -> n.key;
            -- alive_hlc 0: a row that existed before syncsqlite was installed has no existence clock.
            INSERT INTO syncsqlite.row_clock AS rc (tbl, pk, alive, alive_hlc, alive_node, cols)
            VALUES (tname, new_pk, true, 0, '', stamped)
            ON CONFLICT (tbl, pk) DO UPDATE SET cols = rc.cols || excluded.cols;
        ELSE
            SELECT coalesce(jsonb_object_agg(k, jsonb_build_array(h, '~pg')), '{}') INTO stamped
            FROM jsonb_object_keys(new_row) AS k
            WHERE k <> ALL (TG_ARGV);
            INSERT INTO syncsqlite.row_clock AS rc (tbl, pk, alive, alive_hlc, alive_node, cols)
            VALUES (tname, new_pk, true, h, '~pg', stamped)
            ON CONFLICT (tbl, pk) DO UPDATE
                SET alive = true, alive_hlc = excluded.alive_hlc, alive_node = excluded.alive_node,
                    cols = rc.cols || excluded.cols;
        END IF;
    END IF;
    INSERT INTO syncsqlite.change (tbl, kind, pk, "row", hlc) VALUES (tname, 'U', new_pk, new_row, h);
    RETURN NULL;
END
$fn$;
